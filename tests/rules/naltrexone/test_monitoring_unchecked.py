"""naltrexone-monitoring-unchecked (patient-view), through HTTP: when the medication records that decide whether
naltrexone is current could not all be read and none read shows it, one info card says what could not be read
and why (never `{"cards": []}`); a patient whose medications were all read stays `[]` without any lab read.

Both paths: the EHR's prefetch (a key marked failed with an OperationOutcome, an unreadable record), and the
FHIR fallback against the real FHIR server of the suite (a medication search longer than the service reads)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.fhir.client import FhirFetcherFactory
from tests.conftest import FIXTURES, Client, make_settings
from tests.support.servers import FhirServer

SERVICE = "naltrexone-patient-view"
RULE = "naltrexone-monitoring-unchecked"
TITLE = "Naltrexone monitoring could not be checked"
LEAD = ("Whether this patient is on **naltrexone** could **not** be checked: part of the medication records that "
        "show it could not be read, and none of those read shows current naltrexone.")
TIMEOUT = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout",
                                                          "diagnostics": "pharmacy system timed out"}]}
MEDICATION_KEYS = ("medicationRequests", "medicationStatements", "medicationDispenses", "medicationAdministrations")


def load(scenario: str) -> dict:
    return json.loads((FIXTURES / "patient-view" / scenario / "patient-view.json").read_text())


def medications_only(scenario: str) -> dict:
    """The scenario's request with only its medication keys, and no FHIR access: reading anything else (labs,
    conditions) would be a 412."""
    request = load(scenario)
    request["prefetch"] = {k: v for k, v in request["prefetch"].items() if k in MEDICATION_KEYS}
    request.pop("fhirServer", None)
    return request


def post(client: Client, request: dict) -> dict:
    response = client.post(f"/cds-services/{SERVICE}", json=request)
    assert response.status_code == 200, response.text
    return response.json()


def rules(body: dict) -> list[tuple[str, str]]:
    return [(c["source"]["topic"]["code"], c["indicator"]) for c in body["cards"]]


def evidence(card: dict) -> list[str]:
    section = card["detail"].split("**Evidence**\n", 1)[1].split("\n\n**Source**", 1)[0]
    return section.split("\n")


def assert_says(body: dict, summary: str, lines: list[str]) -> None:
    """The one card of the response is this rule's, info, with the lead, no suggestions and no override
    reasons, this summary and these evidence lines."""
    assert rules(body) == [(RULE, "info")]
    [card] = body["cards"]
    assert card["source"]["topic"] == {"system": "urn:cds-naltrexone:rule", "code": RULE, "display": TITLE}
    assert card["detail"].startswith(LEAD)
    assert "suggestions" not in card and "overrideReasons" not in card
    assert card["summary"] == f"{TITLE}: {summary}"
    assert evidence(card) == lines


# --- the prefetch path -----------------------------------------------------------------------------------------

ADMINISTRATIONS_FAILED = ("- **medication administrations (doses and injections given)** could not be obtained: "
                          "the EHR reported an error: pharmacy system timed out.")


@pytest.mark.parametrize(("failed", "summary", "lines"), [
    (("medicationAdministrations",), "medication administrations could not be read", [
        ADMINISTRATIONS_FAILED,
        "- Read, and showing no current naltrexone: medication orders, medication statements and medication "
        "dispenses."]),
    (("medicationDispenses", "medicationAdministrations"),
     "medication dispenses and medication administrations could not be read", [
        "- **medication dispenses** could not be obtained: the EHR reported an error: pharmacy system timed out.",
        ADMINISTRATIONS_FAILED,
        "- Read, and showing no current naltrexone: medication orders and medication statements."]),
])
def test_a_failed_medication_key_is_said_not_silenced(client: Client, failed: tuple[str, ...], summary: str,
                                                      lines: list[str]) -> None:
    """Each key that could not be read is named with the EHR's reason, and so is what was read."""
    request = medications_only("pv-not-on-naltrexone")
    for key in failed:
        request["prefetch"][key] = TIMEOUT
    assert_says(post(client, request), summary, lines)


