"""FhirFetcher fault cases on httpx.MockTransport: every failure is a readable reason, never an exception."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import httpx
import pytest

from cds_service.fhir.client import FhirFetcher, FhirFetcherFactory, is_loopback, server_refusal, with_page_size
from cds_service.fhir.gather import FetchResult
from cds_service.hooks.request import HookCall, parse_hook_call
from tests.conftest import make_settings
from tests.fhir.fakes import BASE, TOKEN, FakeFhir, delayed, fhir_json, outcome, searchset

PATIENT = {"resourceType": "Patient", "id": "p1"}


def cond(i: int) -> dict:
    return {"resourceType": "Condition", "id": f"c{i}", "subject": {"reference": "Patient/p1"}}


def hook_call(server: str | None = BASE, token: str | None = TOKEN) -> HookCall:
    data: dict = {"hook": "order-sign", "hookInstance": "h-1",
                  "context": {"patientId": "p1", "draftOrders": {"resourceType": "Bundle", "entry": []}}}
    if server is not None:
        data["fhirServer"] = server
    if token is not None:
        data["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer", "scope": "patient/*.read",
                                     "expires_in": 300, "subject": "cds"}
    return parse_hook_call(data, expected_hook="order-sign", service_id="naltrexone-order-sign")


def fetcher(tmp_path: Path, fake: FakeFhir, server: str = BASE, **overrides: object) -> FhirFetcher:
    settings = make_settings(tmp_path, **overrides)
    got = FhirFetcherFactory(settings, transport=fake.transport())(hook_call(server))
    assert isinstance(got, FhirFetcher)
    return got


def run_fetch(f: FhirFetcher, queries: dict[str, str], continue_from: dict[str, str] | None = None) -> FetchResult:
    async def go() -> FetchResult:
        try:
            return await f.fetch(queries, continue_from or {})
        finally:
            await f._factory.aclose()

    return asyncio.run(go())


# ---------------------------------------------------------------------------------------------- factory


def test_no_fetcher_without_server(tmp_path: Path) -> None:
    factory = FhirFetcherFactory(make_settings(tmp_path))
    assert factory(hook_call(server=None, token=None)) is None
    assert isinstance(factory(hook_call(token=None)), FhirFetcher)  # an open FHIR server (CDS Hooks 2.0)
    assert isinstance(factory(hook_call()), FhirFetcher)


def test_open_server_is_read_without_a_token(tmp_path: Path) -> None:
    fake = FakeFhir()
    fake.route(f"{BASE}/Condition?patient=p1", searchset(cond(1)))
    fake.route(f"{BASE}/Medication/m1", {"resourceType": "Medication", "id": "m1"})
    f = FhirFetcherFactory(make_settings(tmp_path), transport=fake.transport())(hook_call(token=None))
    assert isinstance(f, FhirFetcher)

    async def go() -> tuple[FetchResult, dict]:
        try:
            return await f.fetch({"conditions": "Condition?patient=p1"}, {}), await f.read_many(
                ["Medication/m1", "Medication/gone"])
        finally:
            await f._factory.aclose()

    result, found = asyncio.run(go())
    assert [r["id"] for r in result.resources["conditions"]] == ["c1"] and list(found) == ["Medication/m1"]
    assert f.failed_reads == {"Medication/gone": "the FHIR server does not know this resource or search (404)"}
    assert fake.requests and all("authorization" not in r.headers for r in fake.requests)


def test_open_http_server_off_loopback_is_still_refused(tmp_path: Path) -> None:
    f = FhirFetcherFactory(make_settings(tmp_path))(hook_call(server="http://ehr.example.org/fhir", token=None))
    assert isinstance(f, FhirFetcher)
    found = asyncio.run(f.read_many(["Medication/m1"]))
    assert found == {} and "unencrypted http://" in f.failed_reads["Medication/m1"]


@pytest.mark.parametrize(("host", "loop"), [("127.0.0.1", True), ("127.9.8.7", True), ("[::1]", True),
                                            ("localhost", True), ("LOCALHOST", True), ("10.0.0.1", False),
                                            ("localhost.evil.com", False), ("128.0.0.1", False)])
def test_loopback(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


@pytest.mark.parametrize(("allow", "server", "refused"), [
    ("loopback", "http://127.0.0.1:8090/fhir", False),
    ("loopback", "http://[::1]:8090/fhir", False),
    ("loopback", "http://localhost/fhir", False),
    ("loopback", "http://ehr.example.org/fhir", True),
    ("loopback", "https://ehr.example.org/fhir", False),
    ("never", "http://127.0.0.1:8090/fhir", True),
    ("never", "https://ehr.example.org/fhir", False),
    ("always", "http://ehr.example.org/fhir", False),
    ("always", "ftp://ehr.example.org/fhir", True),
    ("always", "https://user:pw@ehr.example.org/fhir", True),
])
def test_http_server_per_setting(tmp_path: Path, allow: str, server: str, refused: bool) -> None:
    fake = FakeFhir()
    fake.route(f"{server}/Condition?patient=p1", searchset(cond(1)))
    f = fetcher(tmp_path, fake, server, fhir_allow_http=allow)
    result = run_fetch(f, {"conditions": "Condition?patient=p1"})
    if refused:
        assert fake.requests == []  # the token never left
        assert "conditions" in result.failed
        assert server_refusal(server, allow) == result.failed["conditions"]
        if server.startswith("http://"):
            assert "unencrypted http://" in result.failed["conditions"]
    else:
        assert result.failed == {}
        assert [r["id"] for r in result.resources["conditions"]] == ["c1"]


# ------------------------------------------------------------------------------------------ happy path


# Epic's answer to an empty search (Epic on FHIR, CDS Hooks / FHIR search documentation): a warning, not an error
NO_RESULTS_WARNING = {"resourceType": "OperationOutcome", "issue": [{
    "severity": "warning", "code": "processing",
    "details": {"coding": [{"system": "urn:oid:1.2.840.114350.1.13.0.1.7.2.657369", "code": "4101",
                            "display": "Resource request returns no results."}],
                "text": "Resource request returns no results."}}]}


def test_search_outcome_entries_no_results_is_empty_error_fails_the_category(tmp_path: Path) -> None:
    fake = FakeFhir()
    fake.route(f"{BASE}/Condition?patient=p1", searchset(
        extra_entries=[{"resource": NO_RESULTS_WARNING, "search": {"mode": "outcome"}}]))
    fake.route(f"{BASE}/AllergyIntolerance?patient=p1", searchset(
        cond(1), extra_entries=[{"resource": outcome("search timed out in the database"),
                                 "search": {"mode": "outcome"}}]))
    result = run_fetch(fetcher(tmp_path, fake), {"conditions": "Condition?patient=p1",
                                                 "allergies": "AllergyIntolerance?patient=p1"})
    assert result.resources == {"conditions": []}  # known empty: no data, no error
    assert result.failed == {"allergies": "the FHIR server's search reported an error: "
                                          "search timed out in the database"}


def test_concurrent_queries_pages_and_headers(tmp_path: Path) -> None:
    fake = FakeFhir()
    med = {"resourceType": "Medication", "id": "m1"}
    fake.route(f"{BASE}/Patient/p1", PATIENT)
    fake.route(f"{BASE}/Condition?patient=p1", searchset(cond(1), next_url=f"{BASE}/Condition?page=2"))
    fake.route(f"{BASE}/Condition?page=2", searchset(cond(2), next_url="Condition?page=3"))  # relative link
    fake.route(f"{BASE}/Condition?page=3", searchset(cond(3)))
    fake.route(f"{BASE}/MedicationRequest?patient=p1", searchset(
        {"resourceType": "MedicationRequest", "id": "r1", "medicationReference": {"reference": "Medication/m1"}},
        extra_entries=[{"resource": med, "search": {"mode": "include"}},
                       {"resource": NO_RESULTS_WARNING, "search": {"mode": "outcome"}}]))
    for i in range(5):
        fake.route(f"{BASE}/Observation?patient=p1&code={i}", delayed(0.1, fhir_json(searchset())))
    queries = {"patient": "Patient/p1", "conditions": "Condition?patient=p1",
               "medicationRequests": "MedicationRequest?patient=p1",
               **{f"obs{i}": f"Observation?patient=p1&code={i}" for i in range(5)}}
    f = fetcher(tmp_path, fake, fhir_deadline_seconds=2.0)
    t0 = time.perf_counter()
    result = run_fetch(f, queries)
    wall = time.perf_counter() - t0
    assert result.failed == {}
    assert result.resources["patient"] == [PATIENT]
    assert [r["id"] for r in result.resources["conditions"]] == ["c1", "c2", "c3"]
    assert [r["id"] for r in result.resources["medicationRequests"]] == ["r1", "m1"]  # include kept, outcome not
    assert wall < 0.35, f"5 x 0.1 s queries took {wall:.2f} s: not concurrent"
    assert fake.max_in_flight >= 5
    for request in fake.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/fhir+json"
    stats = {q.key: q for q in f.stats.queries}
    assert stats["conditions"].pages == 3 and stats["conditions"].resources == 3


def test_continue_from_follows_the_clients_next_link(tmp_path: Path) -> None:
    fake = FakeFhir()
    fake.route(f"{BASE}/Condition?_page=2", searchset(cond(2), next_url=f"{BASE}/Condition?_page=3"))
    fake.route(f"{BASE}/Condition?_page=3", searchset(cond(3)))
    f = fetcher(tmp_path, fake)
    result = run_fetch(f, {}, {"conditions": f"{BASE}/Condition?_page=2"})
    assert result.failed == {}
    assert [r["id"] for r in result.resources["conditions"]] == ["c2", "c3"]


def test_read_many(tmp_path: Path) -> None:
    fake = FakeFhir()
    for i in range(4):
        fake.route(f"{BASE}/Medication/m{i}", delayed(0.1, fhir_json({"resourceType": "Medication", "id": f"m{i}"})))
    fake.route(f"{BASE}/Medication/bad", fhir_json(outcome("boom"), 500))
    f = fetcher(tmp_path, fake, fhir_deadline_seconds=2.0)

    async def go() -> dict[str, dict]:
        try:
            return await f.read_many(["Medication/m0", "Medication/m1", "Medication/m2", "Medication/m3",
                                      "Medication/missing", "Medication/bad", "Medication/../../admin",
                                      "https://evil.example/Medication/x", "Medication/m0"])
        finally:
            await f._factory.aclose()

    t0 = time.perf_counter()
    found = asyncio.run(go())
    assert time.perf_counter() - t0 < 0.35
    assert sorted(found) == ["Medication/m0", "Medication/m1", "Medication/m2", "Medication/m3"]
    assert all(r.url.host == "ehr.example.org" for r in fake.requests)
    assert len(fake.requests) == 6  # de-duplicated; the traversal and the absolute URL are never requested


# -------------------------------------------------------------------------------------------- failures


@pytest.mark.parametrize(("status", "reason"), [
    (401, "the FHIR server refused access (401)"),
    (403, "the FHIR server refused access (403)"),
    (500, "server error (500)"),
    (503, "server error (503)"),
    (429, "the FHIR server is too busy (429)"),
    (400, "the FHIR server rejected the query (400): unknown parameter"),
])
def test_http_status(tmp_path: Path, status: int, reason: str) -> None:
    fake = FakeFhir()
    fake.route(f"{BASE}/Condition?patient=p1", fhir_json(outcome("unknown parameter"), status))
    fake.route(f"{BASE}/AllergyIntolerance?patient=p1", searchset())
    result = run_fetch(fetcher(tmp_path, fake), {"conditions": "Condition?patient=p1",
                                                 "allergies": "AllergyIntolerance?patient=p1"})
    assert result.failed == {"conditions": reason}
    assert result.resources == {"allergies": []}


@pytest.mark.parametrize(("response", "reason"), [
    (httpx.Response(200, text="<html><body>Login</body></html>", headers={"content-type": "text/html"}),
     "the answer was not a FHIR Bundle (text/html)"),
    (httpx.Response(200, text="{not json", headers={"content-type": "application/fhir+json"}),
     "the answer was not a FHIR Bundle (not valid JSON)"),
    (httpx.Response(200, text="[1, 2]", headers={"content-type": "application/json"}),
     "the answer was not a FHIR Bundle"),
    (fhir_json(PATIENT), "the answer was not a FHIR Bundle (it was a Patient)"),
    (fhir_json(outcome("Search failed: " + "x" * 500)),
     "the answer was not a FHIR Bundle but an error (OperationOutcome): Search failed: " + "x" * 185),
])
def test_not_a_bundle(tmp_path: Path, response: httpx.Response, reason: str) -> None:
    fake = FakeFhir()
    fake.route(f"{BASE}/Condition?patient=p1", response)
    result = run_fetch(fetcher(tmp_path, fake), {"conditions": "Condition?patient=p1"})
    assert result.failed == {"conditions": reason}


def test_read_of_wrong_type_and_404(tmp_path: Path) -> None:
    fake = FakeFhir()
    fake.route(f"{BASE}/Patient/p1", searchset())
    result = run_fetch(fetcher(tmp_path, fake), {"patient": "Patient/p1", "other": "Patient/p2"})
    assert result.failed == {"patient": "the answer was not a FHIR Patient (it was a Bundle)",
                             "other": "the FHIR server does not know this resource or search (404)"}


def test_per_request_timeout(tmp_path: Path) -> None:
    fake = FakeFhir()
    fake.route(f"{BASE}/Condition?patient=p1", delayed(2.0, fhir_json(searchset())))
    fake.route(f"{BASE}/AllergyIntolerance?patient=p1", searchset())
    f = fetcher(tmp_path, fake, fhir_request_timeout_seconds=0.1, fhir_deadline_seconds=1.0)
    t0 = time.perf_counter()
    result = run_fetch(f, {"conditions": "Condition?patient=p1", "allergies": "AllergyIntolerance?patient=p1"})
    assert time.perf_counter() - t0 < 0.5
    assert result.failed == {"conditions": "the FHIR server timed out after 0.1 s"}
    assert result.resources == {"allergies": []}


def test_overall_deadline_with_slow_second_page(tmp_path: Path) -> None:
    fake = FakeFhir()
    fake.route(f"{BASE}/Condition?patient=p1",
               delayed(0.2, fhir_json(searchset(cond(1), next_url=f"{BASE}/Condition?page=2"))))
    fake.route(f"{BASE}/Condition?page=2", delayed(0.25, fhir_json(searchset(cond(2)))))  # each < 0.3 s timeout
    fake.route(f"{BASE}/AllergyIntolerance?patient=p1", searchset())
    f = fetcher(tmp_path, fake)  # defaults: 0.3 s per request, 0.4 s overall
    t0 = time.perf_counter()
    result = run_fetch(f, {"conditions": "Condition?patient=p1", "allergies": "AllergyIntolerance?patient=p1"})
    wall = time.perf_counter() - t0
    assert 0.38 < wall < 0.6
    assert result.failed == {"conditions": "the FHIR server timed out after 0.4 s"}
    assert result.resources == {"allergies": []}


def test_deadline_is_shared_with_read_many(tmp_path: Path) -> None:
    fake = FakeFhir()
    fake.route(f"{BASE}/Condition?patient=p1", delayed(0.25, fhir_json(searchset())))
    fake.route(f"{BASE}/Medication/m1", delayed(0.25, fhir_json({"resourceType": "Medication", "id": "m1"})))
    f = fetcher(tmp_path, fake)

    async def go() -> tuple[FetchResult, dict]:
        try:
            return await f.fetch({"conditions": "Condition?patient=p1"}, {}), await f.read_many(["Medication/m1"])
        finally:
            await f._factory.aclose()

    t0 = time.perf_counter()
    result, meds = asyncio.run(go())
    assert result.failed == {}
    assert meds == {}  # 0.25 + 0.25 > 0.4: the read is cut at the call's deadline
    assert time.perf_counter() - t0 < 0.55


def test_next_link_to_another_origin_is_not_followed(tmp_path: Path) -> None:
    fake = FakeFhir()
    fake.route(f"{BASE}/Condition?patient=p1", searchset(cond(1), next_url="https://evil.example.net/fhir/Condition?p=2"))
    fake.route(f"{BASE}/Observation?patient=p1",
               searchset(next_url="http://ehr.example.org/fhir/Observation?p=2"))  # same host, other scheme
    fake.route(f"{BASE}/AllergyIntolerance?patient=p1",
               searchset(next_url="https://ehr.example.org:8443/fhir/AllergyIntolerance?p=2"))  # other port
    fake.route("https://evil.example.net/fhir/Condition?p=2", searchset(cond(2)))
    result = run_fetch(fetcher(tmp_path, fake), {
        "conditions": "Condition?patient=p1", "observations": "Observation?patient=p1",
        "allergies": "AllergyIntolerance?patient=p1"}, {"statements": "https://evil.example.net/fhir/x"})
    assert set(result.failed) == {"conditions", "observations", "allergies", "statements"}
    assert all("another server" in reason for reason in result.failed.values())
    assert fake.hosts() == {"ehr.example.org"}
    assert all(r.url.port is None and r.url.scheme == "https" for r in fake.requests)


def test_redirect_is_not_followed(tmp_path: Path) -> None:
    fake = FakeFhir()
    fake.route(f"{BASE}/Condition?patient=p1",
               httpx.Response(302, headers={"location": "https://evil.example.net/steal"}))
    result = run_fetch(fetcher(tmp_path, fake), {"conditions": "Condition?patient=p1"})
    assert result.failed["conditions"].startswith("the FHIR server redirected the request (302)")
    assert fake.hosts() == {"ehr.example.org"}


def test_too_many_pages(tmp_path: Path) -> None:
    fake = FakeFhir()

    def endless(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        return fhir_json(searchset(cond(page), next_url=f"{BASE}/Condition?page={page + 1}"))

    fake.route(f"{BASE}/Condition?patient=p1", endless)
    for i in range(2, 10):
        fake.route(f"{BASE}/Condition?page={i}", endless)
    result = run_fetch(fetcher(tmp_path, fake, fhir_max_pages=2), {"conditions": "Condition?patient=p1"})
    assert result.failed == {"conditions": "too many pages (more than 3; at most 2 next pages are read)"}
    assert len(fake.requests) == 3


def test_continuation_counts_the_prefetched_first_page(tmp_path: Path) -> None:
    fake = FakeFhir()
    fake.route(f"{BASE}/Condition?page=2", searchset(cond(2), next_url=f"{BASE}/Condition?page=3"))
    fake.route(f"{BASE}/Condition?page=3", searchset(cond(3), next_url=f"{BASE}/Condition?page=4"))
    result = run_fetch(fetcher(tmp_path, fake, fhir_max_pages=2), {}, {"conditions": f"{BASE}/Condition?page=2"})
    assert result.failed["conditions"].startswith("too many pages")
    assert len(fake.requests) == 2


def test_connection_refused(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    settings = make_settings(tmp_path)
    f = FhirFetcherFactory(settings, transport=httpx.MockTransport(refuse))(hook_call())
    assert f is not None
    result = run_fetch(f, {"conditions": "Condition?patient=p1"})
    assert result.failed == {"conditions": "could not reach the FHIR server"}


def test_token_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeFhir()
    fake.route(f"{BASE}/Condition?patient=p1", searchset(cond(1), next_url="https://evil.example.net/x"))
    fake.route(f"{BASE}/Observation?patient=p1", fhir_json(outcome(f"bad token {TOKEN[:4]}"), 401))
    fake.route(f"{BASE}/AllergyIntolerance?patient=p1", delayed(1.0, fhir_json(searchset())))
    fake.route(f"{BASE}/MedicationRequest?patient=p1", searchset())
    f = fetcher(tmp_path, fake)
    result = run_fetch(f, {"conditions": "Condition?patient=p1", "observations": "Observation?patient=p1",
                           "allergies": "AllergyIntolerance?patient=p1",
                           "medicationRequests": "MedicationRequest?patient=p1"})
    assert len(result.failed) == 3
    assert TOKEN not in repr(f)
    assert TOKEN not in caplog.text
    summary = [r for r in caplog.records if r.name == "cds_service.fhir.client" and r.levelno == logging.INFO]
    assert len(summary) == 1
    assert "4 queries" in summary[0].getMessage() and "slowest allergies" in summary[0].getMessage()


def test_aclose_closes_the_shared_client(tmp_path: Path) -> None:
    factory = FhirFetcherFactory(make_settings(tmp_path), transport=FakeFhir().transport())
    client = factory.http()
    assert factory.http() is client  # one shared pool
    assert client.follow_redirects is False
    asyncio.run(factory.aclose())
    assert client.is_closed


# ---------------------------------------------------------------------------------------------- page size


@pytest.mark.parametrize(("query", "expected"), [
    ("Condition?patient=p1", "Condition?patient=p1&_count=500"),
    ("Observation?patient=p1&code=http://loinc.org|1742-6", "Observation?patient=p1&code=http://loinc.org|1742-6"
                                                            "&_count=500"),
    ("Condition?patient=p1&_count=10", "Condition?patient=p1&_count=10"),  # the query's own choice stays
    ("Patient/p1", "Patient/p1"),  # a read has no pages
])
def test_with_page_size(query: str, expected: str) -> None:
    assert with_page_size(query, 500) == expected


def test_searches_ask_for_the_page_size_reads_and_next_links_do_not(tmp_path: Path) -> None:
    fake = FakeFhir()
    fake.route(f"{BASE}/Condition?patient=p1", searchset(cond(1), next_url=f"{BASE}/Condition?page=2"))
    fake.route(f"{BASE}/Condition?page=2", searchset(cond(2)))
    fake.route(f"{BASE}/Patient/p1", PATIENT)
    result = run_fetch(fetcher(tmp_path, fake, fhir_page_size=250),
                       {"conditions": "Condition?patient=p1", "patient": "Patient/p1"})
    assert result.failed == {}
    assert [r["id"] for r in result.resources["conditions"]] == ["c1", "c2"]
    assert sorted(str(r.url) for r in fake.requests) == sorted([
        f"{BASE}/Condition?patient=p1&_count=250", f"{BASE}/Condition?page=2", f"{BASE}/Patient/p1"])
