"""An open FHIR server: `fhirServer` without `fhirAuthorization` (CDS Hooks 2.0 allows it; the Sandbox does it).

A real sekmet server with no authentication at all. The service must read it without a token: for missing
prefetch keys, for the Medications a prefetch without `_include` leaves out, and for a draft's Medication.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from tests.conftest import Client, load_fixture, make_settings
from tests.rules.test_scenarios import check_expectations
from tests.support.servers import FhirServer

pytestmark = pytest.mark.fhirserver

SCENARIOS = ("sandbox-prefetch-without-include", "draft-reference-on-fhir-server",
             "opioid-draft-reference-on-fhir-server", "xr-administration-included-medication",
             "opioid-administration-2-days-naltrexone")


@pytest.fixture(scope="module")
def open_server() -> Iterator[FhirServer]:
    with FhirServer(open_access=True) as server:
        for scenario in SCENARIOS:
            server.load(load_fixture(scenario, "bundle.json"))
        yield server


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    settings = make_settings(tmp_path_factory.mktemp("open-fhir"), fhir_allow_http="loopback",
                             fhir_request_timeout_seconds=10.0, fhir_deadline_seconds=20.0)
    with TestClient(create_app(settings)) as http:
        yield Client(http)


def _open(request: dict, server: FhirServer, prefetch: bool) -> dict:
    out = copy.deepcopy(request)
    out["fhirServer"] = server.base_url
    out.pop("fhirAuthorization", None)
    if not prefetch:
        out.pop("prefetch", None)
    return out


def test_the_server_is_open(open_server: FhirServer) -> None:
    import httpx

    r = httpx.get(f"{open_server.base_url}/Patient", params={"_count": "1"}, timeout=10)
    assert r.status_code == 200  # no Authorization header at all


@pytest.mark.parametrize("prefetch", [True, False], ids=["client-prefetch", "no-prefetch"])
@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_open_server_gives_the_expected_cards(service: Client, open_server: FhirServer, scenario: str, hook: str,
                                              prefetch: bool) -> None:
    response = service.hook(_open(load_fixture(scenario, f"{hook}.json"), open_server, prefetch))
    assert response.status_code == 200, response.text
    check_expectations(response.json(), load_fixture(scenario, "expected.json")[hook],
                       f"{scenario}/{hook}/open server")


def test_open_plain_http_server_off_loopback_is_refused(service: Client) -> None:
    """No token to protect, but patient data still must not travel in clear text: the draft stays unchecked
    and the card says why."""
    request = load_fixture("draft-reference-on-fhir-server", "order-sign.json")
    request["fhirServer"] = "http://ehr.example.org/fhir"
    response = service.hook(request)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert [(c["source"]["topic"]["code"], c["indicator"]) for c in cards] == [("data-incomplete", "warning")]
    assert "unencrypted http://" in cards[0]["detail"]
