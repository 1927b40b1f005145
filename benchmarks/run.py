"""Hook-response benchmark over real HTTP: `python -m benchmarks.run [--smoke] [--json PATH]`.

Starts the service as production runs it (uvicorn, one worker, `--no-server-header`, httptools + uvloop,
SQLite ledger with its synchronous commit, `CDS_AUTH_MODE=off`, `CDS_TODAY=2026-11-25`) and, in the same run,
a baseline FastAPI app (`benchmarks/baseline.py`) under the same uvicorn settings that only `json.loads` the
identical request bytes. A concurrent httpx load generator sends a fixed number of requests per case (after
a warm-up, bounded in time) and reports p50/p95/p99, throughput, errors and the ratio to the baseline's p50
for the same payload; the service's peak RSS comes from /proc/<pid>/status (VmHWM). Service and baseline
are measured in alternating rounds (10 for the small payloads), so machine drift hits both alike.

Cases: 1 unrelated order (atorvastatin), 2 typical naltrexone order-sign (~150 prefetched resources),
3 heavy (~2,000), 4 extreme (~20,000 observations), 5 typical with no prefetch against a local FHIR server
(sekmet-fhir, `bash scripts/install-test-deps.sh`), 6 the baseline with the same bytes as each payload.

Two settings differ from the defaults. `CDS_MAX_BODY_BYTES` (64 MB): the extreme request is ~20 MB, four
times the default 5 MB limit, and would otherwise be refused with 413 before any work. `CDS_FHIR_ALLOW_HTTP`
(`loopback`): the local FHIR server is plain http.

`--smoke` sends a few requests per case, skips the FHIR server and exits non-zero only if a request fails
(CI); no thresholds are asserted anywhere: the table is for people.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks import patients
from tests.support.uvicorn_server import ROOT, UvicornServer

RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
SERVICE = "/cds-services/naltrexone-order-sign"
MAX_BODY = 64 * 1024 * 1024


class AppServer(UvicornServer):
    """UvicornServer for any ASGI app path (the baseline), with exactly the service's uvicorn flags."""

    def __init__(self, app_path: str, env: dict[str, str], **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self.app_path = app_path

    def __enter__(self) -> AppServer:
        if self.app_path == "cds_service.app:app":
            super().__enter__()
            return self
        original = subprocess.Popen

        def popen(args: list[str], *a: Any, **kw: Any) -> subprocess.Popen[bytes]:
            args = [self.app_path if x == "cds_service.app:app" else x for x in args]
            return original(args, *a, **kw)

        subprocess.Popen = popen  # type: ignore[misc]  # only for the Popen in UvicornServer.__enter__
        try:
            super().__enter__()
        finally:
            subprocess.Popen = original  # type: ignore[misc]
        return self


@dataclass
class Case:
    name: str
    payload: str  # which payload's bytes (typical / heavy / extreme / unrelated / typical-no-prefetch)
    target: str  # "service" | "baseline"
    requests: int
    warmup: int
    concurrency: int
    time_budget: float  # seconds: stop early (and say so) when exceeded
    rounds: int = 1  # measured in this many batches, each followed by the baseline's (see `measure_pair`)


@dataclass
class Result:
    case: str
    payload: str
    target: str
    payload_kb: float
    resources: int
    requests: int
    concurrency: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    req_per_s: float | None
    errors: int
    status: str  # "ok" | "errors" | "not available: ..."
    ratio_p50: float | None = None  # p50 / the baseline's p50 for the same payload and connections
    cards: str = ""  # rule ids the service answered (proves the rules ran)
    rss_after_mb: float | None = None


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def proc_status_mb(pid: int, field_name: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_at_start": load}


class Load:
    """Keep-alive connections to one server; `batch` sends requests over them and records latencies (ms)."""

    def __init__(self, url: str, body: bytes, case: Case, headers: dict[str, str]) -> None:
        self.url, self.body, self.case = url, body, case
        limits = httpx.Limits(max_connections=case.concurrency, max_keepalive_connections=case.concurrency)
        self.client = httpx.AsyncClient(limits=limits, timeout=60.0, headers=headers)
        self.latencies: list[float] = []
        self.errors = 0
        self.elapsed = 0.0
        self.cards = ""

    async def one(self, record: bool) -> None:
        t0 = time.perf_counter()
        try:
            r = await self.client.post(self.url, content=self.body)
            ok = r.status_code == 200
        except httpx.HTTPError:
            ok, r = False, None
        dt = (time.perf_counter() - t0) * 1000
        if not ok:
            self.errors += 1
            if self.errors <= 3:
                detail = r.text[:300] if r is not None else "transport error"
                print(f"  ! {self.case.name}: HTTP {r.status_code if r is not None else '-'} {detail}",
                      file=sys.stderr)
        elif record:
            self.latencies.append(dt)
            if not self.cards:
                cards = r.json().get("cards", []) if r is not None else []
                self.cards = ",".join(sorted(c["source"]["topic"]["code"] for c in cards)) or "(none)"

    async def batch(self, total: int, record: bool, deadline: float) -> None:
        """`total` requests spread over the case's connections, each connection one request at a time."""
        conc = self.case.concurrency

        async def worker(n: int) -> None:
            for _ in range(n):
                if time.perf_counter() > deadline:
                    return
                await self.one(record)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(total // conc + (1 if i < total % conc else 0)) for i in range(conc)))
        if record:
            self.elapsed += time.perf_counter() - t0

    async def aclose(self) -> None:
        await self.client.aclose()


async def measure_pair(service: Load, baseline: Load) -> None:
    """Warm both up, then alternate measured batches: service, baseline, service, baseline...

    This shared machine's speed drifts by tens of percent within a minute; measuring the two servers in
    interleaved rounds lets both see the same drift, so the ratio of their p50s stays comparable.
    """
    case = service.case
    warm_deadline = time.perf_counter() + case.time_budget / 3
    for load in (service, baseline):
        await load.batch(case.warmup, False, warm_deadline)
    deadline = time.perf_counter() + 2 * case.time_budget
    rounds = max(1, case.rounds)
    for i in range(rounds):
        for load in (service, baseline):
            share = load.case.requests // rounds + (1 if i < load.case.requests % rounds else 0)
            await load.batch(share, True, deadline)


async def load(url: str, body: bytes, case: Case, headers: dict[str, str]) -> tuple[list[float], int, float, str]:
    """One server on its own (the no-prefetch case): warm up, then `case.requests` measured requests."""
    runner = Load(url, body, case, headers)
    try:
        await runner.batch(case.warmup, False, time.perf_counter() + case.time_budget / 3)
        await runner.batch(case.requests, True, time.perf_counter() + case.time_budget)
    finally:
        await runner.aclose()
    return runner.latencies, runner.errors, runner.elapsed, runner.cards


def summarise(case: Case, body: bytes, resources: int, latencies: list[float], errors: int, elapsed: float,
              cards: str) -> Result:
    values = sorted(latencies)
    done = len(values)
    status = "ok" if errors == 0 else "errors"
    if done < case.requests and errors == 0:
        status = f"ok (time budget: {done}/{case.requests})"
    return Result(
        case=case.name, payload=case.payload, target=case.target, payload_kb=round(len(body) / 1024, 1),
        resources=resources, requests=done, concurrency=case.concurrency,
        p50_ms=round(percentile(values, 50), 2) if values else None,
        p95_ms=round(percentile(values, 95), 2) if values else None,
        p99_ms=round(percentile(values, 99), 2) if values else None,
        max_ms=round(values[-1], 2) if values else None,
        req_per_s=round(done / elapsed, 1) if elapsed > 0 and done else None,
        errors=errors, status=status, cards=cards if case.target == "service" else "",
    )


def plan(smoke: bool, only: str | None = None) -> list[tuple[Case, Case]]:
    """(service case, baseline case) pairs, measured in interleaved rounds."""
    def c(name: str, payload: str, n: int, warm: int, conc: int, budget: float, rounds: int) -> tuple[Case, Case]:
        if smoke:
            n, warm, budget, rounds = min(n, 3), 1, 30.0, 1
        return (Case(name, payload, "service", n, warm, conc, budget, rounds),
                Case(f"baseline/{payload}", payload, "baseline", n, warm, conc, budget, rounds))

    pairs = [
        c("1 unrelated order", "unrelated", 1000, 100, 4, 25.0, 10),
        c("2 typical order-sign", "typical", 1000, 100, 4, 25.0, 10),
        # one connection: the latency one EHR sees, without queueing behind the other connections
        c("2b typical, 1 connection", "typical", 400, 40, 1, 25.0, 10),
        c("3 heavy order-sign", "heavy", 150, 10, 2, 25.0, 5),
        c("3b heavy, 1 connection", "heavy", 100, 5, 1, 25.0, 5),
        c("4 extreme order-sign", "extreme", 12, 1, 1, 40.0, 3),
    ]
    return [pair for pair in pairs if only is None or pair[0].payload in only.split(",")]


def fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def print_table(results: list[Result], rss_peak: float | None, info: dict[str, Any], notes: list[str]) -> None:
    head = (f"{'case':<28} {'KB':>8} {'res':>6} {'reqs':>5} {'conc':>4} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'p99 ms':>8} {'req/s':>7} {'err':>4} {'p50/base':>8}  cards / status")
    print(head)
    print("-" * len(head))
    for r in results:
        tail = r.cards if r.status == "ok" else f"{r.status} {r.cards}".strip()
        print(f"{r.case:<28} {r.payload_kb:>8.1f} {r.resources:>6} {r.requests:>5} {r.concurrency:>4} "
              f"{fmt(r.p50_ms, 2):>8} {fmt(r.p95_ms, 2):>8} {fmt(r.p99_ms, 2):>8} {fmt(r.req_per_s):>7} "
              f"{r.errors:>4} {fmt(r.ratio_p50, 2):>8}  {tail}")
    print(f"\nservice peak RSS (VmHWM): {fmt(rss_peak)} MB")
    for note in notes:
        print(note)
    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']} ({info['platform']}), "
          f"load average at start {info['loadavg_at_start']}")


async def fhir_case(service_url: str, smoke: bool, notes: list[str]) -> list[Result]:
    """Case 5: typical patient, no prefetch, the service reads sekmet-fhir. 'not available' when it cannot."""
    name = "5 typical, no prefetch (FHIR)"
    empty = Result(name, "typical-no-prefetch", "service", 0.0, 0, 0, 1, None, None, None, None, None, 0,
                   "not available")
    if smoke:
        empty.status = "not available: skipped in --smoke"
        return [empty]
    try:
        from tests.support.servers import FhirServer

        fhir = FhirServer()
        fhir.start()
    except Exception as err:  # reported as "not available", never fatal
        empty.status = f"not available: FHIR server did not start ({str(err).splitlines()[0][:160]})"
        return [empty]
    try:
        tx = patients.transaction_bundle("typical")
        fhir.load(tx)
        request = patients.order_sign("typical", with_prefetch=False)
        request["fhirServer"] = fhir.base_url
        request["fhirAuthorization"] = {"access_token": fhir.token, "token_type": "Bearer", "expires_in": 3600,
                                        "scope": "patient/*.read", "subject": "cds-naltrexone"}
        body = patients.request_bytes(request)
        headers = {"content-type": "application/json"}
        async with httpx.AsyncClient(timeout=30.0) as client:
            probe = await client.post(service_url + SERVICE, content=body, headers=headers)
        if probe.status_code != 200:
            empty.status = (f"not available: the service answered HTTP {probe.status_code} without prefetch "
                            f"(FHIR fallback not implemented yet?): {probe.text[:160]}")
            return [empty]
        # the slowest single query the service has to make, measured directly against the FHIR server
        from cds_service.fhir.client import with_page_size
        from cds_service.hooks.prefetch import fill_tokens
        from cds_service.rules.naltrexone.pack import NaltrexonePack
        from cds_service.settings import Settings

        page_size = Settings.model_fields["fhir_page_size"].default
        # exactly the URLs the service asks for (searches with its `_count`)
        queries = {t.key: with_page_size(fill_tokens(t.query, request["context"]), page_size)
                   for t in NaltrexonePack().prefetch}
        per_query: dict[str, list[float]] = {k: [] for k in queries}
        async with httpx.AsyncClient(base_url=fhir.base_url + "/", headers=fhir.headers, timeout=30.0) as client:
            for _ in range(3):
                await asyncio.gather(*(client.get(q) for q in queries.values()))  # warm-up
            for _ in range(15):
                for key, q in queries.items():
                    t0 = time.perf_counter()
                    r = await client.get(q)
                    per_query[key].append((time.perf_counter() - t0) * 1000)
                    r.raise_for_status()
            # the same queries all at once, straight from this client: the floor for any concurrent reader
            # of this server (a single Python process: it answers them one after another)
            together: list[float] = []
            for _ in range(15):
                t0 = time.perf_counter()
                await asyncio.gather(*(client.get(q) for q in queries.values()))
                together.append((time.perf_counter() - t0) * 1000)
        medians = {k: sorted(v)[len(v) // 2] for k, v in per_query.items()}
        slowest = max(medians, key=medians.get)  # type: ignore[arg-type]
        together_p50 = sorted(together)[len(together) // 2]
        case = Case(name, "typical-no-prefetch", "service", 60, 5, 1, 40.0)
        latencies, errors, elapsed, cards = await load(service_url + SERVICE, body, case, headers)
        result = summarise(case, body, patients.resource_count(patients.order_sign("typical")), latencies, errors,
                           elapsed, cards)
        result.status = (result.status + f"; slowest single query p50 {medians[slowest]:.1f} ms ({slowest}); "
                         f"all {len(queries)} at once, direct: {together_p50:.1f} ms")
        notes.append("case 5 single-query p50 (ms, sequential, direct to sekmet): "
                     + ", ".join(f"{k} {v:.1f}" for k, v in medians.items())
                     + f"; all {len(queries)} concurrently, direct from the load generator: p50 {together_p50:.1f}")
        return [result]
    finally:
        fhir.stop()


async def run(smoke: bool, json_path: Path, only: str | None = None) -> int:
    info = machine()
    print("... building the payloads (typical, heavy, extreme ~20 MB)", file=sys.stderr, flush=True)
    payloads = {
        "typical": patients.order_sign("typical"),
        "unrelated": patients.order_sign("typical", unrelated=True),
        "heavy": patients.order_sign("heavy"),
        "extreme": patients.order_sign("extreme"),
    }
    bodies = {k: patients.request_bytes(v) for k, v in payloads.items()}
    counts = {k: patients.resource_count(v) for k, v in payloads.items()}
    headers = {"content-type": "application/json"}
    notes: list[str] = []
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="cds-bench-") as tmp:
        env = {
            "CDS_AUTH_MODE": "off",
            "CDS_TODAY": "2026-11-25",
            "CDS_DATABASE_URL": f"sqlite:///{tmp}/ledger.sqlite3",
            "CDS_PATIENT_HASH_KEY": "benchmark-key",
            "CDS_MAX_BODY_BYTES": str(MAX_BODY),
            "CDS_LOG_LEVEL": "INFO",
            "CDS_FHIR_ALLOW_HTTP": "loopback",  # the local FHIR server of case 5 is plain http on 127.0.0.1
        }
        print("... starting the service and the baseline (uvicorn)", file=sys.stderr, flush=True)
        with AppServer("cds_service.app:app", env, log_path=Path(tmp) / "service.log") as service, \
                AppServer("benchmarks.baseline:app", env, log_path=Path(tmp) / "baseline.log") as baseline:
            pid = service.worker_pids()[0]
            notes.append(f"service idle RSS: {fmt(proc_status_mb(pid, 'VmRSS'))} MB")
            for service_case, baseline_case in plan(smoke, only):
                body = bodies[service_case.payload]
                print(f"... {service_case.name} ({len(body) // 1024} KB x {service_case.requests}, "
                      f"{service_case.rounds} rounds with the baseline)", file=sys.stderr, flush=True)
                pair = (Load(service.url + SERVICE, body, service_case, headers),
                        Load(baseline.url + SERVICE, body, baseline_case, headers))
                try:
                    await measure_pair(*pair)
                finally:
                    for runner in pair:
                        await runner.aclose()
                for runner in pair:
                    result = summarise(runner.case, body, counts[runner.case.payload], runner.latencies,
                                       runner.errors, runner.elapsed, runner.cards)
                    if runner.case.target == "service":
                        result.rss_after_mb = proc_status_mb(pid, "VmRSS")
                    results.append(result)
            if only is None or "typical-no-prefetch" in only.split(","):
                print("... 5 typical, no prefetch (FHIR)", file=sys.stderr, flush=True)
                results += await fhir_case(service.url, smoke, notes)
            rss_peak = proc_status_mb(pid, "VmHWM")
            if service.process is not None and service.process.poll() is not None:
                notes.append(f"SERVICE DIED: {service.log_tail()}")
    # each service case is followed by its baseline (same bytes, same connections); the no-prefetch case is
    # compared with the one-connection typical baseline
    base = {(r.payload, r.concurrency): r.p50_ms for r in results if r.target == "baseline"}
    for r in results:
        key = ("typical", 1) if r.payload == "typical-no-prefetch" else (r.payload, r.concurrency)
        ref = base.get(key)
        if r.p50_ms and ref:
            r.ratio_p50 = round(r.p50_ms / ref, 2)
    print_table(results, rss_peak, info, notes)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({"machine": info, "smoke": smoke, "service_peak_rss_mb": rss_peak,
                                     "notes": notes, "results": [asdict(r) for r in results]}, indent=2))
    print(f"written: {json_path}")
    return 1 if any(r.errors for r in results) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few requests per case, no FHIR server (CI)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"write results here (default {RESULTS})")
    parser.add_argument("--only", metavar="PAYLOADS",
                        help="comma-separated payloads to run: unrelated, typical, heavy, extreme, typical-no-prefetch "
                             "(default: all)")
    args = parser.parse_args(argv)
    return asyncio.run(run(args.smoke, args.json, args.only))


if __name__ == "__main__":
    sys.exit(main())
