"""Small CDS Hooks requests for the patient, dose, indication, liver-test and data rule tests.

Every request is complete (all prefetch keys, so no FHIR server is needed) and anchored to the fixtures'
today (2026-11-25). A prefetch key can be replaced by an OperationOutcome (`failed=...`) or by raw resources.
"""

from __future__ import annotations

import uuid
from typing import Any

from fhir_builders import resources as fb
from fhir_builders.codes import COND, LAB, RX, UDS_CODES
from fhir_builders.dates import day
from fhir_builders.systems import ICD10CM, RXNORM, SNOMED, UCUM

__all__ = ["ICD10CM", "SNOMED", "UCUM"]  # for the tests that write their own codings

PATIENT_ID = "pt-b"
ORDER_ID = "nal-draft"

KEYS = ("patient", "conditions", "medicationRequests", "medicationStatements", "medicationDispenses",
        "medicationAdministrations", "liverTests", "urineDrugScreens", "allergies")
URINE_CODES = UDS_CODES


def patient(birth_date: str = "1980-05-01") -> dict:
    return {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": birth_date}


def condition(cid: str, system: str, code: str, display: str, status: str = "active") -> dict:
    return fb.condition(PATIENT_ID, cid, [(system, code, display)], clinical=status)


def aud(cid: str = "aud") -> dict:
    return condition(cid, *COND["aud-dependence"][0])


def ms(cid: str = "ms") -> dict:
    return condition(cid, *COND["ms"][0])


def cirrhosis(cid: str = "cirrhosis") -> dict:
    return condition(cid, *COND["cirrhosis"][0])


def lab(oid: str, code: str, display: str, value: float, days_ago: int, high: float | None = 40.0) -> dict:
    return fb.lab(PATIENT_ID, oid, (code, display), value, "U/L", when=day(days_ago),
                  low=None if high is None else 7, high=high)


def alt(oid: str = "alt", value: float = 22, days_ago: int = 20) -> dict:
    return lab(oid, *LAB["alt"], value, days_ago)


def ast(oid: str = "ast", value: float = 20, days_ago: int = 20) -> dict:
    return lab(oid, *LAB["ast"], value, days_ago)


def medication(rxcui: str | None = RX["naltrexone-50"][0], display: str = RX["naltrexone-50"][1]) -> dict:
    concept: dict[str, Any] = {"text": display}
    if rxcui:
        concept["coding"] = [{"system": RXNORM, "code": rxcui, "display": display}]
    return concept


def draft(dose: float | None = 50, unit: str = "mg", frequency: float = 1, period: float = 1,
          med: dict | None = None, rid: str = ORDER_ID, text: str | None = None) -> dict:
    """A draft MedicationRequest (default: naltrexone 50 mg tablets, 50 mg once a day; `dose` None: no
    dosageInstruction at all)."""
    dosage = None if dose is None else fb.dosage(text, dose, unit, frequency=frequency, period=period, route=None)
    return fb.draft_order(PATIENT_ID, rid, med or medication(), dosage)


def oxycodone_draft(rid: str = "oxy-draft") -> dict:
    return draft(5, "mg", 4, med=medication(*RX["oxycodone-5"]), rid=rid)


def _key_for(resource: dict) -> str:
    rtype = resource["resourceType"]
    if rtype == "Observation":
        codes = {c.get("code") for c in resource.get("code", {}).get("coding", [])}
        return "urineDrugScreens" if codes & URINE_CODES else "liverTests"
    return {"Condition": "conditions", "MedicationRequest": "medicationRequests",
            "MedicationStatement": "medicationStatements", "MedicationDispense": "medicationDispenses",
            "MedicationAdministration": "medicationAdministrations",
            "AllergyIntolerance": "allergies", "Patient": "patient"}[rtype]


def outcome(diagnostics: str = "Search failed: upstream timeout") -> dict:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "exception", "diagnostics": diagnostics}]}


def request(*resources: dict, drafts: list[dict] | None = None, birth_date: str = "1980-05-01",
            failed: dict[str, str] | None = None, hook: str = "order-sign",
            selections: list[str] | None = None) -> dict:
    """An order-sign (or order-select) request: the drafts (default: naltrexone 50 mg once daily) and the record."""
    drafts = drafts if drafts is not None else [draft()]
    prefetch: dict[str, Any] = {k: {"resourceType": "Bundle", "type": "searchset", "entry": []} for k in KEYS}
    prefetch["patient"] = patient(birth_date)
    for r in resources:
        key = _key_for(r)
        if key == "patient":
            prefetch["patient"] = r
        else:
            prefetch[key]["entry"].append({"resource": r})
    for key, why in (failed or {}).items():
        prefetch[key] = outcome(why)
    context: dict[str, Any] = {
        "userId": "Practitioner/example", "patientId": PATIENT_ID,
        "draftOrders": {"resourceType": "Bundle", "type": "collection",
                        "entry": [{"resource": d} for d in drafts]},
    }
    if hook == "order-select":
        context["selections"] = selections or [f"MedicationRequest/{drafts[0]['id']}"]
    return {"hookInstance": str(uuid.uuid4()), "hook": hook, "context": context, "prefetch": prefetch}


def cards_by_rule(body: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for card in body["cards"]:
        out.setdefault(card["source"]["topic"]["code"], []).append(card)
    return out


def rules_fired(body: dict) -> list[tuple[str, str]]:
    return sorted((c["source"]["topic"]["code"], c["indicator"]) for c in body["cards"])
