"""Red-team findings 1 and 2 (issue 17): one record must not take a patient's check down, and another
patient's resources (their `Patient` included) never decide anything about this one."""

from __future__ import annotations

import copy

import pytest

from cds_service.bounded import OutOfRange, add_days, finite_number, utc_instant
from cds_service.fhir.read import number, parse_date
from tests.conftest import Client, load_fixture


def rules(body: dict) -> list[tuple[str, str]]:
    return [(c["source"]["topic"]["code"], c["indicator"]) for c in body["cards"]]


def card(body: dict, rule: str) -> dict:
    return next(c for c in body["cards"] if c["source"]["topic"]["code"] == rule)


# --- finding 1: a huge supply raised OverflowError and answered 500 ------------------------------------

@pytest.mark.parametrize("value", [10**400, 1e308, "1e400", float("inf"), 3_000_000.0])
def test_bounded_conversion_refuses_out_of_range_values(value: object) -> None:
    with pytest.raises(OutOfRange):
        day = finite_number(value)
        add_days(parse_date("2026-11-25"), day)  # type: ignore[arg-type]


def test_bounded_conversion_edges() -> None:
    assert number("12.5") == 12.5 and number("high") is None and number(True) is None
    with pytest.raises(OutOfRange):
        parse_date("0001-01-01")
    with pytest.raises(OutOfRange):
        parse_date("9999-12-31T23:59:59+14:00")
    from datetime import datetime
    with pytest.raises(OutOfRange):
        utc_instant(datetime.fromisoformat("0001-01-01T00:00:00+01:00"))


def huge_dispense(patient: str, days: float) -> dict:
    return {"resourceType": "MedicationDispense", "id": "huge-supply", "status": "completed",
            "subject": {"reference": f"Patient/{patient}"}, "whenHandedOver": "2026-11-01",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                      "code": "1049621"}]},
            "daysSupply": {"value": days, "unit": "day"}}


@pytest.mark.parametrize("days", [2_932_897, 1e300, "1e400"])
def test_huge_dispense_supply_makes_only_that_record_unreadable(client: Client, days: object) -> None:
    request = load_fixture("opioid-stopped-3-days", "order-sign.json")
    expected = rules(client.hook(copy.deepcopy(request)).json())
    patient = request["context"]["patientId"]
    request["prefetch"]["medicationDispenses"] = {"resourceType": "Bundle", "type": "searchset",
                                                  "entry": [{"resource": huge_dispense(patient, days)}]}
    response = client.hook(request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(expected) <= set(rules(body))  # the other records still decide
    incomplete = card(body, "data-incomplete")
    assert "`MedicationDispense/huge-supply`" in incomplete["detail"]
    assert "out of range" in incomplete["detail"]


def test_huge_supply_on_a_medication_request_record(client: Client) -> None:
    request = load_fixture("opioid-stopped-3-days", "order-sign.json")
    patient = request["context"]["patientId"]
    huge = {"resourceType": "MedicationRequest", "id": "huge-request", "status": "completed", "intent": "order",
            "subject": {"reference": f"Patient/{patient}"}, "authoredOn": "2026-10-01",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                      "code": "1049621"}]},
            "dispenseRequest": {"expectedSupplyDuration": {"value": 2_932_897, "code": "d"}}}
    request["prefetch"]["medicationRequests"].setdefault("entry", []).append({"resource": huge})
    response = client.hook(request)
    assert response.status_code == 200, response.text
    assert ("opioid-washout", "critical") in rules(response.json())
    assert "`MedicationRequest/huge-request`" in card(response.json(), "data-incomplete")["detail"]


def test_huge_supply_on_the_draft_still_checks_the_order(client: Client) -> None:
    request = load_fixture("opioid-stopped-3-days", "order-sign.json")
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    draft["dispenseRequest"] = {"expectedSupplyDuration": {"value": 1e300, "code": "d"}}
    response = client.hook(request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert ("opioid-washout", "critical") in rules(body)  # the order is still checked
    assert f"`MedicationRequest/{draft['id']}`" in card(body, "data-incomplete")["detail"]


# --- finding 2: another patient's Patient decided the age check ----------------------------------------

def test_another_patients_birth_date_does_not_decide_the_age_check(client: Client) -> None:
    request = load_fixture("age-17", "order-sign.json")
    stranger = {"resourceType": "Patient", "id": "someone-else", "birthDate": "1970-01-01"}
    request["prefetch"]["patient"] = {"resourceType": "Bundle", "type": "searchset",
                                      "entry": [{"resource": request["prefetch"]["patient"]},
                                                {"resource": stranger}]}
    body = client.hook(request).json()
    assert ("young-patient", "warning") in rules(body)  # the real 16/17-year-old keeps her warning
    incomplete = card(body, "data-incomplete")
    assert "1 record of another patient left out" in incomplete["summary"]
    assert "`Patient/someone-else`" in incomplete["detail"]


def test_a_young_stranger_does_not_make_an_adult_young(client: Client) -> None:
    request = load_fixture("age-20-aud", "order-sign.json")
    assert ("young-patient", "warning") not in rules(client.hook(copy.deepcopy(request)).json())
    stranger = {"resourceType": "Patient", "id": "child", "birthDate": "2015-01-01"}
    request["prefetch"]["patient"] = {"resourceType": "Bundle", "type": "searchset",
                                      "entry": [{"resource": request["prefetch"]["patient"]},
                                                {"resource": stranger}]}
    body = client.hook(request).json()
    assert ("young-patient", "warning") not in rules(body)
    assert "`Patient/child`" in card(body, "data-incomplete")["detail"]


def test_only_a_stranger_patient_leaves_the_age_unknown(client: Client) -> None:
    request = load_fixture("age-17", "order-sign.json")
    request["prefetch"]["patient"] = {"resourceType": "Patient", "id": "someone-else", "birthDate": "1970-01-01"}
    body = client.hook(request).json()
    assert ("young-patient", "warning") not in rules(body)
    incomplete = card(body, "data-incomplete")
    assert "`young-patient`" in incomplete["detail"] and "`Patient/someone-else`" in incomplete["detail"]
