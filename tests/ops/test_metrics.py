"""`/metrics` after real hook calls: the series, their exact counts, and no patient data in any label.

The series are process-wide (prometheus-client's default registry), so in-process tests compare the values
before and after their own calls. The multi-worker test runs two uvicorn workers in multiprocess mode and
checks that a scrape of either worker counts every call.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cds_service.app import create_app
from tests.conftest import FIXTURES, Client, load_fixture, make_settings
from tests.store.app_helpers import accept, body, by_rule, hook_request, override, server_env
from tests.support.servers import free_port
from tests.support.uvicorn_server import UvicornServer

SIGN = "naltrexone-order-sign"
METRICS_TOKEN = "metrics-s3cret"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of an exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def expected_cards(scenario: str) -> Counter[tuple[str, str]]:
    cards = json.loads((FIXTURES / scenario / "expected.json").read_text())["order-sign"]["cards"]
    return Counter((c["rule"], c["indicator"]) for c in cards)


@pytest.fixture
def metrics_client(tmp_path: Path):
    settings = make_settings(tmp_path, metrics_token=METRICS_TOKEN, log_level="INFO")
    with TestClient(create_app(settings)) as http:
        yield Client(http)


def scrape(client: Client) -> dict:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def test_cards_are_counted_and_logged_by_rule_id_under_a_client_profile(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    """Epic sees `opioidwashout` as the topic code; the metric and the access line keep the rule id, so one rule
    is one label value whatever EHR called."""
    settings = make_settings(tmp_path, metrics_token=METRICS_TOKEN, log_level="INFO", client_profile="epic")
    with TestClient(create_app(settings)) as http:
        client = Client(http, "epic")
        before = scrape(client)
        with caplog.at_level("INFO", logger="cds_service.access"):
            shown = client.hook(hook_request("opioid-stopped-3-days")).json()["cards"]
        after = scrape(client)
    assert "opioidwashout" in [c["source"]["topic"]["code"] for c in shown]
    wanted = expected_cards("opioid-stopped-3-days")
    for (rule, indicator), count in wanted.items():
        got = value(after, "cds_cards_total", service=SIGN, rule_id=rule, indicator=indicator) - \
            value(before, "cds_cards_total", service=SIGN, rule_id=rule, indicator=indicator)
        assert got == count, rule
    assert not [k for k in after if k[0] == "cds_cards_total" and dict(k[1])["rule_id"] == "opioidwashout"]
    [line] = [r for r in caplog.records if getattr(r, "cds", {}).get("route") == "/cds-services/{service_id}"]
    assert sorted(line.cds["rule_ids"]) == sorted(r for r, _i in wanted.elements())


def test_metrics_need_the_token_when_set(metrics_client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN}):
        response = metrics_client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["resourceType"] == "OperationOutcome"
        assert "CDS_METRICS_TOKEN" in response.json()["issue"][0]["diagnostics"]


def test_hook_calls_cards_responses_feedback_and_ledger(metrics_client: Client) -> None:
    before = scrape(metrics_client)
    scenarios = ["oxycodone-active", "oxycodone-active", "cirrhosis-active"]
    issued = []
    for scenario in scenarios:
        response = metrics_client.hook(hook_request(scenario))
        assert response.status_code == 200
        issued.append(by_rule(response.json()["cards"]))
    assert metrics_client.post(f"/cds-services/{SIGN}", content=b"{", headers={
        "Content-Type": "application/json"}).status_code == 400
    assert metrics_client.post("/cds-services/no-such-service", json={}).status_code == 404
    liver = issued[2]["liver-disease"]
    feedback = body(override(liver, "hepatology-approved"), accept(issued[0]["opioid-concurrent"]))
    assert metrics_client.post(f"/cds-services/{SIGN}/feedback", json=feedback).status_code == 200
    after = scrape(metrics_client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    wanted = sum((expected_cards(s) for s in scenarios), Counter())
    for (rule, indicator), count in wanted.items():
        assert delta("cds_cards_total", service=SIGN, rule_id=rule, indicator=indicator) == count, rule
    cards_seen = {(dict(k[1])["rule_id"], dict(k[1])["indicator"]) for k in after if k[0] == "cds_cards_total"}
    assert set(wanted) <= cards_seen
    assert delta("cds_hook_duration_seconds_count", service=SIGN, hook="order-sign") == 4  # 3 answered + the 400
    assert delta("cds_hook_duration_seconds_bucket", service=SIGN, hook="order-sign", le="+Inf") == 4
    assert delta("cds_http_responses_total", route="/cds-services/{service_id}", status="200") == 3
    assert delta("cds_http_responses_total", route="/cds-services/{service_id}", status="400") == 1
    assert delta("cds_http_responses_total", route="/cds-services/{service_id}", status="404") == 1
    assert delta("cds_http_responses_total", route="/cds-services/{service_id}/feedback", status="200") == 1
    assert delta("cds_feedback_total", service=SIGN, outcome="overridden") == 1
    assert delta("cds_feedback_total", service=SIGN, outcome="accepted") == 1
    assert delta("cds_ledger_commit_duration_seconds_count", dialect="sqlite") == 3
    assert value(after, "process_resident_memory_bytes") > 0
    # unknown service ids never become label values
    assert not any(dict(k[1]).get("service") == "no-such-service" for k in after)


def test_no_patient_data_or_tokens_in_labels(metrics_client: Client) -> None:
    request = hook_request("oxycodone-active")
    metrics_client.hook(request)
    text = metrics_client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    patient = request["prefetch"]["patient"]
    for secret in (request["context"]["patientId"], request["hookInstance"], METRICS_TOKEN,
                   patient["name"][0]["family"], *patient["name"][0]["given"]):
        assert secret not in text, secret


def test_jwt_rejects_by_kind(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, auth_mode="jwt", public_base_url="https://cds.example.org")
    with TestClient(create_app(settings)) as http:
        before = samples(http.get("/metrics").text)
        path = f"/cds-services/{SIGN}"
        request = load_fixture("oxycodone-active", "order-sign.json")
        assert http.post(path, json=request).status_code == 401
        assert http.post(path, json=request).status_code == 401
        assert http.post(path, json=request, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401
        after = samples(http.get("/metrics").text)
    kinds = {k: value(after, "cds_jwt_rejected_total", kind=k) - value(before, "cds_jwt_rejected_total", kind=k)
             for k in ("missing-token", "malformed-token")}
    assert kinds == {"missing-token": 2, "malformed-token": 1}


def test_fhir_fallback_by_category_and_outcome(tmp_path: Path) -> None:
    """No prefetch, and a fhirServer on a loopback port where nothing listens: every query is a
    connect-error, counted under its prefetch key, with its latency."""
    settings = make_settings(tmp_path, fhir_allow_http="loopback")
    request = hook_request("oxycodone-active")
    keys = sorted(request.pop("prefetch"))
    request["fhirServer"] = f"http://127.0.0.1:{free_port()}/fhir"
    request["fhirAuthorization"] = {"access_token": "fhir-s3cret", "token_type": "Bearer", "expires_in": 300,
                                    "scope": "patient/*.read", "subject": "cds"}
    with TestClient(create_app(settings)) as http:
        before = samples(http.get("/metrics").text)
        assert http.post(f"/cds-services/{SIGN}", json=request).status_code == 412
        text = http.get("/metrics").text
    after = samples(text)
    for key in keys:
        assert value(after, "cds_fhir_requests_total", category=key, outcome="connect-error") - value(
            before, "cds_fhir_requests_total", category=key, outcome="connect-error") == 1, key
        assert value(after, "cds_fhir_request_duration_seconds_count", category=key) - value(
            before, "cds_fhir_request_duration_seconds_count", category=key) == 1, key
    assert "fhir-s3cret" not in text


@pytest.mark.slow
def test_two_workers_count_every_call(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    (tmp_path / "prom").mkdir()
    prom = tmp_path / "prom"

    def workers_that_counted() -> set[str]:
        return {p.stem.rsplit("_", 1)[-1] for p in prom.glob("counter_*.db")}

    calls = 0
    with UvicornServer(env, workers=2, log_path=tmp_path / "uvicorn.log") as server, \
            httpx.Client(base_url=server.url, timeout=30) as http:
        pids = {str(p) for p in server.worker_pids()}
        assert len(pids) == 2
        # a fresh connection per call: the workers share the listening socket, so both answer some; go on
        # until each has counted at least one call (bounded)
        while calls < 6 or (workers_that_counted() < pids and calls < 200):
            response = http.post(f"/cds-services/{SIGN}", json=hook_request("oxycodone-active"),
                                 headers={"Connection": "close"})
            assert response.status_code == 200
            calls += 1
        scrapes = [samples(http.get("/metrics", headers={"Connection": "close"}).text) for _ in range(4)]
    assert workers_that_counted() >= pids, "one worker answered every call: nothing summed across workers"
    for scraped in scrapes:  # whichever worker answered, the sums are the same
        assert value(scraped, "cds_hook_duration_seconds_count", service=SIGN, hook="order-sign") == calls
        for (rule, indicator), count in expected_cards("oxycodone-active").items():
            assert value(scraped, "cds_cards_total", service=SIGN, rule_id=rule, indicator=indicator) == \
                calls * count
        assert value(scraped, "cds_http_responses_total", route="/cds-services/{service_id}", status="200") == calls
