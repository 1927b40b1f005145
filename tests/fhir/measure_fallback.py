"""Measure the FHIR fallback against the real sekmet-fhir server: is it concurrent (wall ~ slowest query)?

    .venv/bin/python -m tests.fhir.measure_fallback [scenario] [N]

Starts its own sekmet server, loads the scenario's bundle, then sends the scenario's order-sign N times with NO
prefetch (fhirServer + token only), with the service's default timeouts (0.3 s per request, 0.4 s overall).
Prints p50/p90 of: the whole hook call, the FHIR phase (fetch + Medication reads), the slowest single FHIR
query of the call, and the sum of all its queries (what a sequential client would at least have taken).
"""

from __future__ import annotations

import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.fhir.client import FhirFetcher, FhirFetcherFactory
from cds_service.hooks.request import HookCall
from tests.conftest import Client, load_fixture, make_settings
from tests.support.servers import FhirServer


class RecordingFactory(FhirFetcherFactory):
    """The real factory, keeping the fetchers it made (their `stats` hold per-query timings)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.made: list[FhirFetcher] = []

    def __call__(self, call: HookCall) -> FhirFetcher | None:
        fetcher = super().__call__(call)
        if fetcher is not None:
            self.made.append(fetcher)
        return fetcher


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main(scenario: str = "oxycodone-active", n: int = 50) -> None:
    with FhirServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.load(load_fixture(scenario, "bundle.json"))
        settings = make_settings(Path(tmp), fhir_allow_http="loopback")
        factory = RecordingFactory(settings)
        request = copy.deepcopy(load_fixture(scenario, "order-sign.json"))
        request.pop("prefetch", None)
        request["fhirServer"] = server.base_url
        request["fhirAuthorization"] = {"access_token": server.token, "token_type": "Bearer"}
        rows: list[tuple[float, float, float, float, int, int]] = []
        with TestClient(create_app(settings, fetcher_factory=factory)) as http:
            client = Client(http)
            for i in range(n + 3):  # 3 warm-up calls (connections, imports)
                t0 = time.perf_counter()
                response = client.hook(request)
                wall = time.perf_counter() - t0
                assert response.status_code == 200, response.text
                stats = factory.made[-1].stats
                failed = sum(q.status != "ok" for q in stats.queries)
                if i >= 3:
                    rows.append((wall, stats.wall_seconds, stats.slowest.seconds,  # type: ignore[union-attr]
                                 sum(q.seconds for q in stats.queries), len(stats.queries), failed))
    ms = [[r[k] * 1000 for r in rows] for k in range(4)]
    print(f"scenario {scenario}: {n} order-sign calls without prefetch, {rows[0][4]} FHIR requests per call "
          f"(8 searches + Medication reads), failures: {sum(r[5] for r in rows)}")
    for label, values in zip(("hook call wall", "FHIR phase wall", "slowest single query", "sum of all queries"),
                             ms, strict=True):
        print(f"  {label:22s} p50 {statistics.median(values):7.1f} ms   p90 {pct(values, 90):7.1f} ms")
    ratio = statistics.median(r[1] / r[2] for r in rows)
    print(f"  FHIR phase / slowest query (p50): {ratio:.2f}  (1.0 = fully concurrent; "
          f"sequential would be ~{statistics.median(r[3] / r[2] for r in rows):.1f})")


if __name__ == "__main__":
    main(*(sys.argv[1:2] or ["oxycodone-active"]), *(int(a) for a in sys.argv[2:3]))
