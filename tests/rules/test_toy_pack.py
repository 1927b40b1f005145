"""A second pack, registered with one registry entry, runs end to end: discovery, a hook without draftOrders,
derived prefetch keys, and the generated docs (tests/rules/toy_pack.py is the whole pack)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.docs import generated_sections
from cds_service.rules import registry
from tests.conftest import Client, make_settings
from tests.rules.toy_pack import ENTRY

OXYCODONE = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1049621",
                         "display": "oxycodone hydrochloride 5 MG Oral Tablet"}]}


@pytest.fixture
def toy_client(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    monkeypatch.setattr(registry, "PACKS", [*registry.PACKS, ENTRY])
    with TestClient(create_app(make_settings(tmp_path))) as http:
        yield Client(http)


def call(requests: list[dict] | None) -> dict:
    entries = [{"resource": r} for r in requests or []]
    return {"hook": "encounter-start", "hookInstance": "toy-1",
            "context": {"patientId": "p1", "userId": "Practitioner/1", "encounterId": "e1"},
            "prefetch": {"medicationRequests": {"resourceType": "Bundle", "type": "searchset", "entry": entries}}}


def opioid_request(status: str = "active") -> dict:
    return {"resourceType": "MedicationRequest", "id": "oxy", "status": status, "intent": "order",
            "subject": {"reference": "Patient/p1"}, "authoredOn": "2026-11-01", "medicationCodeableConcept": OXYCODONE}


def test_discovery_lists_both_packs_with_derived_prefetch(toy_client: Client) -> None:
    services = {s["id"]: s for s in toy_client.get("/cds-services").json()["services"]}
    assert services["toy-encounter-start"] == {
        "hook": "encounter-start", "id": "toy-encounter-start", "title": "Toy: opioid on record",
        "description": "Says when the patient has a current opioid on record (a test pack).",
        "prefetch": {"medicationRequests": "MedicationRequest?patient={{context.patientId}}&status=active"}}
    assert "naltrexone-order-sign" in services


def test_the_toy_rule_runs_on_a_hook_without_draft_orders(toy_client: Client) -> None:
    response = toy_client.post("/cds-services/toy-encounter-start", json=call([opioid_request()]))
    assert response.status_code == 200, response.text
    [card] = response.json()["cards"]
    assert card["indicator"] == "info" and card["source"]["topic"]["code"] == "toy-opioid-on-record"
    assert card["summary"] == "Opioid on record: oxycodone hydrochloride 5 MG Oral Tablet"
    assert "`MedicationRequest/oxy`" in card["detail"]


def test_no_therapy_no_cards(toy_client: Client) -> None:
    response = toy_client.post("/cds-services/toy-encounter-start", json=call([opioid_request("stopped")]))
    assert response.status_code == 200 and response.json() == {"cards": []}


def test_the_toy_pack_is_in_the_generated_docs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "PACKS", [*registry.PACKS, ENTRY])
    sections = generated_sections()
    assert "**Rule pack `toy`**" in sections["rules"] and "| `toy-opioid-on-record`<br>" in sections["rules"]
    assert "| encounter start (patients on an opioid) |" in sections["rules"]
    assert "| `CDS_TOY_GREETING` | `Opioid on record` |" in sections["settings"]


def test_without_the_registry_entry_the_toy_is_unknown(client: Client) -> None:
    assert client.post("/cds-services/toy-encounter-start", json=call([])).status_code == 404
