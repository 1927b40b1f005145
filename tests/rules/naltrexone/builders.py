"""Small CDS Hooks requests for the naltrexone rule tests: a draft order plus the prefetch, dates from TODAY."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, timedelta

from tests.conftest import TODAY, Client

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
PATIENT = "pt-rules"
ENCOUNTER = "enc-rules"

# RxNorm products used in the tests
NALTREXONE_50 = ("1483744", "naltrexone hydrochloride 50 MG Oral Tablet")
VIVITROL = ("637213", "naltrexone 380 MG Injection")
CONTRAVE = ("1551468", "12 HR bupropion hydrochloride 90 MG / naltrexone hydrochloride 8 MG Extended Release Oral "
                       "Tablet")
LYBALVI = ("2570399", "olanzapine 10 MG / samidorphan 10 MG Oral Tablet")
OXYCODONE = ("1049621", "oxycodone hydrochloride 5 MG Oral Tablet")
HYDROMORPHONE = ("897696", "hydromorphone hydrochloride 2 MG Oral Tablet")
BUP_NALOXONE = ("1010604", "buprenorphine 8 MG / naloxone 2 MG Sublingual Film")
METHADONE = ("864706", "methadone hydrochloride 10 MG Oral Tablet")
LOPERAMIDE = ("6468", "Loperamide")
EMBEDA = ("863845", "Abuse-Deterrent morphine sulfate 100 MG / naltrexone hydrochloride 4 MG Extended Release Oral "
                    "Capsule")
NALOXONE_SPRAY = ("1725059", "naloxone hydrochloride 40 MG/ML Nasal Spray")
NALTREXONE_IN = ("7243", "Naltrexone")
BUPROPION_IN = ("42347", "Bupropion")

# conditions
AUD = (ICD10, "F10.20", "Alcohol dependence, uncomplicated")
OUD = (ICD10, "F11.20", "Opioid dependence, uncomplicated")
OUD_REMISSION = (ICD10, "F11.21", "Opioid dependence, in remission")

# urine screens
OPIATES = ("19295-5", "Opiates [Presence] in Urine by Screen method")
FENTANYL = ("58379-9", "fentaNYL+Norfentanyl [Presence] in Urine by Screen method")
URINE_NALTREXONE = ("19609-7", "Naltrexone [Presence] in Urine")


def today() -> date:
    return date.fromisoformat(TODAY)


def ago(days: int) -> str:
    return (today() - timedelta(days=days)).isoformat()


def _concept(system: str, code: str, display: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _med(product: tuple[str, str]) -> dict:
    return _concept(RXNORM, *product)


def draft(rid: str = "nal-draft", product: tuple[str, str] = NALTREXONE_50, *, mg: float | None = 50,
          patient: str = PATIENT) -> dict:
    """A draft MedicationRequest, as the EHR sends it in draftOrders (once daily)."""
    dosage: dict = {"text": "once daily", "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}
    if mg is not None:
        dosage["doseAndRate"] = [{"doseQuantity": {"value": mg, "unit": "mg", "system": "http://unitsofmeasure.org",
                                                   "code": "mg"}}]
    return {"resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
            "medicationCodeableConcept": _med(product), "subject": {"reference": f"Patient/{patient}"},
            "authoredOn": TODAY, "dosageInstruction": [dosage]}


def med_request(rid: str, product: tuple[str, str], *, status: str = "active", authored: int = 10,
                supply_days: int | None = 30) -> dict:
    r: dict = {"resourceType": "MedicationRequest", "id": rid, "status": status, "intent": "order",
               "medicationCodeableConcept": _med(product), "subject": {"reference": f"Patient/{PATIENT}"},
               "authoredOn": ago(authored)}
    if supply_days is not None:
        r["dispenseRequest"] = {"expectedSupplyDuration": {"value": supply_days, "unit": "days",
                                                           "system": "http://unitsofmeasure.org", "code": "d"}}
    return r


def med_statement(rid: str, product: tuple[str, str], *, status: str = "completed", start: int | None = 30,
                  end: int | None = None, on: int | None = None) -> dict:
    """A MedicationStatement: effectivePeriod start/end days ago, or a single effectiveDateTime `on` days ago."""
    r: dict = {"resourceType": "MedicationStatement", "id": rid, "status": status,
               "medicationCodeableConcept": _med(product), "subject": {"reference": f"Patient/{PATIENT}"}}
    if on is not None:
        r["effectiveDateTime"] = ago(on)
    else:
        period = {}
        if start is not None:
            period["start"] = ago(start)
        if end is not None:
            period["end"] = ago(end)
        r["effectivePeriod"] = period
    return r


def dispense(rid: str, product: tuple[str, str], *, handed: int, days_supply: int) -> dict:
    return {"resourceType": "MedicationDispense", "id": rid, "status": "completed",
            "medicationCodeableConcept": _med(product), "subject": {"reference": f"Patient/{PATIENT}"},
            "whenHandedOver": ago(handed),
            "daysSupply": {"value": days_supply, "unit": "day", "system": "http://unitsofmeasure.org", "code": "d"}}


def condition(rid: str, concept: tuple[str, str, str] = AUD, *, clinical: str = "active",
              verification: str = "confirmed") -> dict:
    return {"resourceType": "Condition", "id": rid,
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": clinical}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                               "code": verification}]},
            "code": _concept(*concept), "subject": {"reference": f"Patient/{PATIENT}"}}


def urine(rid: str, test: tuple[str, str] = OPIATES, *, days: int = 1, positive: bool | None = False,
          value_string: str | None = None, status: str = "final") -> dict:
    r: dict = {"resourceType": "Observation", "id": rid, "status": status, "code": _concept(LOINC, *test),
               "subject": {"reference": f"Patient/{PATIENT}"}, "effectiveDateTime": ago(days)}
    if value_string is not None:
        r["valueString"] = value_string
    elif positive is not None:
        code = "POS" if positive else "NEG"
        r["valueCodeableConcept"] = {"text": "Positive" if positive else "Negative"}
        r["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": code}]}]
    return r


def liver_test(rid: str = "alt-normal", *, value: float = 20, days: int = 20) -> dict:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": _concept(LOINC, "1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or "
                                               "Plasma"),
            "subject": {"reference": f"Patient/{PATIENT}"}, "effectiveDateTime": ago(days),
            "valueQuantity": {"value": value, "unit": "U/L", "system": "http://unitsofmeasure.org", "code": "U/L"},
            "referenceRange": [{"low": {"value": 7, "unit": "U/L"}, "high": {"value": 40, "unit": "U/L"}}]}


def allergy(rid: str, product: tuple[str, str] = NALTREXONE_IN, *, clinical: str = "active",
            verification: str = "confirmed") -> dict:
    return {"resourceType": "AllergyIntolerance", "id": rid,
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                           "code": clinical}]},
            "verificationStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                "code": verification}]},
            "code": _med(product), "patient": {"reference": f"Patient/{PATIENT}"}}


def _bundle(resources: Iterable[dict]) -> dict:
    items = list(resources)
    return {"resourceType": "Bundle", "type": "searchset", "total": len(items),
            "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": r} for r in items]}


def failed() -> dict:
    """What a client puts under a prefetch key it could not fill."""
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "exception", "diagnostics": "query timed out"}]}


def hook_request(drafts: list[dict] | dict | None = None, *, conditions: Iterable[dict] | None = None,
                 requests: Iterable[dict] = (), statements: Iterable[dict] = (), dispenses: Iterable[dict] = (),
                 administrations: Iterable[dict] = (),
                 urine_screens: Iterable[dict] = (), liver: Iterable[dict] | None = None,
                 allergies: Iterable[dict] = (), birth_date: str = "1980-05-01", hook: str = "order-sign",
                 selections: list[str] | None = None, unavailable: Iterable[str] = ()) -> dict:
    """A complete order-sign (or order-select) request. By default an adult with alcohol dependence and a normal ALT,
    so that only the rule under test speaks. `unavailable` prefetch keys carry an OperationOutcome."""
    if drafts is None:
        drafts = [draft()]
    elif isinstance(drafts, dict):
        drafts = [drafts]
    prefetch: dict = {
        "patient": {"resourceType": "Patient", "id": PATIENT, "birthDate": birth_date},
        "conditions": _bundle([condition("aud")] if conditions is None else conditions),
        "medicationRequests": _bundle(requests),
        "medicationStatements": _bundle(statements),
        "medicationDispenses": _bundle(dispenses),
        "medicationAdministrations": _bundle(administrations),
        "liverTests": _bundle([liver_test()] if liver is None else liver),
        "urineDrugScreens": _bundle(urine_screens),
        "allergies": _bundle(allergies),
    }
    for key in unavailable:
        prefetch[key] = failed()
    context: dict = {"userId": "Practitioner/test", "patientId": PATIENT, "encounterId": ENCOUNTER,
                     "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                     "entry": [{"resource": d} for d in drafts]}}
    if hook == "order-select":
        context["selections"] = selections or [f"MedicationRequest/{drafts[0]['id']}"]
    return {"hookInstance": str(uuid.uuid4()), "hook": hook, "context": context, "prefetch": prefetch}


def cards(body: dict, rule_id: str) -> list[dict]:
    return [c for c in body["cards"] if c["source"]["topic"]["code"] == rule_id]


def rule_ids(body: dict) -> list[tuple[str, str]]:
    return sorted((c["source"]["topic"]["code"], c["indicator"]) for c in body["cards"])


def one(body: dict, rule_id: str) -> dict:
    found = cards(body, rule_id)
    assert len(found) == 1, f"expected one {rule_id} card, got {rule_ids(body)}"
    return found[0]


def actions(card: dict, kind: str) -> list[dict]:
    return [a for s in card.get("suggestions", []) for a in s.get("actions", []) if a["type"] == kind]


def post(client: Client, request: dict) -> dict:
    response = client.hook(request)
    assert response.status_code == 200, response.text
    return response.json()