def test_an_unreadable_medication_record_is_named(client: Client) -> None:
    """A MedicationRequest whose Medication nobody can read may be the naltrexone injection."""
    request = medications_only("pv-not-on-naltrexone")
    request["prefetch"]["medicationRequests"]["entry"].append({"resource": {
        "resourceType": "MedicationRequest", "id": "unknown-drug", "status": "active", "intent": "order",
        "subject": {"reference": "Patient/pv-not-on-naltrexone"}, "authoredOn": "2026-11-01",
        "medicationReference": {"reference": "Medication/not-sent"}}})
    assert_says(post(client, request), "1 medication record unreadable", [
        "- Skipped: 1 MedicationRequest record (its medication (Medication/not-sent) could not be read): "
        "`MedicationRequest/unknown-drug`.",
        "- Read, and showing no current naltrexone: medication orders, medication statements, medication dispenses "
        "and medication administrations.",
    ])


def test_all_read_and_no_naltrexone_is_still_no_cards(client: Client) -> None:
    """The cheap path is kept: every medication key read, none shows naltrexone, nothing else is sent."""
    assert post(client, medications_only("pv-not-on-naltrexone")) == {"cards": []}


def test_another_patients_record_does_not_count(client: Client) -> None:
    request = medications_only("pv-not-on-naltrexone")
    foreign = copy.deepcopy(request["prefetch"]["medicationRequests"]["entry"][0])
    foreign["resource"]["id"] = "someone-else"
    foreign["resource"]["subject"] = {"reference": "Patient/another-patient"}
    request["prefetch"]["medicationRequests"]["entry"].append(foreign)
    assert post(client, request) == {"cards": []}


def test_no_medication_data_at_all_is_a_412_naming_it(client: Client) -> None:
    request = medications_only("pv-not-on-naltrexone")
    for key in MEDICATION_KEYS:
        request["prefetch"][key] = TIMEOUT
    response = client.post(f"/cds-services/{SERVICE}", json=request)
    assert response.status_code == 412, response.text
    issue = response.json()["issue"][0]
    assert sorted(issue["expression"]) == sorted(f"prefetch.{k}" for k in MEDICATION_KEYS)


def test_on_naltrexone_a_failed_key_is_data_incomplete_not_this_card(client: Client) -> None:
    """The naltrexone order was read: the monitoring runs, and data-incomplete names what it could not read."""
    request = load("pv-oral-monitoring-due")
    request["prefetch"]["medicationAdministrations"] = TIMEOUT
    body = post(client, request)
    assert rules(body) == [("data-incomplete", "warning"), ("liver-monitoring-due", "info")]
    assert "medication administrations (doses and injections given)** could not be obtained" in \
        body["cards"][0]["detail"]


# --- the FHIR fallback, against the real FHIR server -----------------------------------------------------------

# each test loads its own patient into the suite's shared server (the tests run in any order)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
PAGE_SIZE, MAX_PAGES = 2, 1  # the service reads at most 2 pages of 2 records per search


def _statement(patient: str, n: int) -> dict:
    return {"resourceType": "MedicationStatement", "id": f"{patient}-ms{n}", "status": "completed",
            "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": f"2026-0{n + 1}-10",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "197806",
                                                      "display": "ibuprofen 600 MG Oral Tablet"}]}}


