"""A draft whose Medication the request does not carry, against a mock FHIR server: read it, or say why not."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.fhir.client import FhirFetcherFactory
from tests.conftest import Client, load_fixture, make_settings
from tests.fhir.fakes import BASE, TOKEN, FakeFhir, fhir_json, outcome

SCENARIO = "draft-reference-on-fhir-server"
MEDICATION = f"Medication/{SCENARIO}-nal"


def request(token: bool = True) -> dict:
    out = copy.deepcopy(load_fixture(SCENARIO, "order-sign.json"))
    out["fhirServer"] = BASE
    if token:
        out["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                    "scope": "patient/*.read", "subject": "cds-naltrexone"}
    return out


def the_medication() -> dict:
    bundle = load_fixture(SCENARIO, "bundle.json")
    return next(e["resource"] for e in bundle["entry"] if e["request"]["url"] == MEDICATION)


@pytest.fixture
def fake() -> FakeFhir:
    return FakeFhir()


@pytest.fixture
def client(tmp_path: Path, fake: FakeFhir) -> Iterator[Client]:
    settings = make_settings(tmp_path)
    app = create_app(settings, fetcher_factory=FhirFetcherFactory(settings, transport=fake.transport()))
    with TestClient(app) as http:
        yield Client(http)


def rules(body: dict) -> list[tuple[str, str]]:
    return sorted((c["source"]["topic"]["code"], c["indicator"]) for c in body["cards"])


@pytest.mark.parametrize("token", [True, False], ids=["with-token", "open-server"])
def test_the_draft_medication_is_read_before_deciding(client: Client, fake: FakeFhir, token: bool) -> None:
    fake.route(f"{BASE}/{MEDICATION}", the_medication())
    body = client.hook(request(token)).json()
    assert rules(body) == [("opioid-concurrent", "critical"), ("urine-screen-needed", "warning")]
    reads = [r for r in fake.requests if r.url.path.endswith(MEDICATION)]
    assert len(reads) == 1
    assert (reads[0].headers.get("authorization") == f"Bearer {TOKEN}") is token
    assert token or "authorization" not in reads[0].headers


@pytest.mark.parametrize(("answer", "reason"), [
    (fhir_json(outcome("gone"), 404), "does not know this resource"),
    (httpx.Response(500, text="boom"), "server error (500)"),
    (fhir_json(outcome("denied"), 403), "refused access (403)"),
    (httpx.Response(200, text="<html>login</html>", headers={"content-type": "text/html"}), "not a FHIR Medication"),
])
def test_an_unreadable_draft_medication_is_a_card_with_the_reason(client: Client, fake: FakeFhir,
                                                                   answer: httpx.Response, reason: str) -> None:
    fake.route(f"{BASE}/{MEDICATION}", answer)
    response = client.hook(request())
    assert response.status_code == 200, response.text
    body = response.json()
    assert rules(body) == [("data-incomplete", "warning")]
    card = body["cards"][0]
    assert "could **not** be checked" in card["detail"] and reason in card["detail"]
    assert card["summary"].startswith("Order not checked")
    assert TOKEN not in response.text


def test_an_unrelated_draft_medication_stays_silent(client: Client, fake: FakeFhir) -> None:
    fake.route(f"{BASE}/{MEDICATION}", {"resourceType": "Medication", "id": f"{SCENARIO}-nal", "code": {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "617311",
                    "display": "atorvastatin 40 MG Oral Tablet"}]}})
    body = client.hook(request()).json()
    assert body == {"cards": []}  # read and known: a statin, no naltrexone rule applies
