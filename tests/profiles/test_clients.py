"""Client-shaped fixtures (`fhir_fixtures/clients/{epic,oracle,sandbox}/`): each request as that client's public
documentation shapes it, answered under that client's profile with the same rule ids and indicators as the
generic twin, the topic code the client expects, and nothing fetched (everything was in the request)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.fhir.client import FhirFetcherFactory
from tests.conftest import FIXTURES, Client, load_fixture, make_settings
from tests.fhir.fakes import FakeFhir

CLIENTS = ("epic", "oracle", "sandbox")
HOOKS = ("order-sign", "order-select")


def _cases() -> list[tuple[str, str]]:
    out = []
    for client in CLIENTS:
        scenarios = json.loads((FIXTURES / "clients" / client / "index.json").read_text())
        assert len(scenarios) >= 8, f"{client}: fewer than eight scenarios"
        out.extend((client, s) for s in scenarios)
    return out


@pytest.fixture(scope="module")
def fake() -> FakeFhir:
    return FakeFhir()  # answers 404 to everything: the tests assert it is never asked


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory, fake: FakeFhir) -> Iterator[dict[str, Client]]:
    out: dict[str, Client] = {}
    managers = []
    for profile in ("generic", *CLIENTS):
        settings = make_settings(tmp_path_factory.mktemp(profile), client_profile=profile)
        app = create_app(settings, fetcher_factory=FhirFetcherFactory(settings, transport=fake.transport()))
        manager = TestClient(app)
        out[profile] = Client(manager.__enter__(), profile)
        managers.append(manager)
    yield out
    for manager in managers:
        manager.__exit__(None, None, None)


def _load(client: str, scenario: str, name: str) -> dict:
    return json.loads((FIXTURES / "clients" / client / scenario / name).read_text())


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize(("client", "scenario"), _cases())
def test_client_fixture(apps: dict[str, Client], fake: FakeFhir, client: str, scenario: str, hook: str) -> None:
    expected = _load(client, scenario, "expected.json")
    assert expected["profile"] == client and expected["document"]
    before = len(fake.requests)
    response = apps[client].hook(_load(client, scenario, f"{hook}.json"))  # checked against the profile
    assert response.status_code == 200, response.text
    body = response.json()
    got = sorted((c["source"]["topic"]["code"], c["indicator"]) for c in body["cards"])
    want = sorted((c["topic_code"], c["indicator"]) for c in expected[hook]["cards"])
    assert got == want, f"{client}/{scenario}/{hook}"
    # the same rule ids and indicators as the generic twin, answered live
    twin = apps["generic"].hook(load_fixture(expected["twin"], f"{hook}.json")).json()
    codes = {c["rule"]: c["topic_code"] for c in expected[hook]["cards"]}
    assert got == sorted((codes[c["source"]["topic"]["code"]], c["indicator"]) for c in twin["cards"])
    for rule in expected[hook]["absent_rules"]:
        assert rule not in {c["source"]["topic"]["code"] for c in body["cards"]}
    assert len(fake.requests) == before, [str(r.url) for r in fake.requests[before:]]


def test_epic_fixture_shapes_are_what_epic_sends() -> None:
    """The Epic fixtures really carry the shapes the tests claim to cover."""
    request = _load("epic", "oxycodone-active", "order-sign.json")
    entries = [e["resource"] for e in request["context"]["draftOrders"]["entry"]]
    order = next(r for r in entries if r["resourceType"] == "MedicationRequest")
    assert order["status"] == "active"  # signed earlier in the session, still checked
    assert isinstance(order["category"], dict)
    assert order["category"]["coding"][0]["system"] == "http://hl7.org/fhir/medication-request-category"
    assert order["medicationReference"]["reference"].startswith("https://")
    med = next(r for r in entries if r["resourceType"] == "Medication")
    assert med["code"]["coding"][0]["system"] == "urn:oid:2.16.840.1.113883.6.88"
    assert request["extension"]["com.epic.cdshooks.request.cds-hooks-specification-version"] == "1.0"
    allergies = request["prefetch"]["allergies"]
    assert allergies["total"] == 0 and allergies["entry"][0]["search"]["mode"] == "outcome"
    conditions = json.dumps(request["prefetch"]["conditions"])
    assert "urn:oid:2.16.840.1.113883.6.90" in conditions and '"reference": "https://' in conditions
