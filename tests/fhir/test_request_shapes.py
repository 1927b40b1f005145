"""Request shapes real EHRs send (Epic, Oracle Health, the Sandbox): tokens, patients, expiry, search outcomes.

Through HTTP on the app, with the mock FHIR server for the fallback (`tests/fhir/fakes.py`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.fhir.client import FhirFetcherFactory
from cds_service.hooks.prefetch import fill_tokens
from tests.conftest import Client, load_fixture, make_settings
from tests.fhir.fakes import BASE, TOKEN, FakeFhir, serve_prefetch
from tests.fhir.test_app_fallback import SCENARIO, expected_rules, no_prefetch_request, rules


@pytest.fixture
def fake() -> FakeFhir:
    fake = FakeFhir()
    serve_prefetch(fake, load_fixture(SCENARIO, "order-sign.json"))
    return fake


@pytest.fixture
def client(tmp_path: Path, fake: FakeFhir) -> Iterator[Client]:
    settings = make_settings(tmp_path)
    app = create_app(settings, fetcher_factory=FhirFetcherFactory(settings, transport=fake.transport()))
    with TestClient(app) as http:
        yield Client(http)


def _data_incomplete(body: dict) -> str:
    cards = [c for c in body["cards"] if c["source"]["topic"]["code"] == "data-incomplete"]
    assert len(cards) == 1, rules(body)
    return cards[0]["detail"]


def test_token_for_the_hook_patient_is_used(client: Client, fake: FakeFhir) -> None:
    request = no_prefetch_request()
    request["fhirAuthorization"]["patient"] = request["context"]["patientId"]
    response = client.hook(request)
    assert response.status_code == 200, response.text
    assert rules(response.json()) == expected_rules()
    assert fake.requests


def test_token_for_another_patient_is_never_sent(client: Client, fake: FakeFhir) -> None:
    request = no_prefetch_request()
    request["fhirAuthorization"]["patient"] = "someone-else"
    response = client.hook(request)
    assert response.status_code == 412, response.text  # nothing else to read: no cards, never "all clear"
    assert "for another patient" in response.json()["issue"][0]["diagnostics"]
    assert fake.requests == []


def test_token_for_another_patient_with_partial_prefetch_reports_the_categories(client: Client,
                                                                                fake: FakeFhir) -> None:
    request = copy.deepcopy(load_fixture(SCENARIO, "order-sign.json"))
    del request["prefetch"]["allergies"]
    request["fhirServer"] = BASE
    request["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "patient": "someone-else"}
    response = client.hook(request)
    assert response.status_code == 200, response.text
    detail = _data_incomplete(response.json())
    assert "for another patient" in detail and "allerg" in detail.lower()
    assert fake.requests == []


def test_expired_token_is_not_used_and_the_categories_are_reported(client: Client, fake: FakeFhir) -> None:
    request = copy.deepcopy(load_fixture(SCENARIO, "order-sign.json"))
    del request["prefetch"]["allergies"]
    request["fhirServer"] = BASE
    request["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 0}
    response = client.hook(request)
    assert response.status_code == 200, response.text
    assert "had already expired (expires_in 0 s)" in _data_incomplete(response.json())
    assert fake.requests == []


def test_token_expiring_during_the_call_is_not_sent(tmp_path: Path, fake: FakeFhir) -> None:
    """expires_in counts from the request's arrival; a query after that instant is not sent."""
    from cds_service.hooks.request import parse_hook_call

    request = no_prefetch_request()
    request["fhirAuthorization"]["expires_in"] = 1e-9  # positive, over before the first query
    call = parse_hook_call(request, expected_hook="order-sign", service_id="naltrexone-order-sign")
    assert call.token_refusal is None and call.token_expires_at is not None
    settings = make_settings(tmp_path)
    fetcher = FhirFetcherFactory(settings, transport=fake.transport())(call)
    import asyncio

    result = asyncio.run(fetcher.fetch({"conditions": "Condition?patient=x"}, {}))  # type: ignore[union-attr]
    assert result.failed == {"conditions": "the FHIR access token expired (fhirAuthorization.expires_in) "
                                           "before this query; not sent"}
    assert fake.requests == []


@pytest.mark.parametrize("bad", ["300", True, None])
def test_expires_in_must_be_a_number(client: Client, bad: object) -> None:
    request = no_prefetch_request()
    request["fhirAuthorization"]["expires_in"] = bad
    response = client.hook(request)
    if bad is None:
        assert response.status_code == 200  # JSON null: not sent
        return
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["fhirAuthorization.expires_in"]


def test_user_tokens_are_substituted_in_fallback_queries() -> None:
    context = {"patientId": "p1", "userId": "Practitioner/dr-1"}
    assert fill_tokens("Practitioner/{{userPractitionerId}}", context) == "Practitioner/dr-1"
    role = {"patientId": "p1", "userId": "PractitionerRole/role-9"}  # Epic may send a PractitionerRole
    assert fill_tokens("PractitionerRole?_id={{userPractitionerRoleId}}&x={{context.patientId}}", role) \
        == "PractitionerRole?_id=role-9&x=p1"
    assert fill_tokens("Patient/{{userPatientId}}", {"userId": "Patient/p1"}) == "Patient/p1"
    assert fill_tokens("RelatedPerson/{{userRelatedPersonId}}", {"userId": "RelatedPerson/rp"}) == "RelatedPerson/rp"


def test_searchset_outcome_entries_in_prefetch(client: Client) -> None:
    """Epic's empty search (total 0, an OperationOutcome 'no results' entry) is known-empty; an error entry
    is data-incomplete."""
    request = copy.deepcopy(load_fixture(SCENARIO, "order-sign.json"))
    no_results = {"resourceType": "OperationOutcome", "issue": [{
        "severity": "warning", "code": "processing",
        "details": {"text": "Resource request returns no results."}}]}
    request["prefetch"]["allergies"] = {"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": [
        {"resource": no_results, "search": {"mode": "outcome"}}]}
    response = client.hook(request)
    assert rules(response.json()) == expected_rules()  # same as an empty Bundle: no data-incomplete

    failed = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception",
                                                             "diagnostics": "index unavailable"}]}
    request["prefetch"]["allergies"]["entry"] = [{"resource": failed, "search": {"mode": "outcome"}}]
    body = client.hook(request).json()
    detail = _data_incomplete(body)
    assert "index unavailable" in detail and "allerg" in detail.lower()