def _bundle(patient: str, statements: int, naltrexone: bool = False) -> dict:
    """A patient with a long list of medication statements (more than the service reads), an oxycodone order,
    raised ALT and, with `naltrexone`, a current naltrexone order."""
    resources: list[dict] = [
        {"resourceType": "Patient", "id": patient, "birthDate": "1975-04-02"},
        *(_statement(patient, n) for n in range(statements)),
        {"resourceType": "MedicationRequest", "id": f"{patient}-oxy", "status": "active", "intent": "order",
         "subject": {"reference": f"Patient/{patient}"}, "authoredOn": "2026-11-15",
         "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1049621",
                                                   "display": "oxycodone hydrochloride 5 MG Oral Tablet"}]}},
        {"resourceType": "Observation", "id": f"{patient}-alt", "status": "final",
         "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": "2026-11-20",
         "code": {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]},
         "valueQuantity": {"value": 250, "unit": "U/L", "system": "http://unitsofmeasure.org", "code": "U/L"}},
    ]
    if naltrexone:
        resources.append({
            "resourceType": "MedicationRequest", "id": f"{patient}-ntx", "status": "active", "intent": "order",
            "subject": {"reference": f"Patient/{patient}"}, "authoredOn": "2026-11-01",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "314045",
                                                      "display": "naltrexone hydrochloride 50 MG Oral Tablet"}]}})
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


class Recording(httpx.AsyncHTTPTransport):
    """The real network transport, remembering the paths it was asked for (to show what was read)."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path.rsplit("/", 1)[-1])
        return await super().handle_async_request(request)


@pytest.fixture
def fallback(tmp_path: Path, fhir_server: FhirServer) -> Iterator[tuple[Client, Recording]]:
    settings = make_settings(tmp_path, fhir_allow_http="loopback", fhir_page_size=PAGE_SIZE,
                             fhir_max_pages=MAX_PAGES, fhir_request_timeout_seconds=10.0, fhir_deadline_seconds=20.0)
    transport = Recording()
    app = create_app(settings, fetcher_factory=FhirFetcherFactory(settings, transport=transport))
    with TestClient(app) as http:
        yield Client(http), transport


def _request(server: FhirServer, patient: str) -> dict:
    return {"hook": "patient-view", "hookInstance": f"pv-{patient}", "fhirServer": server.base_url,
            "fhirAuthorization": {"access_token": server.token, "token_type": "Bearer", "expires_in": 300,
                                  "scope": "patient/*.read", "subject": "cds-naltrexone"},
            "context": {"patientId": patient, "userId": "Practitioner/dr-addiction"}}


def test_fallback_a_medication_search_longer_than_read_gets_the_card(
        fallback: tuple[Client, Recording], fhir_server: FhirServer) -> None:
    client, transport = fallback
    fhir_server.load(_bundle("pv-unchecked-long-history", statements=5))
    assert_says(post(client, _request(fhir_server, "pv-unchecked-long-history")),
                "medication statements could not be read", [
        "- **medication statements (including over-the-counter use)** could not be obtained: too many pages (more "
        "than 2; at most 1 next pages are read).",
        "- Read, and showing no current naltrexone: medication orders, medication dispenses and medication "
        "administrations.",
    ])
    assert "Observation" not in transport.paths and "Condition" not in transport.paths  # no labs read for it


def test_fallback_everything_read_and_no_naltrexone_reads_no_labs(
        fallback: tuple[Client, Recording], fhir_server: FhirServer) -> None:
    client, transport = fallback
    fhir_server.load(_bundle("pv-unchecked-short-history", statements=2))  # fits in one page
    assert post(client, _request(fhir_server, "pv-unchecked-short-history")) == {"cards": []}
    assert sorted(set(transport.paths)) == ["MedicationAdministration", "MedicationDispense", "MedicationRequest",
                                            "MedicationStatement"]


def test_fallback_naltrexone_found_despite_the_failure_runs_the_monitoring(
        fallback: tuple[Client, Recording], fhir_server: FhirServer) -> None:
    """The naltrexone order was read: the monitoring runs on it (ALT 250 U/L: critical), data-incomplete says
    the statements could not be read, and this card does not appear."""
    client, _transport = fallback
    fhir_server.load(_bundle("pv-unchecked-on-naltrexone", statements=5, naltrexone=True))
    fired = rules(post(client, _request(fhir_server, "pv-unchecked-on-naltrexone")))
    assert ("liver-enzymes-on-naltrexone", "critical") in fired and ("opioid-on-naltrexone", "critical") in fired
    assert ("data-incomplete", "warning") in fired
    assert RULE not in {rule for rule, _indicator in fired}
