"""Small CDS Hooks requests for the naltrexone rule tests: a draft order plus the prefetch, dates from TODAY."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from fhir_builders import resources as fb
from fhir_builders.codes import COND, RX, UDS
from fhir_builders.dates import day as ago
from fhir_builders.resources import cc
from fhir_builders.systems import ICD10CM, RXNORM, SNOMED
from tests.conftest import Client

__all__ = ["ICD10CM", "SNOMED"]  # for the tests that write their own codings

PATIENT = "pt-rules"
ENCOUNTER = "enc-rules"

# RxNorm products used in the tests (fhir_builders/codes/products.csv)
NALTREXONE_50 = RX["naltrexone-50"]
VIVITROL = RX["vivitrol"]
CONTRAVE = RX["contrave"]
LYBALVI = RX["lybalvi"]
OXYCODONE = RX["oxycodone-5"]
HYDROMORPHONE = RX["hydromorphone-2"]
BUP_NALOXONE = RX["bup-nal-film"]
METHADONE = RX["methadone-10"]
LOPERAMIDE = RX["loperamide-in"]
EMBEDA = RX["embeda"]
NALOXONE_SPRAY = RX["naloxone-nasal"]
NALTREXONE_IN = RX["naltrexone-in"]
BUPROPION_IN = RX["bupropion-in"]

# conditions
AUD = COND["aud-dependence"][0]
OUD = COND["oud"][0]
OUD_REMISSION = COND["oud-remission"][0]

# urine screens
OPIATES = UDS["opiates"]
FENTANYL = UDS["fentanyl"]
URINE_NALTREXONE = UDS["naltrexone"]


def _med(product: tuple[str, str]) -> dict:
    return cc([(RXNORM, *product)])


def draft(rid: str = "nal-draft", product: tuple[str, str] = NALTREXONE_50, *, mg: float | None = 50,
          patient: str = PATIENT) -> dict:
    """A draft MedicationRequest, as the EHR sends it in draftOrders (once daily; `mg` None: no dose given)."""
    return fb.draft_order(patient, rid, _med(product), fb.dosage("once daily", mg, "mg", route=None))


def med_request(rid: str, product: tuple[str, str], *, status: str = "active", authored: int = 10,
                supply_days: int | None = 30) -> dict:
    return fb.med_request(PATIENT, rid, _med(product), status=status, authored=ago(authored),
                          supply_days=supply_days)


def med_statement(rid: str, product: tuple[str, str], *, status: str = "completed", start: int | None = 30,
                  end: int | None = None, on: int | None = None) -> dict:
    """A MedicationStatement: effectivePeriod start/end days ago, or a single effectiveDateTime `on` days ago."""
    return fb.med_statement(PATIENT, rid, _med(product), status=status,
                            start=None if start is None else ago(start), end=None if end is None else ago(end),
                            effective=None if on is None else ago(on))


def dispense(rid: str, product: tuple[str, str], *, handed: int, days_supply: int) -> dict:
    return fb.dispense(PATIENT, rid, _med(product), handed_over=ago(handed), days_supply=days_supply)


def condition(rid: str, concept: tuple[str, str, str] = AUD, *, clinical: str = "active",
              verification: str = "confirmed") -> dict:
    return fb.condition(PATIENT, rid, [concept], clinical=clinical, verification=verification)


def urine(rid: str, test: tuple[str, str] = OPIATES, *, days: int = 1, positive: bool | None = False,
          value_string: str | None = None, status: str = "final") -> dict:
    result = None if positive is None else "POS" if positive else "NEG"
    return fb.uds(PATIENT, rid, test, result, when=ago(days), value_string=value_string, status=status)


def liver_test(rid: str = "alt-normal", *, value: float = 20, days: int = 20) -> dict:
    return fb.lab(PATIENT, rid, "alt", value, "U/L", when=ago(days), low=7, high=40)


def allergy(rid: str, product: tuple[str, str] = NALTREXONE_IN, *, clinical: str = "active",
            verification: str = "confirmed") -> dict:
    return fb.allergy(PATIENT, rid, clinical=clinical, verification=verification, substance=_med(product))


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
