"""The real service as a separate uvicorn process (one or more workers), for multi-process tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from cds_service.ops.logging_config import UVICORN_LOG_CONFIG_FILE
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


class UvicornServer:
    """`with UvicornServer({"CDS_DATABASE_URL": ...}, workers=2) as server: httpx.get(server.url + ...)`."""

    def __init__(self, env: dict[str, str], *, workers: int = 1, log_path: Path | None = None,
                 startup_timeout: float = 180.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        # json logs unless a test says otherwise: the log guard then checks that every line is JSON
        self.env = {**os.environ, "CDS_PUBLIC_BASE_URL": self.url, "CDS_LOG_FORMAT": "json", **env}
        self._journal_dir: str | None = None
        if "CDS_JOURNAL_DIR" not in self.env:  # its own journal, not ./cds-journal shared by every server
            self._journal_dir = self.env["CDS_JOURNAL_DIR"] = tempfile.mkdtemp(prefix="cds-test-journal-")
        self.log_path = log_path
        # a bound on start-up, not a race: polling returns as soon as the workers answer. Two workers that each
        # import the app took 28 s to start on the shared 2-core machine at a load of ~40 (30 s failed 5 tests)
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> UvicornServer:
        out = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        if self.log_path:
            from tests.security import log_guard

            log_guard.watch_file(self.log_path, json_lines=self.env["CDS_LOG_FORMAT"] == "json")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "cds_service.app:app", "--host", "127.0.0.1", "--port",
             str(self.port), "--workers", str(self.workers), "--no-server-header", "--log-level", "info",
             "--log-config", str(UVICORN_LOG_CONFIG_FILE)],
            cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200 and self._workers_up():
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"uvicorn did not answer within {self.startup_timeout}s: {self.log_tail()}")

    def _workers_up(self) -> bool:
        return self.workers == 1 or len(self.worker_pids()) >= self.workers

    def worker_pids(self) -> list[int]:
        """Worker processes (children of the uvicorn supervisor) when workers > 1, else the server itself."""
        assert self.process is not None
        if self.workers == 1:
            return [self.process.pid]
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        pids = [int(p) for p in found.stdout.split()]
        # multiprocessing may add a resource tracker child: workers are the ones running uvicorn's server
        return [p for p in pids if "resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes().decode(
            errors="replace")] if pids else []

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path and self.log_path.exists():
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log captured)"

    def kill(self) -> None:
        """SIGKILL the whole server (supervisor and workers) at once: no shutdown hooks run."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._journal_dir is not None:
            shutil.rmtree(self._journal_dir, ignore_errors=True)
