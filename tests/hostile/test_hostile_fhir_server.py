"""Red-team findings 3, 4 and 5 (issue 17) against a hostile FHIR server on 127.0.0.1
(tests/support/hostile_fhir.py): drip, endless stream, gzip bomb, redirect, foreign patient, huge pages.

Every call answers within the FHIR deadline + 100 ms with a 412 or a data-incomplete card, and a real
uvicorn worker's RSS stays within 50 MB of its start over 50 calls."""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from tests.conftest import load_fixture, make_settings
from tests.support.hostile_fhir import MODES, HostileFhirProcess, hostile_fhir_server
from tests.support.uvicorn_server import UvicornServer

DEADLINE = 0.4  # the default CDS_FHIR_DEADLINE_SECONDS
SLACK = 0.1


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileFhirProcess]:
    with hostile_fhir_server() as server:
        yield server


def no_prefetch(server: str) -> dict:
    request = copy.deepcopy(load_fixture("cirrhosis-active", "order-sign.json"))
    request.pop("prefetch")
    request["fhirServer"] = server
    request["fhirAuthorization"] = {"access_token": "secret-token", "token_type": "Bearer"}
    return request


def check_answer(response: httpx.Response, mode: str) -> None:
    assert response.status_code in (200, 412), (mode, response.status_code, response.text[:300])
    if response.status_code == 200:
        rules = [c["source"]["topic"]["code"] for c in response.json()["cards"]]
        assert "data-incomplete" in rules, (mode, rules)
    assert len(response.content) < 100_000, (mode, len(response.content))  # summarised, not amplified


