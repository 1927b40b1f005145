"""Every fixture scenario against the real sekmet-fhir server: full, partial and no prefetch give the same cards."""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from tests.conftest import Client, load_fixture, make_settings, scenario_ids
from tests.rules.test_scenarios import check_expectations
from tests.support.servers import FhirServer

# Scenarios whose prefetch deliberately holds a record that bundle.json (the server) does not (fhir_fixtures/README:
# invalid R4 that the server would not store). Their cards differ only by the data-incomplete card about it.
PREFETCH_ONLY = {"malformed-neighbour": "Observation/malformed-alt-bad"}


pytestmark = pytest.mark.fhirserver


@pytest.fixture(scope="module")
def loaded_server() -> Iterator[FhirServer]:
    """All scenario bundles in one server of this module's own (patient ids are distinct per scenario).

    Not the session `fhir_server`: tests/support/test_servers.py loads its own `Patient/p1` data there, and the
    Sandbox scenario's patient is also `p1` -- sharing the server would mix the two patients' records.
    """
    with FhirServer() as server:
        for scenario in scenario_ids():
            server.load(load_fixture(scenario, "bundle.json"))
        yield server


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, loaded_server: FhirServer) -> Iterator[Client]:
    # generous timeouts: this test is about what the data says, not about speed (measure_fallback.py is)
    settings = make_settings(tmp_path_factory.mktemp("fhir-server"), fhir_allow_http="loopback",
                             fhir_request_timeout_seconds=10.0, fhir_deadline_seconds=20.0)
    with TestClient(create_app(settings)) as http:
        yield Client(http)


def with_fhir_access(request: dict, server: FhirServer, keep: set[str] | None) -> dict:
    """The request with FHIR access to `server`; prefetch reduced to `keep` (None: no prefetch at all)."""
    out = copy.deepcopy(request)
    out["fhirServer"] = server.base_url
    out["fhirAuthorization"] = {"access_token": server.token, "token_type": "Bearer", "expires_in": 300,
                                "scope": "patient/*.read", "subject": "cds-naltrexone"}
    if keep is None:
        out.pop("prefetch", None)
    else:
        out["prefetch"] = {k: v for k, v in out.get("prefetch", {}).items() if k in keep}
    return out


def _strip_uuids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_uuids(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [_strip_uuids(v) for v in value]
    return value


def _normalise_actions(card: dict) -> dict:
    """A `create` action's resource gets a fresh random id per call; a resource the server returned carries
    `meta` (versionId, lastUpdated) that the fixture's prefetch copy does not. Neither is clinical content."""
    for suggestion in card.get("suggestions", []):
        for action in suggestion.get("actions", []):
            resource = action.get("resource")
            if isinstance(resource, dict):
                resource.pop("meta", None)
                if action.get("type") == "create":
                    resource.pop("id", None)
    return card


def comparable(body: dict) -> list[dict]:
    """Cards without their uuids, in a stable order: rule, indicator, summary, detail, suggestions, links..."""
    cards = [_normalise_actions(_strip_uuids(c)) for c in body["cards"]]
    return sorted(cards, key=lambda c: (c["source"]["topic"]["code"], c["summary"], c["detail"]))


def diff(a: list[dict], b: list[dict]) -> str:
    lines = difflib.unified_diff(json.dumps(a, indent=1).splitlines(), json.dumps(b, indent=1).splitlines(),
                                 "full prefetch", "other", lineterm="", n=1)
    return "\n".join(list(lines)[:80])


def call(service: Client, request: dict, how: str) -> list[dict]:
    response = service.hook(request)
    assert response.status_code == 200, f"{how}: HTTP {response.status_code}: {response.text[:2000]}"
    return comparable(response.json())


@pytest.mark.parametrize("scenario", scenario_ids())
def test_same_cards_with_full_partial_and_no_prefetch(service: Client, loaded_server: FhirServer,
                                                      scenario: str) -> None:
    request = load_fixture(scenario, "order-sign.json")
    keys = sorted(request.get("prefetch", {}))
    full = call(service, with_fhir_access(request, loaded_server, set(keys)), "full prefetch")
    none = call(service, with_fhir_access(request, loaded_server, None), "no prefetch")
    partial = call(service, with_fhir_access(request, loaded_server, set(keys[::2])), "partial prefetch")
    # the exact rule ids, indicators and evidence of the scenario: through the FHIR server alone, or (a scenario
    # whose prefetch holds what the server cannot store) with its full prefetch and the server
    expected = load_fixture(scenario, "expected.json")["order-sign"]
    check_expectations({"cards": full if scenario in PREFETCH_ONLY else none}, expected, f"{scenario}/FHIR server")
    if scenario in PREFETCH_ONLY:
        # the prefetch carries a record the server does not hold: only the full prefetch reports it as skipped
        skipped = [c for c in full if c["source"]["topic"]["code"] == "data-incomplete"]
        assert len(skipped) == 1 and PREFETCH_ONLY[scenario] in skipped[0]["detail"]
        full = [c for c in full if c not in skipped]
        partial = [c for c in partial if c not in skipped]
    assert none == full, f"{scenario}: no-prefetch cards differ from full prefetch:\n{diff(full, none)}"
    assert partial == full, f"{scenario}: partial-prefetch cards differ from full prefetch:\n{diff(full, partial)}"
    if not any(c["rule"] == "data-incomplete" for c in expected["cards"]):  # (an order nobody can read has one)
        assert not any(c["source"]["topic"]["code"] == "data-incomplete" for c in none)


def test_server_requires_the_token(loaded_server: FhirServer) -> None:
    patient = load_fixture(scenario_ids()[0], "order-sign.json")["context"]["patientId"]
    url = f"{loaded_server.base_url}/Condition?patient={patient}"
    assert httpx.get(url, headers={"Accept": "application/fhir+json"}).status_code == 401
    ok = httpx.get(url, headers=loaded_server.headers)
    assert ok.status_code == 200 and ok.json()["resourceType"] == "Bundle"


def test_wrong_token_is_a_412_naming_the_refusal(tmp_path: Path, loaded_server: FhirServer) -> None:
    settings = make_settings(tmp_path, fhir_allow_http="loopback", fhir_request_timeout_seconds=10.0,
                             fhir_deadline_seconds=20.0)
    request = with_fhir_access(load_fixture(scenario_ids()[0], "order-sign.json"), loaded_server, None)
    request["fhirAuthorization"]["access_token"] = "not-the-token"
    with TestClient(create_app(settings)) as http:
        response = Client(http).hook(request)
    assert response.status_code == 412, response.text
    assert "the FHIR server refused access (401)" in response.json()["issue"][0]["diagnostics"]
