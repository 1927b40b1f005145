"""A hostile FHIR server on 127.0.0.1: every way a FHIR server can try to hold or exhaust a worker.

The first path segment picks the behaviour, so a hook call's `fhirServer` is `{base_url}/{mode}`:

    drip     sends the headers, then one byte every 50 ms, forever
    endless  a 200 JSON answer that never ends (64 KB chunks as fast as the socket takes them)
    bomb     a gzip bomb: ~100 KB of gzip that inflates to 100 MB of zeros
    redirect 302 to another path of itself (redirects must not be followed)
    foreign  well-formed Bundles whose resources (Patient included) belong to another patient
    huge     a 200 searchset page of ~9 MB (60,000 Observations, unreadable) with a `next` link to more

It is a raw asyncio socket server (no framework between the test and the bytes) in its own process
(`hostile_fhir_server()`), so its busy loops take no CPU time slice or GIL from the service under test.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import orjson

MODES = ("drip", "endless", "bomb", "redirect", "foreign", "huge")
OTHER_PATIENT = "someone-else"


@cache
def gzip_bomb() -> bytes:
    """100 MB of zeros, gzipped once per process (~100 KB)."""
    chunk = bytes(1_000_000)
    gz = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    return b"".join([*(gz.compress(chunk) for _ in range(100)), gz.flush()])


def _searchset(resources: list[dict], next_url: str | None = None) -> bytes:
    bundle: dict = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return orjson.dumps(bundle)


def _foreign(path: str) -> bytes:
    rtype = path.rsplit("/", 1)[-1].split("?", 1)[0]
    if rtype == "Patient" or "/Patient/" in path:
        return orjson.dumps({"resourceType": "Patient", "id": OTHER_PATIENT, "birthDate": "2015-01-01"})
    subject = {"reference": f"Patient/{OTHER_PATIENT}"}
    element = "patient" if rtype == "AllergyIntolerance" else "subject"
    return _searchset([{"resourceType": rtype, "id": f"{rtype.lower()}-{i}", element: subject} for i in range(50)])


@cache
def _huge_page() -> bytes:
    obs = [{"resourceType": "Observation", "id": f"o{i}", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]},
            "valueQuantity": {"value": "high", "unit": "U/L"}, "effectiveDateTime": "2026-11-20"}
           for i in range(60_000)]
    return _searchset(obs, next_url="NEXT")


class HostileFhirServer:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port: int | None = None
        self.requests: list[str] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="hostile-fhir")
        self._server: asyncio.base_events.Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HostileFhirServer:
        gzip_bomb(), _huge_page()  # built before the clock of any test runs
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("hostile FHIR server did not start")
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: several requests per connection
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode("latin-1")
                self.requests.append(target)
                path = urlsplit(target).path
                mode = path.strip("/").split("/", 1)[0]
                if not await self._answer(mode, target, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, IndexError):
            pass
        finally:
            writer.close()

    async def _answer(self, mode: str, target: str, writer: asyncio.StreamWriter) -> bool:
        """Write one answer; False when the connection must end."""
        json_head = b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n"
        if mode == "drip":
            writer.write(json_head + b"Content-Length: 100000000\r\n\r\n")
            while True:
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.05)
        if mode == "endless":
            writer.write(json_head + b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (65536, b'{"resourceType":"Bundle",' + b" " * (65536 - 25))
            while True:
                writer.write(chunk)
                await writer.drain()
        if mode == "bomb":
            body = gzip_bomb()
            writer.write(json_head + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        elif mode == "redirect":
            writer.write(b"HTTP/1.1 302 Found\r\nLocation: /foreign" + target.encode()[len("/redirect"):]
                         + b"\r\nContent-Length: 0\r\n\r\n")
        elif mode == "foreign":
            body = _foreign(target)
            writer.write(json_head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        elif mode == "huge":
            body = _huge_page().replace(b'"NEXT"', orjson.dumps(f"{self.base_url}/huge/Observation?page=2"))
            writer.write(json_head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        else:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        return True


class HostileFhirProcess:
    """The server in its own process: its busy loops (endless, drip) take no GIL from the service tested."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HostileFhirProcess:
        root = Path(__file__).resolve().parents[2]
        self.process = subprocess.Popen([sys.executable, "-m", "tests.support.hostile_fhir"], cwd=root,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "port N" once it listens
        if not line.startswith("port "):
            self.stop()
            raise RuntimeError(f"hostile FHIR server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@contextmanager
def hostile_fhir_server() -> Iterator[HostileFhirProcess]:
    server = HostileFhirProcess().start()
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    running = HostileFhirServer().start()
    print(f"port {running.port}", flush=True)
    threading.Event().wait()
