"""SNOMED CT- and NDC-coded medications through HTTP, one per direction, with displays no text matcher reads.

1. A Swiss/UK-style chart: the active opioid MedicationRequest carries only SNOMED CT 430127000 "Oral form
   oxycodone" (the FHIR R4 example Medication med0310) and a house-formulary abbreviation as its text. A
   naltrexone order must still get `opioid-concurrent` critical: the code, not the text, makes it an opioid.
2. A US clinic charts the Vivitrol injection as a MedicationAdministration coded with the kit's 11-digit NDC
   (65757-0300-01, DailyMed SPL) only. An opioid order 10 days later must get `naltrexone-blocks-opioid`.
"""

from __future__ import annotations

from fhir_builders.systems import NDC, SNOMED
from tests.conftest import Client
from tests.rules.naltrexone import requests_b as b

HOUSE_OXY = "Oxy p.o. 5 mg (Hausliste)"  # names no INN: the text alone would not be recognised


def post(client: Client, request: dict) -> dict:
    response = client.hook(request)
    assert response.status_code == 200, response.text
    return response.json()


def snomed_opioid_order() -> dict:
    return {
        "resourceType": "MedicationRequest", "id": "oxy-sct", "status": "active", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": SNOMED, "code": "430127000",
                                                  "display": HOUSE_OXY}], "text": HOUSE_OXY},
        "subject": {"reference": f"Patient/{b.PATIENT_ID}"}, "authoredOn": b.day(5),
        "dosageInstruction": [{"text": "1 Tbl. alle 6 h bei Bedarf"}],
    }


def ndc_xr_administration(days_ago: int = 10) -> dict:
    return {
        "resourceType": "MedicationAdministration", "id": "xr-ndc", "status": "completed",
        "medicationCodeableConcept": {"coding": [{"system": NDC, "code": "65757-0300-01",
                                                  "display": "XR-NTX Kit 380"}], "text": "XR-NTX Kit 380"},
        "subject": {"reference": f"Patient/{b.PATIENT_ID}"},
        "effectiveDateTime": f"{b.day(days_ago)}T10:15:00-05:00",
        "dosage": {"route": {"text": "IM, gluteal"},
                   "dose": {"value": 380, "unit": "mg", "system": b.UCUM, "code": "mg"}},
    }


def test_naltrexone_order_blocked_by_a_snomed_coded_opioid(client: Client) -> None:
    body = post(client, b.request(b.aud(), b.alt(), b.ast(), snomed_opioid_order()))
    assert b.rules_fired(body) == [("opioid-concurrent", "critical"), ("urine-screen-needed", "warning")]
    card = b.cards_by_rule(body)["opioid-concurrent"][0]
    assert "`MedicationRequest/oxy-sct`" in card["detail"]
    assert HOUSE_OXY in card["detail"]
    assert "recognised from the text" not in card["detail"]  # classified by its SNOMED CT code


def test_opioid_order_blocked_by_an_ndc_coded_xr_naltrexone_administration(client: Client) -> None:
    body = post(client, b.request(ndc_xr_administration(10), drafts=[b.oxycodone_draft()]))
    assert b.rules_fired(body) == [("naltrexone-blocks-opioid", "critical")]
    card = body["cards"][0]
    assert "`MedicationAdministration/xr-ndc`" in card["detail"]
    assert "10 days ago" in card["detail"]
    assert "recognised from the text" not in card["detail"]


def test_without_the_codes_neither_chart_would_be_recognised(client: Client) -> None:
    """The control: the same resources with unshipped codes give no card at all, so the cards above come from
    the shipped SNOMED CT / NDC entries (`terminology audit` lists such codes for a site to map)."""
    opioid = snomed_opioid_order()
    opioid["medicationCodeableConcept"]["coding"][0]["code"] = "999999999"
    assert post(client, b.request(b.aud(), b.alt(), b.ast(), opioid))["cards"] == []
    xr = ndc_xr_administration(10)
    xr["medicationCodeableConcept"]["coding"][0]["code"] = "00000-0000-00"
    assert post(client, b.request(xr, drafts=[b.oxycodone_draft()]))["cards"] == []