@pytest.fixture(scope="module")
def client(hostile: HostileFhirProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(tmp_path_factory.mktemp("hostile"), fhir_allow_http="loopback")
    with TestClient(create_app(settings)) as http:
        http.post("/cds-services/naltrexone-order-sign", json=no_prefetch(f"{hostile.base_url}/foreign"))  # warm
        yield http


@pytest.mark.parametrize("mode", MODES)
def test_every_hostile_answer_is_cut_off_in_time(client: TestClient, hostile: HostileFhirProcess, mode: str) -> None:
    t0 = time.perf_counter()
    response = client.post("/cds-services/naltrexone-order-sign", json=no_prefetch(f"{hostile.base_url}/{mode}"))
    elapsed = time.perf_counter() - t0
    check_answer(response, mode)
    # Cut off, not waited out: before the fix a gzip bomb took 5.7 s and an endless stream never ended. On a
    # quiet machine every mode answers within DEADLINE + SLACK (0.5 s; the issue note gives the figures); the
    # bound here is kept loose so that a loaded or slower machine does not fail a test about *whether* the
    # service cuts off (speed is measured, not asserted in timed tests).
    print(f"hostile mode {mode}: answered in {elapsed:.3f} s (deadline {DEADLINE} s)")
    assert elapsed <= 4 * (DEADLINE + SLACK), (mode, elapsed)


@pytest.fixture(scope="module")
def patient_client(hostile: HostileFhirProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Generous deadlines: what these tests check is what is read, not how fast."""
    settings = make_settings(tmp_path_factory.mktemp("hostile-slow"), fhir_allow_http="loopback",
                             fhir_request_timeout_seconds=20, fhir_deadline_seconds=30)
    with TestClient(create_app(settings)) as http:
        yield http


def test_foreign_patient_data_decides_nothing(patient_client: TestClient, hostile: HostileFhirProcess) -> None:
    body = patient_client.post("/cds-services/naltrexone-order-sign",
                       json=no_prefetch(f"{hostile.base_url}/foreign")).json()
    rules = {c["source"]["topic"]["code"]: c for c in body["cards"]}
    assert "liver-disease" not in rules and "young-patient" not in rules
    assert "of another patient left out" in rules["data-incomplete"]["summary"]


def test_redirect_is_not_followed(patient_client: TestClient, hostile: HostileFhirProcess) -> None:
    response = patient_client.post("/cds-services/naltrexone-order-sign",
                                   json=no_prefetch(f"{hostile.base_url}/redirect"))
    assert response.status_code == 412
    assert "redirected the request (302); redirects are not followed" in response.json()["issue"][0]["diagnostics"]


def settled_rss_mb(pid: int, window: float = 5.0) -> float:
    """What the worker keeps: the lowest RSS over `window` seconds of idling.

    A call returns before its background task (the release of a cut-off response's garbage) has run, and on a
    loaded machine that task may wait seconds for the CPU, so two equal readings in a row can both come
    before it. Memory that is released shows up as a lower reading within the window; memory that is kept
    never does."""
    readings = [rss_mb(pid)]
    for _ in range(int(window / 0.2)):
        time.sleep(0.2)
        readings.append(rss_mb(pid))
    return min(readings)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@contextlib.contextmanager
def worker(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A real uvicorn worker (its pid, for RSS) and its order-sign URL."""
    env = {"CDS_AUTH_MODE": "off", "CDS_TODAY": "2026-11-25", "CDS_FHIR_ALLOW_HTTP": "loopback",
           "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}", "CDS_PATIENT_HASH_KEY": "k",
           "CDS_LOG_LEVEL": "WARNING"}
    with UvicornServer(env, log_path=tmp_path / "server.log") as server:
        yield server.worker_pids()[0], f"{server.url}/cds-services/naltrexone-order-sign"


@pytest.mark.slow
@pytest.mark.parametrize("modes", [MODES, ("endless",)], ids=["every-mode", "endless-stream"])
def test_worker_memory_stays_bounded_over_50_hostile_calls(hostile: HostileFhirProcess, tmp_path: Path,
                                                          modes: tuple[str, ...]) -> None:
    with worker(tmp_path) as (pid, url), httpx.Client(timeout=30) as http:
        for mode in modes * 2:  # warm-up: imports, pools, the first large page
            http.post(url, json=no_prefetch(f"{hostile.base_url}/{mode}"))
        start = settled_rss_mb(pid)
        trace = []
        # Before the collection moved onto the event loop after the response (fhir.client.release_garbage), the
        # worker kept the buffers of one endless exchange in about three (40-50 MB, freed but never trimmed)
        # until its next cut-off call: a run ending on one measured 50-57 MB. Both runs end on `endless`.
        order = [*(m for m in modes if m != "endless"), "endless"]
        for i in range(50):
            mode = order[(i - 50) % len(order)]
            check_answer(http.post(url, json=no_prefetch(f"{hostile.base_url}/{mode}")), mode)
            trace.append(round(rss_mb(pid)))
        end = settled_rss_mb(pid)
    print(f"worker RSS over 50 hostile calls: {start:.0f} MB -> {end:.0f} MB: {trace}")
    assert end - start <= 50, (start, end)


@pytest.mark.slow
def test_no_endless_exchange_stays_resident(hostile: HostileFhirProcess, tmp_path: Path) -> None:
    """Finding 3's residue: after each endless-stream call on its own, the worker gives the exchange back.

    Before the fix, the collection ran in a worker thread while the event loop was still unwinding the
    request: in one call in three to seven, 40-50 MB were still in use at the collection, were freed a loop
    iteration later and stayed resident (glibc keeps freed heap until a trim) until the next cut-off call.
    Twelve calls, each followed by the settled RSS: before the fix 118-175 MB, after it 118 MB flat."""
    with worker(tmp_path) as (pid, url), httpx.Client(timeout=30) as http:
        for _ in range(3):  # warm-up
            http.post(url, json=no_prefetch(f"{hostile.base_url}/endless"))
        settled = [round(settled_rss_mb(pid))]
        for _ in range(12):
            check_answer(http.post(url, json=no_prefetch(f"{hostile.base_url}/endless")), "endless")
            settled.append(round(settled_rss_mb(pid, window=2.0)))
    # what an exchange keeps shows as a settled reading above the lowest one (the warm-up may end on one too)
    print(f"worker RSS settled after each endless call: {settled} MB")
    assert max(settled) - min(settled) <= 20, settled
