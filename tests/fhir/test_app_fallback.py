"""The FHIR fallback through HTTP on the app, with a mock FHIR server: partial failure, total failure, no access."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.fhir.client import FhirFetcherFactory
from cds_service.settings import Settings
from tests.conftest import ROOT, Client, load_fixture, make_settings
from tests.fhir.fakes import BASE, TOKEN, FakeFhir, fhir_json, outcome, serve_prefetch

SCENARIO = "opioid-stopped-3-days"
DATA_RULE = ROOT / "cds_service" / "rules" / "naltrexone" / "data.py"


def data_incomplete_rule_exists() -> bool:
    return "data-incomplete" in DATA_RULE.read_text()


def no_prefetch_request(scenario: str = SCENARIO, server: str = BASE) -> dict:
    request = copy.deepcopy(load_fixture(scenario, "order-sign.json"))
    request.pop("prefetch", None)
    request["fhirServer"] = server
    request["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                    "scope": "patient/*.read", "subject": "cds-naltrexone"}
    return request


@pytest.fixture
def fake() -> FakeFhir:
    fake = FakeFhir()
    serve_prefetch(fake, load_fixture(SCENARIO, "order-sign.json"))
    return fake


@pytest.fixture
def fallback_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def fallback_client(fallback_settings: Settings, fake: FakeFhir) -> Iterator[Client]:
    app = create_app(fallback_settings,
                     fetcher_factory=FhirFetcherFactory(fallback_settings, transport=fake.transport()))
    with TestClient(app) as http:
        yield Client(http)


def rules(body: dict) -> list[tuple[str, str]]:
    return sorted((c["source"]["topic"]["code"], c["indicator"]) for c in body["cards"])


def expected_rules(scenario: str = SCENARIO) -> list[tuple[str, str]]:
    return sorted((c["rule"], c["indicator"]) for c in load_fixture(scenario, "expected.json")["order-sign"]["cards"])


def test_no_prefetch_all_from_the_fhir_server(fallback_client: Client, fake: FakeFhir) -> None:
    response = fallback_client.hook(no_prefetch_request())
    assert response.status_code == 200, response.text
    assert rules(response.json()) == expected_rules()
    assert len(fake.requests) >= 8
    assert {r.headers["authorization"] for r in fake.requests} == {f"Bearer {TOKEN}"}


def test_one_category_down_gives_the_other_cards_and_data_incomplete(fallback_client: Client,
                                                                     fake: FakeFhir) -> None:
    request = no_prefetch_request()
    fake.route(f"{BASE}/AllergyIntolerance?patient={request['context']['patientId']}",
               fhir_json(outcome("database unavailable"), 503))
    response = fallback_client.hook(request)
    assert response.status_code == 200, response.text
    body = response.json()
    got = rules(body)
    for rule in expected_rules():
        assert rule in got  # the other rules still speak
    if data_incomplete_rule_exists():
        incomplete = [c for c in body["cards"] if c["source"]["topic"]["code"] == "data-incomplete"]
        assert len(incomplete) == 1, got
        text = incomplete[0]["summary"] + incomplete[0]["detail"]
        assert "allergies" in text.lower()
        assert "server error (503)" in text
        assert TOKEN not in response.text


def test_every_category_failing_is_412_naming_them(fallback_client: Client, fake: FakeFhir) -> None:
    fake.routes.clear()  # everything 404s
    fake.route(f"{BASE}/Patient/{no_prefetch_request()['context']['patientId']}",
               httpx.Response(401, json=outcome("token expired")))
    response = fallback_client.hook(no_prefetch_request())
    assert response.status_code == 412, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    for key in ("patient", "conditions", "medicationRequests", "medicationStatements", "medicationDispenses",
                "medicationAdministrations", "liverTests", "urineDrugScreens", "allergies"):
        assert f"prefetch.{key}" in issue["expression"]
        assert key in issue["diagnostics"]
    assert "the FHIR server refused access (401)" in issue["diagnostics"]
    assert TOKEN not in response.text


def test_no_fhir_server_and_missing_keys_is_412_naming_the_keys(client: Client) -> None:
    request = copy.deepcopy(load_fixture(SCENARIO, "order-sign.json"))
    del request["prefetch"]["liverTests"], request["prefetch"]["allergies"]
    request.pop("fhirServer", None)
    request.pop("fhirAuthorization", None)
    response = client.hook(request)
    assert response.status_code == 412, response.text
    issue = response.json()["issue"][0]
    assert sorted(issue["expression"]) == ["prefetch.allergies", "prefetch.liverTests"]
    assert "liverTests" in issue["diagnostics"] and "allergies" in issue["diagnostics"]


def test_http_server_refused_is_explained(fallback_client: Client, fake: FakeFhir) -> None:
    # partial prefetch + a plain-http, non-loopback server: 200, the missing categories say why
    request = copy.deepcopy(load_fixture(SCENARIO, "order-sign.json"))
    del request["prefetch"]["allergies"]
    request["fhirServer"] = "http://ehr.example.org/fhir"
    request["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer"}
    response = fallback_client.hook(request)
    assert response.status_code == 200, response.text
    assert fake.requests == []
    if data_incomplete_rule_exists():
        text = " ".join(c["detail"] for c in response.json()["cards"]
                        if c["source"]["topic"]["code"] == "data-incomplete")
        assert "unencrypted http://" in text
    # nothing prefetched at all: 412 with the same reason
    response = fallback_client.hook(no_prefetch_request(server="http://ehr.example.org/fhir"))
    assert response.status_code == 412
    assert "unencrypted http://" in response.json()["issue"][0]["diagnostics"]
    assert fake.requests == []


def test_slow_server_never_500(fallback_client: Client, fake: FakeFhir) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        import asyncio

        await asyncio.sleep(5)
        raise AssertionError("unreachable")

    for url in list(fake.routes):
        if "Observation" in url:
            fake.routes[url] = hang
    response = fallback_client.hook(no_prefetch_request())
    assert response.status_code == 200, response.text
    for rule in expected_rules():
        if rule[0] not in ("liver-tests-missing", "urine-screen-needed"):  # these read Observations
            assert rule in rules(response.json())
