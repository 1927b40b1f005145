#!/usr/bin/env python3
"""Build the FHIR/CDS Hooks test fixtures under ``fhir_fixtures/``.

Deterministic: run it twice and the output is byte-identical. Every date is anchored to
TODAY = 2026-11-25 (the service runs with ``CDS_TODAY=2026-11-25`` in tests).

For each scenario it writes ``fhir_fixtures/<scenario-id>/``:
  * ``bundle.json``        FHIR R4 transaction Bundle (PUT entries) of the patient's record
  * ``order-sign.json``    complete CDS Hooks 2.0 request (context + prefetch)
  * ``order-select.json``  same, with ``context.selections``
  * ``expected.json``      the cards the service must (and must not) return
plus ``fhir_fixtures/index.json`` and ``fhir_fixtures/README.md``.

Every resource is validated with ``fhir.resources.R4B`` except those a scenario marks as deliberately
invalid (the malformed Observation, and the CDS Hooks Sandbox draft order with ``category`` as an object).

Run:  .venv/bin/python scripts/build_fixtures.py
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fhir_fixtures"

TODAY = date(2026, 11, 25)
TZ = "-05:00"  # US Eastern standard time in November; times are mid-day so no UTC date shift
FHIR_BASE = "http://127.0.0.1:8091/fhir"  # placeholder; tests replace it
USER_ID = "Practitioner/example"
NS = uuid.UUID("6f1d7c1e-2b1a-4f0e-9c55-0a7e3b0c2d11")  # namespace for deterministic uuids

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
COND_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
COND_CAT = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VER = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
MR_CAT = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
MS_CAT = "http://terminology.hl7.org/CodeSystem/medication-statement-category"
ORDERABLE_FORM = "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm"
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.19.5.99999.1"

RULE_IDS = {
    "opioid-concurrent", "opioid-washout", "urine-screen-positive", "urine-screen-needed", "liver-disease",
    "liver-enzymes", "liver-tests-missing", "young-patient", "indication-off-label", "indication-missing",
    "low-dose", "overdose-risk", "duplicate-antagonist", "allergy", "data-incomplete",
    "naltrexone-blocks-opioid",
}

# --------------------------------------------------------------------------------------------------------
# Terminology used by the fixtures (codes from the reference knowledge file and the CDC value sets)
# --------------------------------------------------------------------------------------------------------
RX = {  # key: (RxCUI, RxNorm display)
    "naltrexone-in": ("7243", "naltrexone"),
    "naltrexone-50": ("1483744", "naltrexone hydrochloride 50 MG Oral Tablet"),
    "vivitrol": ("637213", "naltrexone 380 MG Injection"),
    "contrave": ("1551468", "12 HR bupropion hydrochloride 90 MG / naltrexone hydrochloride 8 MG "
                            "Extended Release Oral Tablet"),
    "lybalvi": ("2570399", "olanzapine 10 MG / samidorphan 10 MG Oral Tablet"),
    "embeda": ("863845", "Abuse-Deterrent morphine sulfate 100 MG / naltrexone hydrochloride 4 MG "
                         "Extended Release Oral Capsule"),
    "oxycodone-5": ("1049621", "oxycodone hydrochloride 5 MG Oral Tablet"),
    "hydrocodone-apap": ("857002", "acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet"),
    "tramadol-50": ("835603", "tramadol hydrochloride 50 MG Oral Tablet"),
    "codeine-30": ("997285", "codeine phosphate 30 MG Oral Tablet"),
    "codeine-guaifenesin": ("995868", "codeine phosphate 2 MG/ML / guaifenesin 20 MG/ML Oral Solution"),
    "bup-nal-film": ("1010604", "buprenorphine 8 MG / naloxone 2 MG Sublingual Film"),
    "methadone-10": ("864706", "methadone hydrochloride 10 MG Oral Tablet"),
    "butorphanol-nasal": ("886634", "butorphanol tartrate 1 MG/ACTUAT Metered Dose Nasal Spray"),
    "hydromorphone-2": ("897696", "hydromorphone hydrochloride 2 MG Oral Tablet"),
    "morphine-15": ("892582", "morphine sulfate 15 MG Oral Tablet"),
    "naloxone-nasal": ("1725059", "naloxone hydrochloride 40 MG/ML Nasal Spray"),
    "loperamide-in": ("6468", "loperamide"),
    "atorvastatin-40": ("617311", "atorvastatin 40 MG Oral Tablet"),
    "lisinopril-10": ("314076", "lisinopril 10 MG Oral Tablet"),
}

COND = {  # key: list of (system, code, display)
    "aud-dependence": [(ICD10, "F10.20", "Alcohol dependence, uncomplicated"),
                       (SNOMED, "66590003", "Alcohol dependence (disorder)")],
    "aud-abuse": [(ICD10, "F10.10", "Alcohol abuse, uncomplicated"),
                  (SNOMED, "15167005", "Alcohol abuse (disorder)")],
    "oud": [(ICD10, "F11.20", "Opioid dependence, uncomplicated"),
            (SNOMED, "75544000", "Opioid dependence (disorder)")],
    "oud-remission": [(ICD10, "F11.21", "Opioid dependence, in remission"),
                      (SNOMED, "191821007", "Opioid dependence in remission (disorder)")],
    "oud-agonist": [(SNOMED, "1081000119105", "Opioid dependence, on agonist therapy (disorder)"),
                    (ICD10, "F11.20", "Opioid dependence, uncomplicated")],
    "ms": [(SNOMED, "24700007", "Multiple sclerosis (disorder)"), (ICD10, "G35", "Multiple sclerosis")],
    "cirrhosis": [(SNOMED, "19943007", "Cirrhosis of liver (disorder)")],
    "alcoholic-cirrhosis": [(ICD10, "K70.30", "Alcoholic cirrhosis of liver without ascites"),
                            (SNOMED, "420054005", "Alcoholic cirrhosis (disorder)")],
    "acute-hepatitis": [(SNOMED, "37871000", "Acute hepatitis (disorder)")],
    "acute-hepatitis-b": [(ICD10, "B16.9", "Acute hepatitis B without delta-agent and without hepatic coma")],
    "hypertension": [(ICD10, "I10", "Essential (primary) hypertension"),
                     (SNOMED, "38341003", "Hypertensive disorder, systemic arterial (disorder)")],
    "low-back-pain": [(ICD10, "M54.50", "Low back pain, unspecified"),
                      (SNOMED, "279039007", "Low back pain (finding)")],
    "migraine": [(ICD10, "G43.909", "Migraine, unspecified, not intractable, without status migrainosus"),
                 (SNOMED, "37796009", "Migraine (disorder)")],
    "schizophrenia": [(ICD10, "F20.9", "Schizophrenia, unspecified"),
                      (SNOMED, "58214004", "Schizophrenia (disorder)")],
    "obesity": [(ICD10, "E66.9", "Obesity, unspecified"), (SNOMED, "414916001", "Obesity (disorder)")],
    "cough": [(ICD10, "R05.9", "Cough, unspecified"), (SNOMED, "49727002", "Cough (finding)")],
    "renal-colic": [(ICD10, "N23", "Unspecified renal colic"), (SNOMED, "49038008", "Renal colic (finding)")],
    "wrist-fracture": [(ICD10, "S62.101A", "Fracture of unspecified carpal bone, right wrist, initial encounter "
                                           "for closed fracture"),
                       (SNOMED, "263204007", "Fracture of wrist (disorder)")],
    "hyperlipidemia": [(ICD10, "E78.5", "Hyperlipidemia, unspecified"),
                       (SNOMED, "55822004", "Hyperlipidemia (disorder)")],
}

LAB = {  # LOINC code, display
    "alt": ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma"),
    "ast": ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma"),
    "bmi": ("39156-5", "Body mass index (BMI) [Ratio]"),
}
UDS = {
    "opiates": ("19295-5", "Opiates [Presence] in Urine by Screen method"),
    "fentanyl": ("58379-9", "fentaNYL+Norfentanyl [Presence] in Urine by Screen method"),
    "buprenorphine": ("58359-1", "Buprenorphine+Norbuprenorphine [Presence] in Urine by Screen method"),
    "naltrexone": ("19609-7", "Naltrexone [Presence] in Urine by Screen method"),
}
LIVER_TEST_CODES = {"1742-6", "1920-8", "30239-8", "88112-8",  # + the codes scripts/fixtures_terminology.py uses
                    "1743-4", "76625-3", "77144-4", "48136-6"}
UDS_CODES = {code for code, _ in UDS.values()} | {"3879-4", "59673-4", "19550-3", "58430-0", "19642-8", "19321-9"}

ROUTE = {
    "oral": (SNOMED, "26643006", "Oral route (qualifier value)"),
    "im": (SNOMED, "78421000", "Intramuscular route (qualifier value)"),
    "nasal": (SNOMED, "46713006", "Nasal route (qualifier value)"),
    "sublingual": (SNOMED, "37839007", "Sublingual route (qualifier value)"),
}


# --------------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------------
def day(days_ago: int) -> str:
    """A date `days_ago` days before TODAY (negative = in the future), as YYYY-MM-DD."""
    return (TODAY - timedelta(days=days_ago)).isoformat()


def at(days_ago: int, hhmm: str = "09:30") -> str:
    """A dateTime with time and timezone, `days_ago` days before TODAY."""
    return f"{day(days_ago)}T{hhmm}:00{TZ}"


def issued(when: str, hours: int = 3) -> str:
    """Result release time (an `instant`): a few hours after specimen collection."""
    return (datetime.fromisoformat(when) + timedelta(hours=hours)).isoformat(timespec="milliseconds")


def uid(*parts: str) -> str:
    return str(uuid.uuid5(NS, "/".join(parts)))


def ref(resource: dict) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def coding(system: str, code: str, display: str) -> dict:
    return {"system": system, "code": code, "display": display}


def cc(codings: list[tuple[str, str, str]], text: str | None = None) -> dict:
    out: dict[str, Any] = {"coding": [coding(*c) for c in codings]}
    out["text"] = text or codings[0][2]
    return out


def rx(key: str, text: str | None = None) -> dict:
    code, display = RX[key]
    return cc([(RXNORM, code, display)], text=text or display)


def qty(value: float, code: str, unit: str | None = None) -> dict:
    return {"value": value, "unit": unit or code, "system": UCUM, "code": code}


def days(n: int) -> dict:
    return qty(n, "d", "days")


def dosage(text: str, value: float, unit: str, *, frequency: int = 1, period: float = 1, period_unit: str = "d",
           prn: bool = False, route: str = "oral") -> dict:
    """dosageInstruction entry: timing + doseQuantity (UCUM `mg`, or `{tbl}`/`{pill}`/`{actuat}`/`mL`)."""
    unit_display = {"{tbl}": "tablet", "{pill}": "pill", "{actuat}": "spray", "{cap}": "capsule"}.get(unit, unit)
    d: dict[str, Any] = {
        "sequence": 1,
        "text": text,
        "timing": {"repeat": {"frequency": frequency, "period": period, "periodUnit": period_unit}},
    }
    if prn:
        d["asNeededBoolean"] = True
    d["route"] = cc([ROUTE[route]])
    d["doseAndRate"] = [{"doseQuantity": qty(value, unit, unit_display)}]
    return d


# --------------------------------------------------------------------------------------------------------
# Resource constructors
# --------------------------------------------------------------------------------------------------------
def patient(pid: str, given: str, family: str, gender: str, birth: str) -> dict:
    return {
        "resourceType": "Patient",
        "id": pid,
        "meta": {"lastUpdated": at(30, "08:00")},
        "identifier": [{
            "use": "usual",
            "type": cc([("http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical record number")]),
            "system": MRN_SYSTEM,
            "value": f"MRN-{abs(hash_str(pid)) % 10_000_000:07d}",
        }],
        "active": True,
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": gender,
        "birthDate": birth,
    }


def hash_str(s: str) -> int:
    """Stable (process-independent) hash for MRNs."""
    return int(uuid.uuid5(NS, s).hex[:12], 16)


def condition(pid: str, cid: str, key: str, *, clinical: str = "active", verification: str = "confirmed",
              onset: str | None = None, abatement: str | None = None, recorded: str | None = None) -> dict:
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": cc([(COND_CLINICAL, clinical, clinical.capitalize())]),
        "verificationStatus": cc([(COND_VER, verification,
                                   {"entered-in-error": "Entered in Error"}.get(verification,
                                                                                verification.capitalize()))]),
        "category": [cc([(COND_CAT, "problem-list-item", "Problem List Item")])],
        "code": cc(COND[key]),
        "subject": {"reference": f"Patient/{pid}"},
    }
    if onset:
        res["onsetDateTime"] = onset
    if abatement:
        res["abatementDateTime"] = abatement
    res["recordedDate"] = recorded or onset or at(200)
    return res


def medication(mid: str, key: str, *, ingredient: tuple[str, float, str] | None = None) -> dict:
    """Medication resource; `ingredient` = (RxNorm key of the ingredient, strength value, strength unit)."""
    res: dict[str, Any] = {"resourceType": "Medication", "id": mid, "code": rx(key)}
    if ingredient:
        ing_key, value, unit = ingredient
        res["form"] = cc([(ORDERABLE_FORM, "TAB", "Tablet")])
        res["ingredient"] = [{
            "itemCodeableConcept": rx(ing_key),
            "isActive": True,
            "strength": {"numerator": qty(value, unit),
                         "denominator": {"value": 1, "unit": "tablet", "system": ORDERABLE_FORM, "code": "TAB"}},
        }]
    return res


def med_fields(med: dict | str) -> dict:
    """`med` is a CodeableConcept dict, or a reference string (Medication/x or #contained)."""
    if isinstance(med, str):
        return {"medicationReference": {"reference": med}}
    return {"medicationCodeableConcept": med}


def med_request(pid: str, mid: str, med: dict | str, *, status: str, authored: str, dose: dict,
                supply_days: int | None = None, quantity: tuple[float, str] | None = None,
                validity: tuple[str, str] | None = None, reason: str | None = None,
                status_reason: str | None = None, category: str = "community", refills: int = 0) -> dict:
    res: dict[str, Any] = {"resourceType": "MedicationRequest", "id": mid, "status": status}
    if status_reason:
        res["statusReason"] = {"text": status_reason}
    res["intent"] = "order"
    res["category"] = [cc([(MR_CAT, category, category.capitalize())])]
    res.update(med_fields(med))
    res["subject"] = {"reference": f"Patient/{pid}"}
    res["authoredOn"] = authored
    res["requester"] = {"display": "Dana Whitfield, MD"}
    if reason:
        res["reasonCode"] = [cc(COND[reason])]
    res["dosageInstruction"] = [dose]
    dr: dict[str, Any] = {}
    if validity:
        dr["validityPeriod"] = {"start": validity[0], "end": validity[1]}
    dr["numberOfRepeatsAllowed"] = refills
    if quantity:
        dr["quantity"] = qty(quantity[0], quantity[1],
                             {"{tbl}": "tablet", "mL": "mL", "{actuat}": "spray"}.get(quantity[1]))
    if supply_days is not None:
        dr["expectedSupplyDuration"] = days(supply_days)
    res["dispenseRequest"] = dr
    return res


def draft_order(pid: str, mid: str, med: dict | str, dose: dict, *, supply_days: int = 30,
                encounter_id: str | None = None, contained: list[dict] | None = None,
                reason: str | None = None) -> dict:
    """A draft MedicationRequest as an EHR sends it in context.draftOrders."""
    res: dict[str, Any] = {"resourceType": "MedicationRequest", "id": mid}
    if contained:
        res["contained"] = contained
    res["status"] = "draft"
    res["intent"] = "order"
    res["category"] = [cc([(MR_CAT, "outpatient", "Outpatient")])]
    res.update(med_fields(med))
    res["subject"] = {"reference": f"Patient/{pid}"}
    if encounter_id:
        res["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    res["authoredOn"] = TODAY.isoformat()
    res["requester"] = {"reference": USER_ID}
    if reason:
        res["reasonCode"] = [cc(COND[reason])]
    res["dosageInstruction"] = [dose]
    res["dispenseRequest"] = {"numberOfRepeatsAllowed": 0, "expectedSupplyDuration": days(supply_days)}
    return res


def med_statement(pid: str, sid: str, med: dict | str, *, status: str, start: str | None = None,
                  end: str | None = None, effective: str | None = None, asserted: str | None = None,
                  dose: dict | None = None, source_patient: bool = True, note: str | None = None) -> dict:
    res: dict[str, Any] = {"resourceType": "MedicationStatement", "id": sid, "status": status,
                           "category": cc([(MS_CAT, "community", "Community")])}
    res.update(med_fields(med))
    res["subject"] = {"reference": f"Patient/{pid}"}
    if effective:
        res["effectiveDateTime"] = effective
    else:
        period = {"start": start}
        if end:
            period["end"] = end
        res["effectivePeriod"] = period
    res["dateAsserted"] = asserted or at(1, "10:00")
    res["informationSource"] = ({"reference": f"Patient/{pid}"} if source_patient
                                else {"display": "Dana Whitfield, MD"})
    if note:
        res["note"] = [{"text": note}]
    if dose:
        res["dosage"] = [dose]
    return res


def dispense(pid: str, did: str, med: dict, *, handed_over: str, days_supply: int, quantity: float,
             unit: str = "{tbl}", prescription: str | None = None) -> dict:
    res: dict[str, Any] = {"resourceType": "MedicationDispense", "id": did, "status": "completed",
                           "medicationCodeableConcept": med, "subject": {"reference": f"Patient/{pid}"}}
    if prescription:
        res["authorizingPrescription"] = [{"reference": prescription}]
    res["type"] = cc([("http://terminology.hl7.org/CodeSystem/v3-ActCode", "FF", "First Fill")])
    res["quantity"] = qty(quantity, unit, {"{tbl}": "tablet", "{film}": "film"}.get(unit, unit))
    res["daysSupply"] = days(days_supply)
    res["whenPrepared"] = handed_over
    res["whenHandedOver"] = handed_over
    return res


def lab(pid: str, oid: str, key: str, value: float, unit: str, *, when: str, low: float | None = None,
        high: float | None = None, interp: str | None = None, unit_display: str | None = None) -> dict:
    code, display = LAB[key]
    res: dict[str, Any] = {
        "resourceType": "Observation", "id": oid, "status": "final",
        "category": [cc([(OBS_CAT, "laboratory", "Laboratory")])],
        "code": cc([(LOINC, code, display)]),
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when,
        "issued": issued(when),
        "valueQuantity": qty(value, unit, unit_display),
    }
    if interp:
        res["interpretation"] = [cc([(INTERP, interp, {"H": "High", "N": "Normal", "L": "Low"}[interp])])]
    if high is not None:
        rr: dict[str, Any] = {}
        if low is not None:
            rr["low"] = qty(low, unit, unit_display)
        rr["high"] = qty(high, unit, unit_display)
        res["referenceRange"] = [rr]
    return res


def normal_lfts(pid: str, prefix: str, days_ago: int = 20) -> list[dict]:
    when = at(days_ago, "09:10")
    return [
        lab(pid, f"{prefix}-alt", "alt", 24, "U/L", when=when, low=7, high=42, interp="N"),
        lab(pid, f"{prefix}-ast", "ast", 21, "U/L", when=when, low=10, high=40, interp="N"),
    ]


def uds(pid: str, oid: str, key: str, result: str, *, when: str, value_string: str | None = None) -> dict:
    """Urine drug screen. result POS/NEG -> valueCodeableConcept + interpretation; or a bare valueString."""
    code, display = UDS[key]
    res: dict[str, Any] = {
        "resourceType": "Observation", "id": oid, "status": "final",
        "category": [cc([(OBS_CAT, "laboratory", "Laboratory")])],
        "code": cc([(LOINC, code, display)]),
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when,
        "issued": issued(when),
    }
    if value_string is not None:
        res["valueString"] = value_string
        return res
    if result == "POS":
        res["valueCodeableConcept"] = cc([(SNOMED, "10828004", "Positive (qualifier value)")], text="Positive")
        res["interpretation"] = [cc([(INTERP, "POS", "Positive")])]
    else:
        res["valueCodeableConcept"] = cc([(SNOMED, "260385009", "Negative (qualifier value)")], text="Negative")
        res["interpretation"] = [cc([(INTERP, "NEG", "Negative")])]
    return res


def allergy(pid: str, aid: str, *, verification: str = "confirmed", clinical: str = "active") -> dict:
    return {
        "resourceType": "AllergyIntolerance", "id": aid,
        "clinicalStatus": cc([(ALLERGY_CLINICAL, clinical, clinical.capitalize())]),
        "verificationStatus": cc([(ALLERGY_VER, verification, verification.capitalize())]),
        "type": "allergy", "category": ["medication"], "criticality": "high",
        "code": rx("naltrexone-in", text="Naltrexone"),
        "patient": {"reference": f"Patient/{pid}"},
        "recordedDate": at(400, "11:00"),
        "reaction": [{"manifestation": [cc([(SNOMED, "126485001", "Urticaria (disorder)")])],
                      "severity": "moderate"}],
    }


# --------------------------------------------------------------------------------------------------------
# Scenario model and expectations
# --------------------------------------------------------------------------------------------------------
def card(rule: str, indicator: str, evidence: tuple[str, ...] | list[str] = (), contains: tuple[str, ...] = (),
         not_cited: tuple[str, ...] = ()) -> dict:
    c: dict[str, Any] = {"rule": rule, "indicator": indicator, "evidence": list(evidence),
                         "detail_contains": list(contains)}
    if not_cited:
        c["evidence_absent"] = list(not_cited)  # references the detail must NOT cite
    return c


def expect(cards: list[dict], absent: tuple[str, ...] = (), max_indicator: str | None = None) -> dict:
    out: dict[str, Any] = {"cards": cards, "absent_rules": list(absent)}
    if max_indicator:
        out["max_indicator"] = max_indicator
    return out


@dataclass
class Scenario:
    id: str
    description: str
    patient: dict
    resources: list[dict]
    drafts: list[dict]
    sign: dict
    select: dict | None = None                  # None: same as sign
    selections: list[str] | None = None         # default: the first draft
    draft_bundle_extra: list[dict] = field(default_factory=list)  # e.g. a Medication referenced by a draft
    encounter_id: str | None = None
    sandbox: bool = False                        # exact CDS Hooks Sandbox shape
    not_strict: set[str] = field(default_factory=set)   # Type/id deliberately invalid (no R4B validation)
    not_in_bundle: set[str] = field(default_factory=set)  # cannot be stored in a FHIR server (malformed)
    shape: str | None = None  # the public document whose shape the data follows (FHIR page, vendor docs)
    prefetch_only: dict | None = None  # cards when no FHIR server can be reached (default: the same as sign)
    prefetch_override: Any = None  # Scenario -> prefetch dict, for a client's own prefetch (no _include...)
    hook_override: Any = None  # (Scenario, hook, request) -> request: a client's request shape

    @property
    def pid(self) -> str:
        return self.patient["id"]


def aud_patient_record(pid: str, prefix: str, *, lfts: bool = True, lft_days: int = 20,
                       key: str = "aud-dependence") -> list[dict]:
    res = [condition(pid, f"{prefix}-aud", key, onset=at(700, "10:00"))]
    if lfts:
        res += normal_lfts(pid, prefix, lft_days)
    return res


def nal50_draft(pid: str, prefix: str, *, value: float = 50, unit: str = "mg", enc: str | None = None,
                reason: str | None = "aud-dependence") -> dict:
    text = "Take 50 mg by mouth once daily" if unit == "mg" else "Take 1 tablet by mouth once daily"
    return draft_order(pid, f"{prefix}-nal-draft", rx("naltrexone-50"), dosage(text, value, unit),
                       encounter_id=enc, reason=reason)


def active_opioid_mr(pid: str, mid: str, key: str = "oxycodone-5", *, authored_days_ago: int = 15,
                     dose: dict | None = None, supply: int = 30, qty_tabs: float = 60, reason: str | None = None,
                     med: dict | str | None = None) -> dict:
    return med_request(pid, mid, med if med is not None else rx(key), status="active",
                       authored=at(authored_days_ago, "11:20"),
                       dose=dose or dosage("Take 1 tablet by mouth every 6 hours as needed for pain", 1, "{tbl}",
                                           frequency=1, period=6, period_unit="h", prn=True),
                       supply_days=supply, quantity=(qty_tabs, "{tbl}"), reason=reason)


def naloxone_mr(pid: str, mid: str) -> dict:
    return med_request(pid, mid, rx("naloxone-nasal"), status="active", authored=at(20, "14:00"),
                       dose=dosage("Spray 1 spray (4 mg) into one nostril for suspected opioid overdose; may "
                                   "repeat every 2-3 minutes", 1, "{actuat}", prn=True, route="nasal"),
                       supply_days=30, quantity=(2, "{actuat}"), refills=2)


# --------------------------------------------------------------------------------------------------------
# Scenarios (one function each)
# --------------------------------------------------------------------------------------------------------
def s_silent_aud_adult() -> Scenario:
    pid, p = "pt-silent-aud-adult", "silent"
    return Scenario(
        "silent-aud-adult",
        "45-year-old man with active alcohol dependence (F10.20), normal ALT/AST 20 days ago, no opioid history, "
        "standard naltrexone 50 mg once daily. Silence is a feature: every check passes, so no card at all.",
        patient(pid, "Marcus", "Feld", "male", "1981-04-12"),
        aud_patient_record(pid, p),
        [nal50_draft(pid, p, enc="enc-silent")],
        expect([], absent=("opioid-concurrent", "opioid-washout", "urine-screen-needed", "liver-tests-missing",
                           "indication-missing", "low-dose", "young-patient", "overdose-risk")),
        encounter_id="enc-silent",
    )


def s_sandbox_bup() -> Scenario:
    pid = "p1"
    bup = active_opioid_mr(pid, "sbx-bup-film", "bup-nal-film", authored_days_ago=14,
                           dose=dosage("Dissolve 1 film under the tongue once daily", 1, "{film}", route="sublingual"),
                           supply=28, qty_tabs=28)
    bup["dispenseRequest"]["quantity"] = qty(28, "{film}", "film")
    cond = condition(pid, "sbx-oud-agonist", "oud-agonist", onset=at(400, "10:00"))
    return Scenario(
        "sandbox-bup-naloxone-film",
        "Exact CDS Hooks Sandbox request shape (patientId p1, draft 'request-123' with category as an OBJECT -- "
        "invalid R4, deliberately not strictly validated -- a draftOrders Bundle without `type`, and dose "
        "`1 {pill}` of naltrexone 50 mg tablets 1483744). The patient is on buprenorphine/naloxone film "
        "(1010604, active) for opioid dependence on agonist therapy (1081000119105), has rescue naloxone and "
        "normal liver tests. Naltrexone would precipitate withdrawal: one opioid-concurrent critical card. "
        "Daily dose is 1 x 50 mg = 50 mg, so no low-dose card. Because there is current opioid exposure and no "
        "negative urine screen, the catalogue also requires urine-screen-needed (warning). The naloxone inside "
        "the buprenorphine film is not rescue naloxone; the separate naloxone nasal spray silences overdose-risk.",
        patient(pid, "Alex", "Rivera", "male", "1997-02-03"),
        [cond, bup, naloxone_mr(pid, "sbx-naloxone"), *normal_lfts(pid, "sbx", 30)],
        [],  # built specially (sandbox shape)
        expect([card("opioid-concurrent", "critical", ["MedicationRequest/sbx-bup-film", "Condition/sbx-oud-agonist"]),
                card("urine-screen-needed", "warning", ["MedicationRequest/sbx-bup-film"])],
               absent=("low-dose", "overdose-risk", "opioid-washout", "liver-tests-missing", "indication-missing")),
        sandbox=True,
        not_strict={"MedicationRequest/request-123"},
    )


def s_oxycodone_active() -> Scenario:
    pid, p = "pt-oxycodone-active", "oxyact"
    med = medication("oxyact-med-oxy5", "oxycodone-5")
    oxy = active_opioid_mr(pid, "oxyact-oxy", med="Medication/oxyact-med-oxy5", reason="low-back-pain")
    return Scenario(
        "oxycodone-active",
        "52-year-old man with alcohol dependence and chronic low back pain on an active oxycodone 5 mg "
        "prescription (authored 15 days ago, 30-day supply). The MedicationRequest uses medicationReference to a "
        "Medication (1049621) that the prefetch carries as a search `include` entry. Naltrexone is contraindicated "
        "with opioid analgesics: opioid-concurrent critical; current opioid exposure without a negative urine "
        "screen adds urine-screen-needed. The opioid has not ended, so no opioid-washout.",
        patient(pid, "Gregory", "Hale", "male", "1974-08-30"),
        [*aud_patient_record(pid, p), condition(pid, f"{p}-lbp", "low-back-pain", onset=at(500)), med, oxy],
        [nal50_draft(pid, p, value=1, unit="{tbl}", enc="enc-oxyact")],
        expect([card("opioid-concurrent", "critical", ["MedicationRequest/oxyact-oxy"]),
                card("urine-screen-needed", "warning", ["MedicationRequest/oxyact-oxy"])],
               absent=("opioid-washout", "overdose-risk", "low-dose")),
        encounter_id="enc-oxyact",
    )


def _oxy_stopped(scenario_id: str, p: str, ended_days_ago: int, with_uds: bool) -> Scenario:
    pid = f"pt-{scenario_id}"
    oud = condition(pid, f"{p}-oud", "oud", onset=at(900, "10:00"))
    ms = med_statement(pid, f"{p}-oxy-ms", rx("oxycodone-5"), status="completed",
                       start=at(ended_days_ago + 21, "08:00"), end=at(ended_days_ago, "09:00"),
                       asserted=at(0, "08:45"),
                       dose=dosage("1-2 tablets every 4-6 hours (non-prescribed use)", 2, "{tbl}", frequency=1,
                                   period=4, period_unit="h"),
                       note="Patient reports last oxycodone use on this date.")
    res = [oud, ms]
    if with_uds:
        res += [uds(pid, f"{p}-uds-opiates", "opiates", "NEG", when=at(1, "08:15")),
                uds(pid, f"{p}-uds-fentanyl", "fentanyl", "NEG", when=at(1, "08:15"))]
    draft = draft_order(pid, f"{p}-nal-draft", rx("naltrexone-50"),
                        dosage("Take 25 mg (1/2 tablet) by mouth once daily for the first day", 25, "mg"),
                        encounter_id=f"enc-{p}", reason="oud")
    return Scenario(scenario_id, "", patient(pid, "Jordan", "Pike", "male", "1992-07-08"), res, [draft],
                    expect([]), encounter_id=f"enc-{p}")


def s_opioid_stopped_3_days() -> Scenario:
    s = _oxy_stopped("opioid-stopped-3-days", "oxy3d", 3, with_uds=False)
    s.description = (
        "34-year-old man with active opioid dependence (F11.20). His oxycodone MedicationStatement is completed, "
        "effectivePeriod.end 2026-11-22 (3 days ago). No urine screen, no liver tests. Draft naltrexone 25 mg "
        "(OUD induction dose). Last opioid <7 days ago: opioid-washout critical ('3 days'). The completed "
        "statement is history, not concurrent (no opioid-concurrent). Opioid history without a negative screen: "
        "urine-screen-needed; OUD without naloxone: overdose-risk; no ALT/AST in 90 days: liver-tests-missing.")
    s.sign = expect(
        [card("opioid-washout", "critical", ["MedicationStatement/oxy3d-oxy-ms"], ("3 days",)),
         card("urine-screen-needed", "warning", ["Condition/oxy3d-oud", "MedicationStatement/oxy3d-oxy-ms"]),
         card("overdose-risk", "warning", ["Condition/oxy3d-oud"]),
         card("liver-tests-missing", "info")],
        absent=("opioid-concurrent", "low-dose", "indication-missing"))
    return s


def s_opioid_stopped_10_days() -> Scenario:
    s = _oxy_stopped("opioid-stopped-10-days", "oxy10d", 10, with_uds=True)
    s.patient["name"][0]["given"] = ["Jamie"]
    s.description = (
        "Same story as opioid-stopped-3-days but the last oxycodone use ended 2026-11-15 (10 days ago), and "
        "urine opiate (19295-5) and fentanyl (58379-9) screens yesterday were negative (interpretation NEG). "
        "7-10 days: opioid-washout warning ('10 days'). The negative screen within 7 days silences "
        "urine-screen-needed. OUD without naloxone: overdose-risk; no liver tests: liver-tests-missing.")
    s.sign = expect(
        [card("opioid-washout", "warning", ["MedicationStatement/oxy10d-oxy-ms"], ("10 days",)),
         card("overdose-risk", "warning", ["Condition/oxy10d-oud"]),
         card("liver-tests-missing", "info")],
        absent=("urine-screen-needed", "opioid-concurrent", "urine-screen-positive"))
    return s


def _bup_ended(scenario_id: str, p: str, ended_days_ago: int, birth: str, given: str) -> Scenario:
    pid = f"pt-{scenario_id}"
    start = ended_days_ago + 30
    bup = med_request(pid, f"{p}-bup", rx("bup-nal-film"), status="stopped",
                      status_reason="Transition to extended-release naltrexone", authored=at(start, "10:40"),
                      dose=dosage("Dissolve 1 film under the tongue once daily", 1, "{film}", route="sublingual"),
                      validity=(day(start), day(ended_days_ago)), supply_days=30, reason="oud")
    bup["dispenseRequest"]["quantity"] = qty(30, "{film}", "film")
    disp = dispense(pid, f"{p}-bup-disp", rx("bup-nal-film"), handed_over=at(start, "16:05"), days_supply=30,
                    quantity=30, unit="{film}", prescription=f"MedicationRequest/{p}-bup")
    draft = draft_order(pid, f"{p}-viv-draft", rx("vivitrol"),
                        dosage("Inject 380 mg intramuscularly into the gluteal muscle every 4 weeks", 380, "mg",
                               frequency=1, period=4, period_unit="wk", route="im"),
                        supply_days=28, encounter_id=f"enc-{p}", reason="oud")
    return Scenario(
        scenario_id, "", patient(pid, given, "Okafor", "female", birth),
        [condition(pid, f"{p}-oud", "oud", onset=at(1200, "10:00")), bup, disp, naloxone_mr(pid, f"{p}-naloxone"),
         *normal_lfts(pid, p, 12)],
        [draft],
        expect([
            card("opioid-washout", "warning", [f"MedicationRequest/{p}-bup", f"MedicationDispense/{p}-bup-disp"],
                 ("buprenorphine",)),
            card("urine-screen-needed", "warning", [f"Condition/{p}-oud", f"MedicationRequest/{p}-bup",
                                                    f"MedicationDispense/{p}-bup-disp"])],
            absent=("opioid-concurrent", "overdose-risk", "liver-tests-missing")),
        encounter_id=f"enc-{p}")


def s_buprenorphine_ended_9_days() -> Scenario:
    s = _bup_ended("buprenorphine-ended-9-days", "bup9d", 9, "1995-05-21", "Tasha")
    s.description = (
        "31-year-old woman with opioid dependence (F11.20) transitioning from buprenorphine/naloxone film "
        "(1010604) to extended-release naltrexone (draft Vivitrol 637213, 380 mg IM every 4 weeks). The "
        "buprenorphine MedicationRequest is `stopped`; its validityPeriod and its MedicationDispense "
        "(whenHandedOver 2026-10-17 + daysSupply 30) both put the last exposure at 2026-11-16 (9 days ago). "
        "Within 14 days of buprenorphine (and within 7-10 days of any opioid): opioid-washout warning. Opioid "
        "exposure in the last 90 days and no urine screen: urine-screen-needed. She has rescue naloxone and "
        "normal liver tests. Stopped buprenorphine is history, not concurrent.")
    return s


def s_buprenorphine_ended_12_days() -> Scenario:
    s = _bup_ended("buprenorphine-ended-12-days", "bup12d", 12, "1990-10-02", "Renee")
    s.description = (
        "Like buprenorphine-ended-9-days, but the last buprenorphine exposure ended 2026-11-13 (12 days ago). "
        "More than 10 days after an ordinary opioid, but less than 14 days after buprenorphine, so only the "
        "buprenorphine/methadone branch of opioid-washout applies: warning. Plus urine-screen-needed.")
    return s


def s_dispense_oxycodone_5_days() -> Scenario:
    pid, p = "pt-dispense-oxycodone-5-days", "oxydisp"
    disp = dispense(pid, f"{p}-oxy-disp", rx("oxycodone-5"), handed_over=at(10, "15:40"), days_supply=5, quantity=20)
    return Scenario(
        "dispense-oxycodone-5-days",
        "40-year-old man with alcohol dependence; the only opioid record is a MedicationDispense of oxycodone "
        "5 mg (whenHandedOver 2026-11-15, daysSupply 5) from an outside pharmacy after a dental extraction -- no "
        "MedicationRequest. Exposure ran through 2026-11-19/20 (5-6 days ago, depending on whether the hand-over "
        "day counts): <7 days, opioid-washout critical. Opioid exposure in 90 days without a negative urine "
        "screen: urine-screen-needed. A dispense is exposure, not a current order: no opioid-concurrent.",
        patient(pid, "Samuel", "Grant", "male", "1986-01-17"),
        [*aud_patient_record(pid, p), disp],
        [nal50_draft(pid, p, enc="enc-oxydisp")],
        expect([card("opioid-washout", "critical", ["MedicationDispense/oxydisp-oxy-disp"]),
                card("urine-screen-needed", "warning", ["MedicationDispense/oxydisp-oxy-disp"])],
               absent=("opioid-concurrent", "overdose-risk")),
        encounter_id="enc-oxydisp",
    )


def _loperamide(scenario_id: str, p: str, status: str) -> Scenario:
    pid = f"pt-{scenario_id}"
    med = rx("loperamide-in", text="Imodium A-D (loperamide 2 mg) over the counter")
    dose = dosage("2 mg after each loose stool, max 8 mg a day", 2, "mg", frequency=1, period=1, period_unit="d",
                  prn=True)
    if status == "active":
        ms = med_statement(pid, f"{p}-loperamide", med, status="active", start=at(40, "09:00"), dose=dose,
                           note="Takes OTC loperamide for IBS-D flares.")
    else:
        ms = med_statement(pid, f"{p}-loperamide", med, status="completed", start="2026-05-01T09:00:00-04:00",
                           end="2026-05-25T09:00:00-04:00", dose=dose, asserted="2026-05-26T10:00:00-04:00")
    return Scenario(scenario_id, "", patient(pid, "Helen", "Marsh", "female", "1981-09-09"),
                    [*aud_patient_record(pid, p), ms], [nal50_draft(pid, p, enc=f"enc-{p}")], expect([]),
                    encounter_id=f"enc-{p}")


def s_loperamide_otc() -> Scenario:
    s = _loperamide("loperamide-otc", "lopera", "active")
    s.description = (
        "45-year-old woman with alcohol dependence and normal liver tests takes over-the-counter loperamide "
        "(RxNorm ingredient 6468) recorded as an active patient-reported MedicationStatement. Loperamide is a "
        "peripheral opioid: naltrexone blocks it, so opioid-concurrent fires as a WARNING (not critical). "
        "Peripheral antidiarrheal opioids do not cause physical dependence, so they do not count as opioid "
        "exposure for opioid-washout / urine-screen-needed: a single card.")
    s.sign = expect([card("opioid-concurrent", "warning", ["MedicationStatement/lopera-loperamide"],
                          ("loperamide",))],
                    absent=("urine-screen-needed", "opioid-washout", "liver-tests-missing"))
    return s


def s_loperamide_completed() -> Scenario:
    s = _loperamide("loperamide-completed", "loperc", "completed")
    s.patient["name"][0]["given"] = ["Ruth"]
    s.description = (
        "Like loperamide-otc but the loperamide MedicationStatement is `completed` and ended 2026-05-25 "
        "(6 months ago): history, not current. No card at all.")
    s.sign = expect([], absent=("opioid-concurrent", "opioid-washout", "urine-screen-needed"))
    return s


def _liver_enzyme_case(scenario_id: str, p: str, labs: list[dict], given: str, birth: str) -> Scenario:
    pid = f"pt-{scenario_id}"
    for o in labs:
        o["subject"] = {"reference": f"Patient/{pid}"}
    return Scenario(scenario_id, "", patient(pid, given, "Brandt", "male", birth),
                    [*aud_patient_record(pid, p, lfts=False), *labs], [nal50_draft(pid, p, enc=f"enc-{p}")],
                    expect([]), encounter_id=f"enc-{p}")


def s_alt_2x() -> Scenario:
    w = at(10, "09:05")
    s = _liver_enzyme_case("alt-2x-uln", "alt2x", [
        lab("", "alt2x-alt", "alt", 84, "U/L", when=w, low=7, high=42, interp="H"),
        lab("", "alt2x-ast", "ast", 60, "U/L", when=w, low=10, high=40, interp="H")], "Victor", "1974-03-15")
    s.description = (
        "52-year-old man with alcohol dependence. Final ALT 84 U/L (reference 7-42: 2.0x ULN) and AST 60 U/L "
        "(10-40: 1.5x ULN) 10 days ago. Above ULN but below 3x: liver-enzymes info (monitor; start allowed).")
    s.sign = expect([card("liver-enzymes", "info", ["Observation/alt2x-alt", "Observation/alt2x-ast"], ("2.0",))],
                    absent=("liver-tests-missing", "liver-disease"))
    return s


def s_alt_6x() -> Scenario:
    w = at(10, "09:05")
    s = _liver_enzyme_case("alt-6x-uln", "alt6x", [
        lab("", "alt6x-alt", "alt", 252, "U/L", when=w, low=7, high=42, interp="H"),
        lab("", "alt6x-ast", "ast", 180, "U/L", when=w, low=10, high=40, interp="H")], "Walter", "1971-12-01")
    s.description = (
        "Alcohol dependence; final ALT 252 U/L (reference high 42: 6.0x ULN) and AST 180 U/L (high 40: 4.5x) "
        "10 days ago. ALT >= 5x ULN: liver-enzymes critical citing both observations.")
    s.sign = expect([card("liver-enzymes", "critical", ["Observation/alt6x-alt", "Observation/alt6x-ast"],
                          ("6.0",))], absent=("liver-tests-missing",))
    return s


def s_alt_default_uln() -> Scenario:
    o = lab("", "altdef-alt", "alt", 130, "U/L", when=at(14, "09:05"), interp="H")
    s = _liver_enzyme_case("alt-default-uln", "altdef", [o], "Ivan", "1979-06-22")
    s.description = (
        "Alcohol dependence; final ALT 130 U/L with NO referenceRange, 14 days ago (no AST). The configurable "
        "default ULN (ALT 40 U/L) applies: 3.25x ULN, liver-enzymes warning; the detail must say the default "
        "ULN was used.")
    s.sign = expect([card("liver-enzymes", "warning", ["Observation/altdef-alt"], ("130", "default"))],
                    absent=("liver-tests-missing",))
    return s


def s_ast_ukat() -> Scenario:
    o = lab("", "astukat-ast", "ast", 2.5, "ukat/L", unit_display="µkat/L", when=at(7, "09:05"), low=0.17,
            high=0.67, interp="H")
    s = _liver_enzyme_case("ast-ukat", "astukat", [o], "Lars", "1968-02-11")
    s.description = (
        "Alcohol dependence; a European lab reports AST 2.5 µkat/L (UCUM ukat/L; x60 = 150 U/L) with reference "
        "high 0.67 µkat/L (= 40.2 U/L): 3.7x ULN, liver-enzymes warning. No ALT on record (AST suffices to "
        "silence liver-tests-missing).")
    s.sign = expect([card("liver-enzymes", "warning", ["Observation/astukat-ast"], ("3.7",))],
                    absent=("liver-tests-missing",))
    return s


def _age_case(scenario_id: str, p: str, birth: str, given: str, gender: str, key: str, lfts: bool) -> Scenario:
    pid = f"pt-{scenario_id}"
    return Scenario(scenario_id, "", patient(pid, given, "Quinn", gender, birth),
                    aud_patient_record(pid, p, lfts=lfts, key=key), [nal50_draft(pid, p, enc=f"enc-{p}", reason=key)],
                    expect([]), encounter_id=f"enc-{p}")


def s_age_17() -> Scenario:
    s = _age_case("age-17", "age17", "2009-03-02", "Maya", "female", "aud-abuse", lfts=False)
    s.description = (
        "17-year-old girl (born 2009-03-02) with alcohol abuse (F10.10), no liver tests on record, draft "
        "naltrexone 50 mg. Under 20: young-patient warning; no ALT/AST in 90 days: liver-tests-missing info.")
    s.sign = expect([card("young-patient", "warning", contains=("17",)), card("liver-tests-missing", "info")],
                    absent=("indication-missing",))
    return s


def s_age_19() -> Scenario:
    s = _age_case("age-19-aud", "age19", "2006-11-26", "Tyler", "male", "aud-dependence", lfts=True)
    s.description = (
        "Born 2006-11-26: 19 years old today (turns 20 tomorrow), alcohol dependence, normal liver tests. "
        "Under 20 (little data in alcohol dependence under 20): young-patient warning.")
    s.sign = expect([card("young-patient", "warning", contains=("19",))], absent=("liver-tests-missing",))
    return s


def s_age_20() -> Scenario:
    s = _age_case("age-20-aud", "age20", "2006-11-25", "Corey", "male", "aud-dependence", lfts=True)
    s.description = (
        "Born 2006-11-25: exactly 20 years old today (birthday boundary), alcohol dependence, normal liver "
        "tests. Not under 20: no young-patient card, no card at all.")
    s.sign = expect([], absent=("young-patient",))
    return s


def _ldn(scenario_id: str, p: str, tramadol: bool) -> Scenario:
    pid = f"pt-{scenario_id}"
    res = [condition(pid, f"{p}-ms", "ms", onset=at(2500, "10:00"))]
    if tramadol:
        res.append(active_opioid_mr(pid, f"{p}-tramadol", "tramadol-50", authored_days_ago=13, qty_tabs=120,
                                    dose=dosage("Take 1 tablet by mouth every 6 hours as needed for pain", 1,
                                                "{tbl}", period=6, period_unit="h", prn=True)))
    draft = draft_order(pid, f"{p}-ldn-draft", {"text": "Naltrexone 4.5 mg compounded capsule"},
                        dosage("Take 4.5 mg by mouth at bedtime", 4.5, "mg"), encounter_id=f"enc-{p}", reason="ms")
    return Scenario(scenario_id, "", patient(pid, "Claire", "Dumont", "female", "1985-06-19"), res, [draft],
                    expect([]), encounter_id=f"enc-{p}")


def s_ldn_ms() -> Scenario:
    s = _ldn("ldn-ms", "ldnms", tramadol=False)
    s.description = (
        "41-year-old woman with multiple sclerosis (SNOMED 24700007 + ICD-10-CM G35), no alcohol or opioid use "
        "disorder, no liver tests. Draft compounded low-dose naltrexone 4.5 mg at bedtime; the medication is "
        "ONLY text ('Naltrexone 4.5 mg compounded capsule', no coding) and must be recognised by name. "
        "4.5 mg/day <= 5 mg: low-dose info; MS is an off-label use: indication-off-label info naming the "
        "condition; no ALT/AST in 90 days: liver-tests-missing info.")
    s.sign = expect(
        [card("low-dose", "info", contains=("4.5",)),
         card("indication-off-label", "info", ["Condition/ldnms-ms"], ("sclerosis",)),
         card("liver-tests-missing", "info")],
        absent=("indication-missing", "urine-screen-needed", "overdose-risk", "opioid-concurrent"))
    return s


def s_ldn_ms_tramadol() -> Scenario:
    s = _ldn("ldn-ms-tramadol", "ldntram", tramadol=True)
    s.patient["name"][0]["given"] = ["Nadia"]
    s.description = (
        "ldn-ms plus an active tramadol 50 mg prescription (835603). Low-dose naltrexone still blocks opioids: "
        "opioid-concurrent critical; current opioid exposure without a negative screen: urine-screen-needed. "
        "The LDN info cards (low-dose, indication-off-label, liver-tests-missing) remain.")
    s.sign = expect(
        [card("opioid-concurrent", "critical", ["MedicationRequest/ldntram-tramadol"]),
         card("urine-screen-needed", "warning", ["MedicationRequest/ldntram-tramadol"]),
         card("low-dose", "info", contains=("4.5",)),
         card("indication-off-label", "info", ["Condition/ldntram-ms"], ("sclerosis",)),
         card("liver-tests-missing", "info")],
        absent=("indication-missing", "opioid-washout"))
    return s


def s_liver_records_ignored() -> Scenario:
    pid, p = "pt-liver-records-ignored", "livign"
    return Scenario(
        "liver-records-ignored",
        "60-year-old man with alcohol dependence and normal liver tests. His chart has a cirrhosis Condition "
        "(19943007) with verificationStatus entered-in-error and an acute hepatitis B (B16.9) with clinicalStatus "
        "resolved (2019). Neither counts: no liver-disease, no liver-enzymes, no card at all.",
        patient(pid, "Frank", "Lowell", "male", "1966-05-05"),
        [*aud_patient_record(pid, p),
         condition(pid, f"{p}-cirrhosis-eie", "cirrhosis", verification="entered-in-error", onset=at(60, "10:00")),
         condition(pid, f"{p}-hepb-resolved", "acute-hepatitis-b", clinical="resolved",
                   onset="2019-03-04T10:00:00-05:00", abatement="2019-08-20T10:00:00-04:00")],
        [nal50_draft(pid, p, enc="enc-livign")],
        expect([], absent=("liver-disease", "liver-enzymes", "liver-tests-missing")),
        encounter_id="enc-livign",
    )


def s_cirrhosis_active() -> Scenario:
    pid, p = "pt-cirrhosis-active", "cirr"
    return Scenario(
        "cirrhosis-active",
        "57-year-old man with alcohol dependence and active alcoholic cirrhosis without ascites (K70.30 / "
        "SNOMED 420054005); liver enzymes currently normal (compensated). Naltrexone is contraindicated in "
        "severe liver disease such as cirrhosis: liver-disease critical (the catalogue makes cirrhosis critical; "
        "the knowledge file's 'warning' is overridden).",
        patient(pid, "Dennis", "Ward", "male", "1969-10-14"),
        [*aud_patient_record(pid, p), condition(pid, f"{p}-cirrhosis", "alcoholic-cirrhosis", onset=at(300))],
        [nal50_draft(pid, p, enc="enc-cirr")],
        expect([card("liver-disease", "critical", ["Condition/cirr-cirrhosis"], ("cirrhosis",))],
               absent=("liver-enzymes", "liver-tests-missing")),
        encounter_id="enc-cirr",
    )


def s_acute_hepatitis_active() -> Scenario:
    pid, p = "pt-acute-hepatitis-active", "acuhep"
    w = at(5, "09:05")
    return Scenario(
        "acute-hepatitis-active",
        "48-year-old woman with alcohol dependence and active acute hepatitis (SNOMED 37871000) diagnosed 15 "
        "days ago; ALT 310 U/L (high 42: 7.4x ULN) and AST 260 U/L (high 40: 6.5x) 5 days ago. Active acute "
        "hepatitis: liver-disease critical; ALT >= 5x ULN: liver-enzymes critical.",
        patient(pid, "Paula", "Sterne", "female", "1978-01-28"),
        [*aud_patient_record(pid, p, lfts=False), condition(pid, f"{p}-hepatitis", "acute-hepatitis", onset=at(15)),
         lab(pid, f"{p}-alt", "alt", 310, "U/L", when=w, low=7, high=42, interp="H"),
         lab(pid, f"{p}-ast", "ast", 260, "U/L", when=w, low=10, high=40, interp="H")],
        [nal50_draft(pid, p, enc="enc-acuhep")],
        expect([card("liver-disease", "critical", ["Condition/acuhep-hepatitis"], ("hepatitis",)),
                card("liver-enzymes", "critical", ["Observation/acuhep-alt", "Observation/acuhep-ast"], ("7.4",))],
               absent=("liver-tests-missing",)),
        encounter_id="enc-acuhep",
    )


def s_completed_hydrocodone() -> Scenario:
    pid, p = "pt-completed-hydrocodone", "hydro"
    hc = med_request(pid, f"{p}-hydrocodone", rx("hydrocodone-apap"), status="completed", authored=at(60, "13:15"),
                     dose=dosage("Take 1 tablet by mouth every 6 hours as needed for pain", 1, "{tbl}", period=6,
                                 period_unit="h", prn=True),
                     supply_days=5, quantity=(20, "{tbl}"))
    morphine = med_request(pid, f"{p}-morphine-eie", rx("morphine-15"), status="entered-in-error",
                           authored=at(1, "16:30"),
                           dose=dosage("Take 1 tablet by mouth every 4 hours as needed for pain", 1, "{tbl}",
                                       period=4, period_unit="h", prn=True),
                           supply_days=5, quantity=(30, "{tbl}"))
    return Scenario(
        "completed-hydrocodone",
        "38-year-old woman with alcohol dependence and normal liver tests. Hydrocodone/acetaminophen (857002) "
        "MedicationRequest `completed`: authored 2026-09-26 with a 5-day supply, so exposure ended 2026-10-01 "
        "(55 days ago) -- history, neither concurrent nor within the washout window, but an opioid exposure in "
        "the last 90 days without a negative urine screen: urine-screen-needed warning citing the hydrocodone "
        "order. A morphine MedicationRequest authored yesterday is `entered-in-error` and must be ignored "
        "entirely (not cited).",
        patient(pid, "Laura", "Chen", "female", "1988-04-04"),
        [*aud_patient_record(pid, p), hc, morphine],
        [nal50_draft(pid, p, enc="enc-hydro")],
        expect([card("urine-screen-needed", "warning", ["MedicationRequest/hydro-hydrocodone"],
                     not_cited=("MedicationRequest/hydro-morphine-eie",))],
               absent=("opioid-concurrent", "opioid-washout", "liver-tests-missing")),
        encounter_id="enc-hydro",
    )


def _urine_positive(scenario_id: str, p: str, screen: dict, given: str) -> Scenario:
    pid = f"pt-{scenario_id}"
    screen["subject"] = {"reference": f"Patient/{pid}"}
    return Scenario(
        scenario_id, "", patient(pid, given, "Novak", "male", "1996-12-12"),
        [condition(pid, f"{p}-oud", "oud", onset=at(800, "10:00")), naloxone_mr(pid, f"{p}-naloxone"),
         *normal_lfts(pid, p, 10), screen],
        [draft_order(pid, f"{p}-nal-draft", rx("naltrexone-50"), dosage("Take 1 tablet by mouth once daily", 1,
                                                                         "{tbl}"),
                     encounter_id=f"enc-{p}", reason="oud")],
        expect([card("urine-screen-positive", "critical", [ref(screen)])],
               absent=("overdose-risk", "opioid-concurrent", "urine-screen-needed")),
        encounter_id=f"enc-{p}")


def s_urine_positive() -> Scenario:
    s = _urine_positive("urine-positive", "udspos",
                        uds("", "udspos-uds-fentanyl", "fentanyl", "POS", when=at(3, "08:20")), "Kyle")
    s.description = (
        "30-year-old man with opioid dependence (F11.20), rescue naloxone, normal liver tests. Urine "
        "fentanyl+norfentanyl screen (58379-9) 3 days ago is positive (interpretation POS): "
        "urine-screen-positive critical, which already asks for a repeat screen later; so no separate "
        "urine-screen-needed warning (every card must earn its place).")
    return s


def s_urine_positive_string() -> Scenario:
    s = _urine_positive("urine-positive-string", "udsstr",
                        uds("", "udsstr-uds-opiates", "opiates", "", when=at(2, "08:20"), value_string="Positive"),
                        "Evan")
    s.description = (
        "Like urine-positive, but an opiates screen (19295-5) 2 days ago carries only valueString 'Positive' "
        "and no interpretation: still urine-screen-positive critical.")
    return s


def s_urine_naltrexone_positive() -> Scenario:
    pid, p = "pt-urine-naltrexone-positive", "udsnal"
    old = med_request(pid, f"{p}-nal-prev", rx("naltrexone-50"), status="completed", authored=at(66, "10:00"),
                      dose=dosage("Take 1 tablet by mouth once daily", 1, "{tbl}"), supply_days=60,
                      quantity=(60, "{tbl}"), reason="aud-dependence")
    return Scenario(
        "urine-naltrexone-positive",
        "46-year-old woman with alcohol dependence renewing naltrexone (previous 60-day prescription completed "
        "2026-11-19). Her urine naltrexone test (19609-7) 7 days ago is POSITIVE -- an adherence test, not an "
        "opioid result -- and liver tests are normal. No urine-screen-positive, no card at all.",
        patient(pid, "Monica", "Reyes", "female", "1980-07-07"),
        [*aud_patient_record(pid, p), old, uds(pid, f"{p}-uds-naltrexone", "naltrexone", "POS", when=at(7, "08:30"))],
        [nal50_draft(pid, p, enc="enc-udsnal")],
        expect([], absent=("urine-screen-positive", "urine-screen-needed", "duplicate-antagonist")),
        encounter_id="enc-udsnal",
    )


def _oud_remission(scenario_id: str, p: str, naloxone: bool, uds_days: int, given: str) -> Scenario:
    pid = f"pt-{scenario_id}"
    res = [condition(pid, f"{p}-oud", "oud-remission", clinical="remission", onset=at(1500, "10:00"),
                     recorded=at(200, "10:00")),
           uds(pid, f"{p}-uds-opiates", "opiates", "NEG", when=at(uds_days, "08:10")),
           *normal_lfts(pid, p, 15)]
    if naloxone:
        res.append(naloxone_mr(pid, f"{p}-naloxone"))
    draft = draft_order(pid, f"{p}-nal-draft", rx("naltrexone-50"), dosage("Take 50 mg by mouth once daily", 50,
                                                                           "mg"),
                        encounter_id=f"enc-{p}", reason="oud-remission")
    return Scenario(scenario_id, "", patient(pid, given, "Barros", "male", "1982-03-30"), res, [draft],
                    expect([]), encounter_id=f"enc-{p}")


def s_oud_remission_negative_screen() -> Scenario:
    s = _oud_remission("oud-remission-negative-screen", "oudrem", naloxone=False, uds_days=2, given="Rafael")
    s.description = (
        "44-year-old man with opioid dependence in remission (F11.21 / 191821007, clinicalStatus remission), "
        "negative opiates urine screen 2 days ago, normal liver tests, no naloxone on record. OUD in remission "
        "counts: overdose-risk warning (suggest naloxone 1725059). The negative screen within 7 days silences "
        "urine-screen-needed; OUD in remission is an indication (no indication-missing).")
    s.sign = expect([card("overdose-risk", "warning", ["Condition/oudrem-oud"])],
                    absent=("urine-screen-needed", "indication-missing", "opioid-concurrent"))
    return s


def s_overdose_risk_with_naloxone() -> Scenario:
    s = _oud_remission("overdose-risk-with-naloxone", "oudnal", naloxone=True, uds_days=3, given="Diego")
    s.description = (
        "Opioid dependence in remission (clinicalStatus remission), negative opiates screen 3 days ago, normal "
        "liver tests and an active naloxone 4 mg nasal spray (1725059) prescription: no overdose-risk, no card "
        "at all.")
    s.sign = expect([], absent=("overdose-risk", "urine-screen-needed", "indication-missing"))
    return s


def s_opioid_order_on_oral_naltrexone() -> Scenario:
    pid, p = "pt-opioid-order-on-oral-naltrexone", "ooonal"
    nal = med_request(pid, f"{p}-naltrexone", rx("naltrexone-50"), status="active", authored=at(28, "10:00"),
                      dose=dosage("Take 1 tablet by mouth once daily", 1, "{tbl}"), supply_days=30,
                      quantity=(30, "{tbl}"), reason="aud-dependence", refills=2)
    draft = draft_order(pid, f"{p}-oxy-draft", rx("oxycodone-5"),
                        dosage("Take 5 mg by mouth every 6 hours as needed for pain", 5, "mg", period=6,
                               period_unit="h", prn=True),
                        supply_days=3, encounter_id="enc-ooonal", reason="wrist-fracture")
    return Scenario(
        "opioid-order-on-oral-naltrexone",
        "50-year-old man with alcohol dependence on oral naltrexone 50 mg daily (active MedicationRequest). After "
        "a wrist fracture the clinician drafts oxycodone 5 mg every 6 hours as needed. Naltrexone blocks the "
        "analgesia and overcoming the blockade risks respiratory depression: naltrexone-blocks-opioid critical "
        "on the opioid order (the naltrexone-order rules do not apply to an opioid order).",
        patient(pid, "Peter", "Lang", "male", "1976-11-02"),
        [*aud_patient_record(pid, p), nal, condition(pid, f"{p}-fracture", "wrist-fracture", onset=at(0, "07:30"))],
        [draft],
        expect([card("naltrexone-blocks-opioid", "critical", ["MedicationRequest/ooonal-naltrexone"])],
               absent=("opioid-concurrent", "liver-tests-missing", "duplicate-antagonist")),
        encounter_id="enc-ooonal",
    )


def _after_injection(scenario_id: str, p: str, days_ago: int) -> Scenario:
    pid = f"pt-{scenario_id}"
    viv = med_statement(pid, f"{p}-vivitrol", rx("vivitrol"), status="completed", effective=at(days_ago, "10:15"),
                        asserted=at(days_ago, "10:30"), source_patient=False,
                        dose=dosage("380 mg IM gluteal injection", 380, "mg", frequency=1, period=4, period_unit="wk",
                                    route="im"))
    draft = draft_order(pid, f"{p}-hydromorphone-draft", rx("hydromorphone-2"),
                        dosage("Take 2 mg by mouth every 4 hours as needed for severe pain", 2, "mg", period=4,
                               period_unit="h", prn=True),
                        supply_days=3, encounter_id=f"enc-{p}", reason="renal-colic")
    return Scenario(scenario_id, "", patient(pid, "Oliver", "Sato", "male", "1983-09-18"),
                    [*aud_patient_record(pid, p), viv], [draft], expect([]), encounter_id=f"enc-{p}")


def s_opioid_order_after_injection() -> Scenario:
    s = _after_injection("opioid-order-after-injection", "ooinj", 20)
    s.description = (
        "43-year-old man with alcohol dependence received extended-release naltrexone (Vivitrol 637213) 380 mg "
        "IM on 2026-11-05 (completed MedicationStatement, 20 days ago). In the ED for renal colic, hydromorphone "
        "2 mg is drafted. The injection blocks opioids for about a month (30-day window): "
        "naltrexone-blocks-opioid critical, detail '20 days'.")
    s.sign = expect([card("naltrexone-blocks-opioid", "critical", ["MedicationStatement/ooinj-vivitrol"],
                          ("20 days",))], absent=("opioid-concurrent",))
    return s


def s_opioid_order_after_injection_45() -> Scenario:
    s = _after_injection("opioid-order-after-injection-45-days", "ooinj45", 45)
    s.patient["name"][0]["given"] = ["Noah"]
    s.description = (
        "Like opioid-order-after-injection but the Vivitrol injection was 45 days ago (2026-10-11): outside the "
        "30-day window, no current naltrexone. No card at all.")
    s.sign = expect([], absent=("naltrexone-blocks-opioid",))
    return s


def s_unrelated_order() -> Scenario:
    pid, p = "pt-unrelated-order", "unrel"
    draft = draft_order(pid, f"{p}-atorvastatin-draft", rx("atorvastatin-40"),
                        dosage("Take 40 mg by mouth once daily", 40, "mg"), supply_days=90,
                        encounter_id="enc-unrel", reason="hyperlipidemia")
    return Scenario(
        "unrelated-order",
        "Patient on active oxycodone with active cirrhosis and alcohol dependence; the draft order is "
        "atorvastatin 40 mg (RxNorm 617311), neither naltrexone nor an opioid: {\"cards\": []}.",
        patient(pid, "Bernard", "Holt", "male", "1962-02-14"),
        [*aud_patient_record(pid, p), condition(pid, f"{p}-cirrhosis", "cirrhosis", onset=at(400)),
         condition(pid, f"{p}-hld", "hyperlipidemia", onset=at(30)),
         active_opioid_mr(pid, f"{p}-oxy", reason="low-back-pain")],
        [draft],
        expect([], absent=("opioid-concurrent", "liver-disease", "naltrexone-blocks-opioid")),
        encounter_id="enc-unrel",
    )


def s_draft_opioid_same_session() -> Scenario:
    pid, p = "pt-draft-opioid-same-session", "samesess"
    nal = nal50_draft(pid, p, enc="enc-samesess")
    oxy = draft_order(pid, f"{p}-oxy-draft", rx("oxycodone-5"),
                      dosage("Take 5 mg by mouth every 6 hours as needed for pain", 5, "mg", period=6,
                             period_unit="h", prn=True),
                      supply_days=3, encounter_id="enc-samesess", reason="wrist-fracture")
    return Scenario(
        "draft-opioid-same-session",
        "39-year-old woman with alcohol dependence (normal liver tests, negative opiates screen yesterday, no "
        "opioid history) seen for a wrist fracture; in ONE ordering session the clinician drafts naltrexone 50 mg "
        "AND oxycodone 5 mg. order-select with selections = [the naltrexone draft]: the oxycodone draft is "
        "context and counts as concurrent -> opioid-concurrent critical citing the draft oxycodone; the "
        "oxycodone draft itself is not checked. order-sign checks both drafts: opioid-concurrent critical on "
        "the naltrexone order AND naltrexone-blocks-opioid critical on the oxycodone order (citing the draft "
        "naltrexone). Drafts are not exposure: no urine-screen-needed (the negative screen makes this robust).",
        patient(pid, "Irene", "Walsh", "female", "1987-05-25"),
        [*aud_patient_record(pid, p), uds(pid, f"{p}-uds-opiates", "opiates", "NEG", when=at(1, "08:40")),
         condition(pid, f"{p}-fracture", "wrist-fracture", onset=at(1, "07:30"))],
        [nal, oxy],
        expect([card("opioid-concurrent", "critical", ["MedicationRequest/samesess-oxy-draft"]),
                card("naltrexone-blocks-opioid", "critical", ["MedicationRequest/samesess-nal-draft"])],
               absent=("urine-screen-needed", "opioid-washout")),
        select=expect([card("opioid-concurrent", "critical", ["MedicationRequest/samesess-oxy-draft"])],
                      absent=("naltrexone-blocks-opioid", "urine-screen-needed")),
        selections=["MedicationRequest/samesess-nal-draft"],
        encounter_id="enc-samesess",
    )


def _aud_with_current(scenario_id: str, p: str, current: dict, extra: list[dict], description: str,
                      contains: tuple[str, ...] = (), absent: tuple[str, ...] = (), given: str = "Anna",
                      gender: str = "female", birth: str = "1979-01-19") -> Scenario:
    pid = f"pt-{scenario_id}"
    current["subject"] = {"reference": f"Patient/{pid}"}
    return Scenario(
        scenario_id, description, patient(pid, given, "Kowalski", gender, birth),
        [*aud_patient_record(pid, p), *extra, current], [nal50_draft(pid, p, enc=f"enc-{p}")],
        expect([card("opioid-concurrent", "critical", [ref(current)], contains),
                card("urine-screen-needed", "warning", [ref(current)])],
               absent=("opioid-washout", "overdose-risk", *absent)),
        encounter_id=f"enc-{p}")


def s_mixed_agonist_butorphanol() -> Scenario:
    pid = "pt-mixed-agonist-butorphanol"
    mr = active_opioid_mr("", "butor-butorphanol", "butorphanol-nasal", authored_days_ago=24, qty_tabs=1,
                          dose=dosage("1 spray in one nostril at migraine onset; may repeat once in 60-90 minutes",
                                      1, "{actuat}", frequency=2, period=1, period_unit="d", prn=True, route="nasal"),
                          reason="migraine")
    mr["dispenseRequest"]["quantity"] = qty(2.5, "mL")
    return _aud_with_current(
        "mixed-agonist-butorphanol", "butor", mr,
        [condition(pid, "butor-migraine", "migraine", onset=at(3000))],
        "Woman with alcohol dependence and migraine on an active butorphanol nasal spray (886634), a mixed "
        "agonist-antagonist: naltrexone blocks it and can precipitate withdrawal -> opioid-concurrent critical, "
        "plus urine-screen-needed (current opioid exposure, no negative screen).")


def s_codeine_cough_syrup() -> Scenario:
    pid = "pt-codeine-cough-syrup"
    mr = active_opioid_mr("", "codcough-codeine-guaifenesin", "codeine-guaifenesin", authored_days_ago=4,
                          dose=dosage("Take 10 mL by mouth every 4-6 hours as needed for cough", 10, "mL", period=4,
                                      period_unit="h", prn=True),
                          supply=7, qty_tabs=120, reason="cough")
    mr["dispenseRequest"]["quantity"] = qty(120, "mL")
    return _aud_with_current(
        "codeine-cough-syrup", "codcough", mr, [condition(pid, "codcough-cough", "cough", onset=at(6))],
        "Woman with alcohol dependence and an acute cough on an active codeine/guaifenesin cough syrup "
        "(995868, codeine phosphate 2 mg/mL / guaifenesin 20 mg/mL oral solution, 10 mL q4-6h prn, 4 days ago, "
        "7-day supply). Codeine-containing cough medicine is an opioid: opioid-concurrent critical, the detail "
        "mentions the cough medicine; plus urine-screen-needed.",
        contains=("cough",), given="Beatrice", birth="1970-04-08")


def s_methadone_maintenance() -> Scenario:
    pid, p = "pt-methadone-maintenance", "mtd"
    ms = med_statement(pid, f"{p}-methadone", rx("methadone-10"), status="active", start=at(660, "08:00"),
                       dose=dosage("90 mg by mouth once daily (opioid treatment program, observed dosing)", 90, "mg"),
                       note="Dosed daily at the opioid treatment program.")
    cond = condition(pid, f"{p}-oud-agonist", "oud-agonist", onset=at(700, "10:00"))
    return Scenario(
        "methadone-maintenance",
        "36-year-old man in methadone maintenance (active patient-reported MedicationStatement, methadone 864706, "
        "90 mg daily at an opioid treatment program) with opioid dependence on agonist therapy (1081000119105) "
        "and no naloxone; normal liver tests. Naltrexone would precipitate severe withdrawal: opioid-concurrent "
        "critical (citing methadone and the agonist-therapy Condition); urine-screen-needed; OUD without "
        "naloxone: overdose-risk.",
        patient(pid, "Travis", "Dunn", "male", "1990-06-06"),
        [cond, ms, *normal_lfts(pid, p, 25)],
        [draft_order(pid, f"{p}-nal-draft", rx("naltrexone-50"), dosage("Take 50 mg by mouth once daily", 50, "mg"),
                     encounter_id="enc-mtd", reason="oud")],
        expect([card("opioid-concurrent", "critical",
                     ["MedicationStatement/mtd-methadone", "Condition/mtd-oud-agonist"]),
                card("urine-screen-needed", "warning", ["MedicationStatement/mtd-methadone"]),
                card("overdose-risk", "warning", ["Condition/mtd-oud-agonist"])],
               absent=("opioid-washout", "indication-missing")),
        encounter_id="enc-mtd",
    )


def s_embeda_active() -> Scenario:
    pid = "pt-embeda-active"
    mr = active_opioid_mr("", "embeda-morphine-naltrexone", "embeda", authored_days_ago=20, qty_tabs=60,
                          dose=dosage("Take 1 capsule by mouth every 12 hours", 1, "{cap}", frequency=1, period=12,
                                      period_unit="h"),
                          reason="low-back-pain")
    return _aud_with_current(
        "embeda-active", "embeda", mr, [condition(pid, "embeda-lbp", "low-back-pain", onset=at(2000))],
        "Man with alcohol dependence and chronic low back pain on active Embeda (863845, abuse-deterrent "
        "morphine 100 mg / naltrexone 4 mg ER capsule). Embeda is an OPIOID, not naltrexone therapy: "
        "opioid-concurrent critical (+ urine-screen-needed), and NOT duplicate-antagonist.",
        absent=("duplicate-antagonist",), given="Harold", gender="male", birth="1965-07-21")


def s_duplicate_lybalvi() -> Scenario:
    pid, p = "pt-duplicate-lybalvi", "lybalvi"
    mr = med_request(pid, f"{p}-lybalvi", rx("lybalvi"), status="active", authored=at(24, "10:00"),
                     dose=dosage("Take 1 tablet by mouth once daily", 1, "{tbl}"), supply_days=30,
                     quantity=(30, "{tbl}"), reason="schizophrenia", refills=5)
    return Scenario(
        "duplicate-lybalvi",
        "33-year-old woman with schizophrenia on active olanzapine/samidorphan (Lybalvi 2570399) and alcohol "
        "dependence; normal liver tests; draft naltrexone 50 mg. Samidorphan is an opioid antagonist: "
        "duplicate-antagonist warning.",
        patient(pid, "Sofia", "Lind", "female", "1993-02-17"),
        [*aud_patient_record(pid, p), condition(pid, f"{p}-scz", "schizophrenia", onset=at(2500)), mr],
        [nal50_draft(pid, p, enc="enc-lybalvi")],
        expect([card("duplicate-antagonist", "warning", ["MedicationRequest/lybalvi-lybalvi"])],
               absent=("opioid-concurrent",)),
        encounter_id="enc-lybalvi",
    )


def _allergy(scenario_id: str, p: str, verification: str) -> Scenario:
    pid = f"pt-{scenario_id}"
    return Scenario(scenario_id, "", patient(pid, "Gloria", "Ames", "female", "1972-12-24"),
                    [*aud_patient_record(pid, p), allergy(pid, f"{p}-allergy", verification=verification)],
                    [nal50_draft(pid, p, enc=f"enc-{p}")], expect([]), encounter_id=f"enc-{p}")


def s_naltrexone_allergy() -> Scenario:
    s = _allergy("naltrexone-allergy", "nalallergy", "confirmed")
    s.description = (
        "Woman with alcohol dependence, normal liver tests, and an active, confirmed AllergyIntolerance to "
        "naltrexone (RxNorm 7243; urticaria): allergy critical.")
    s.sign = expect([card("allergy", "critical", ["AllergyIntolerance/nalallergy-allergy"])])
    return s


def s_naltrexone_allergy_refuted() -> Scenario:
    s = _allergy("naltrexone-allergy-refuted", "nalallref", "refuted")
    s.description = "Same, but the naltrexone allergy's verificationStatus is refuted: no allergy card, no card at all."
    s.sign = expect([], absent=("allergy",))
    return s


def s_no_indication() -> Scenario:
    pid, p = "pt-no-indication", "noind"
    lis = med_request(pid, f"{p}-lisinopril", rx("lisinopril-10"), status="active", authored=at(90, "10:00"),
                      dose=dosage("Take 1 tablet by mouth once daily", 1, "{tbl}"), supply_days=90,
                      quantity=(90, "{tbl}"), reason="hypertension", refills=3)
    return Scenario(
        "no-indication",
        "50-year-old woman whose only problem is essential hypertension (on lisinopril), normal liver tests; "
        "naltrexone 50 mg drafted with no alcohol/opioid use disorder and no off-label condition on record: "
        "indication-missing info only.",
        patient(pid, "Janet", "Moss", "female", "1976-08-08"),
        [condition(pid, f"{p}-htn", "hypertension", onset=at(1000)), lis, *normal_lfts(pid, p)],
        [draft_order(pid, f"{p}-nal-draft", rx("naltrexone-50"), dosage("Take 50 mg by mouth once daily", 50, "mg"),
                     encounter_id="enc-noind")],
        expect([card("indication-missing", "info")], absent=("indication-off-label",)),
        encounter_id="enc-noind",
    )


def s_vivitrol_contained() -> Scenario:
    pid, p = "pt-vivitrol-contained-medication", "vivcont"
    tram = active_opioid_mr(pid, f"{p}-tramadol", "tramadol-50", authored_days_ago=10, qty_tabs=120)
    contained = {"resourceType": "Medication", "id": "med1", "code": rx("vivitrol")}
    draft = draft_order(pid, f"{p}-viv-draft", "#med1",
                        dosage("Inject 380 mg intramuscularly into the gluteal muscle every 4 weeks", 380, "mg",
                               frequency=1, period=4, period_unit="wk", route="im"),
                        supply_days=28, encounter_id="enc-vivcont", contained=[contained], reason="aud-dependence")
    return Scenario(
        "vivitrol-contained-medication",
        "Woman with alcohol dependence on active tramadol 50 mg (835603); the draft Vivitrol order names its "
        "medication via medicationReference '#med1' to a CONTAINED Medication coded 637213. It must be "
        "recognised as naltrexone: opioid-concurrent critical citing the tramadol; plus urine-screen-needed.",
        patient(pid, "Wendy", "Foster", "female", "1984-10-30"),
        [*aud_patient_record(pid, p), tram], [draft],
        expect([card("opioid-concurrent", "critical", ["MedicationRequest/vivcont-tramadol"]),
                card("urine-screen-needed", "warning", ["MedicationRequest/vivcont-tramadol"])],
               absent=("low-dose", "opioid-washout")),
        encounter_id="enc-vivcont",
    )


def s_bundled_medication_reference() -> Scenario:
    pid, p = "pt-bundled-medication-reference", "bundmed"
    oxy = active_opioid_mr(pid, f"{p}-oxy", authored_days_ago=8, reason="low-back-pain")
    nal50 = medication("nal50", "naltrexone-50", ingredient=("naltrexone-in", 50, "mg"))
    draft = draft_order(pid, f"{p}-nal-draft", "Medication/nal50",
                        dosage("Take 1 tablet by mouth once daily", 1, "{tbl}"), encounter_id="enc-bundmed",
                        reason="aud-dependence")
    return Scenario(
        "bundled-medication-reference",
        "Man with alcohol dependence on active oxycodone; the draft naltrexone order uses medicationReference "
        "'Medication/nal50' to a Medication placed as another entry of the draftOrders Bundle (ingredient RxNorm "
        "7243, strength 50 mg / 1 tablet; dose 1 tablet -> 50 mg/day). It must be recognised as naltrexone: "
        "opioid-concurrent critical citing the oxycodone; plus urine-screen-needed; no low-dose.",
        patient(pid, "Calvin", "Reed", "male", "1977-03-03"),
        [*aud_patient_record(pid, p), condition(pid, f"{p}-lbp", "low-back-pain", onset=at(800)), oxy], [draft],
        expect([card("opioid-concurrent", "critical", ["MedicationRequest/bundmed-oxy"]),
                card("urine-screen-needed", "warning", ["MedicationRequest/bundmed-oxy"])],
               absent=("low-dose", "opioid-washout")),
        draft_bundle_extra=[nal50],
        encounter_id="enc-bundmed",
    )


def s_text_only_opioid() -> Scenario:
    pid = "pt-text-only-opioid"
    ms = med_statement(pid, "textoxy-oxy-text", {"text": "Oxycodone 5mg tablets (outside pharmacy)"},
                       status="active", start=at(7, "09:00"), asserted=at(0, "08:50"),
                       note="Patient brought the bottle; prescribed by an outside urgent care.")
    return _aud_with_current(
        "text-only-opioid", "textoxy", ms, [],
        "Woman with alcohol dependence; an active MedicationStatement has no coding, only the text 'Oxycodone "
        "5mg tablets (outside pharmacy)'. Matched by ingredient name: opioid-concurrent critical, and the detail "
        "must say it was matched by name from the text; plus urine-screen-needed.",
        contains=("text",), given="Lena", birth="1983-12-05")


def s_malformed_neighbour() -> Scenario:
    pid, p = "pt-malformed-neighbour", "malformed"
    bad = {
        "resourceType": "Observation", "id": f"{p}-alt-bad", "status": "final",
        "category": [cc([(OBS_CAT, "laboratory", "Laboratory")])],
        "code": cc([(LOINC, *LAB["alt"])]),
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": 20261120,          # wrong type (must be a string dateTime)
        "valueQuantity": "high",                 # wrong type (must be a Quantity)
        "flavour": "spicy",                      # unknown element
    }
    ast = lab(pid, f"{p}-ast", "ast", 28, "U/L", when=at(15, "09:10"), low=10, high=40, interp="N")
    return Scenario(
        "malformed-neighbour",
        "Man with alcohol dependence and active cirrhosis of liver (19943007). The liverTests prefetch also holds "
        "a DELIBERATELY MALFORMED ALT Observation 'malformed-alt-bad' (valueQuantity \"high\", unknown element "
        "'flavour', effectiveDateTime as a number) -- it is not in bundle.json (no FHIR server would store it) "
        "and is excluded from R4B validation. A valid normal AST 15 days ago keeps liver-tests-missing silent. "
        "The malformed neighbour must not crash the call or suppress other checks: liver-disease critical; and "
        "the unreadable ALT is said, not silently dropped (it could hide a high value): data-incomplete warning.",
        patient(pid, "George", "Ibsen", "male", "1964-09-27"),
        [*aud_patient_record(pid, p, lfts=False), condition(pid, f"{p}-cirrhosis", "cirrhosis", onset=at(500)),
         ast, bad],
        [nal50_draft(pid, p, enc="enc-malformed")],
        expect([card("liver-disease", "critical", ["Condition/malformed-cirrhosis"], ("cirrhosis",)),
                card("data-incomplete", "warning", ["Observation/malformed-alt-bad"])],
               absent=("liver-enzymes", "liver-tests-missing")),
        encounter_id="enc-malformed",
        not_strict={f"Observation/{p}-alt-bad"},
        not_in_bundle={f"Observation/{p}-alt-bad"},
    )


def s_contrave_with_oxycodone() -> Scenario:
    pid, p = "pt-contrave-with-oxycodone", "contrave"
    oxy = active_opioid_mr(pid, f"{p}-oxy", authored_days_ago=9, reason="low-back-pain")
    bmi = lab(pid, f"{p}-bmi", "bmi", 34.2, "kg/m2", when=at(0, "08:20"))
    bmi["category"] = [cc([(OBS_CAT, "vital-signs", "Vital Signs")])]
    draft = draft_order(pid, f"{p}-contrave-draft", rx("contrave"),
                        dosage("Week 1: take 1 tablet by mouth every morning", 1, "{tbl}"), supply_days=7,
                        encounter_id="enc-contrave", reason="obesity")
    return Scenario(
        "contrave-with-oxycodone",
        "Woman with obesity (BMI 34.2) and chronic back pain on active oxycodone; draft Contrave (1551468, "
        "naltrexone 8 mg / bupropion 90 mg ER, week-1 titration 1 tablet daily = 8 mg naltrexone/day, so no "
        "low-dose). Contrave contains naltrexone: opioid-concurrent critical (+ urine-screen-needed). The "
        "indication rules judge plain naltrexone only: Contrave is labelled for weight management, so no "
        "indication-missing card.",
        patient(pid, "Rita", "Vance", "female", "1975-05-12"),
        [condition(pid, f"{p}-obesity", "obesity", onset=at(900)),
         condition(pid, f"{p}-lbp", "low-back-pain", onset=at(900)), oxy, *normal_lfts(pid, p), bmi],
        [draft],
        expect([card("opioid-concurrent", "critical", ["MedicationRequest/contrave-oxy"]),
                card("urine-screen-needed", "warning", ["MedicationRequest/contrave-oxy"])],
               absent=("duplicate-antagonist", "low-dose", "indication-missing")),
        encounter_id="enc-contrave",
    )


SCENARIOS: list = [
    s_silent_aud_adult, s_sandbox_bup, s_oxycodone_active, s_opioid_stopped_3_days, s_opioid_stopped_10_days,
    s_buprenorphine_ended_9_days, s_buprenorphine_ended_12_days, s_dispense_oxycodone_5_days, s_loperamide_otc,
    s_loperamide_completed, s_alt_2x, s_alt_6x, s_alt_default_uln, s_ast_ukat, s_age_17, s_age_19, s_age_20,
    s_ldn_ms, s_ldn_ms_tramadol, s_liver_records_ignored, s_cirrhosis_active, s_acute_hepatitis_active,
    s_completed_hydrocodone, s_urine_positive, s_urine_positive_string, s_urine_naltrexone_positive,
    s_oud_remission_negative_screen, s_opioid_order_on_oral_naltrexone, s_opioid_order_after_injection,
    s_opioid_order_after_injection_45, s_unrelated_order, s_draft_opioid_same_session, s_mixed_agonist_butorphanol,
    s_codeine_cough_syrup, s_methadone_maintenance, s_embeda_active, s_duplicate_lybalvi, s_naltrexone_allergy,
    s_naltrexone_allergy_refuted, s_no_indication, s_vivitrol_contained, s_bundled_medication_reference,
    s_text_only_opioid, s_malformed_neighbour, s_overdose_risk_with_naloxone, s_contrave_with_oxycodone,
]


# --------------------------------------------------------------------------------------------------------
# Assembly: transaction bundle, prefetch, hook requests
# --------------------------------------------------------------------------------------------------------
def loinc_code(obs: dict) -> str | None:
    code = obs.get("code") or {}
    for c in code.get("coding", []):
        if c.get("system") == LOINC:
            return c.get("code")
    return None


def transaction_bundle(s: Scenario) -> dict:
    entries = []
    for r in [s.patient, *s.resources]:
        if ref(r) in s.not_in_bundle:
            continue
        entries.append({"fullUrl": f"urn:uuid:{uid(s.id, ref(r))}", "resource": r,
                        "request": {"method": "PUT", "url": ref(r)}})
    return {"resourceType": "Bundle", "id": f"{s.id}-transaction", "type": "transaction", "entry": entries}


def searchset(s: Scenario, query: str, matches: list[dict]) -> dict:
    by_ref = {ref(r): r for r in s.resources}
    entries = [{"fullUrl": f"{FHIR_BASE}/{ref(r)}", "resource": r, "search": {"mode": "match"}} for r in matches]
    included: list[str] = []
    for r in matches:  # a Medication referenced by a prefetched resource travels as an `include` entry
        target = (r.get("medicationReference") or {}).get("reference", "")
        if target.startswith("Medication/") and target in by_ref and target not in included:
            included.append(target)
            entries.append({"fullUrl": f"{FHIR_BASE}/{target}", "resource": by_ref[target],
                            "search": {"mode": "include"}})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "id": uid(s.id, "searchset", query), "type": "searchset", "total": len(matches),
        "link": [{"relation": "self", "url": f"{FHIR_BASE}/{query}"}],
    }
    if entries:
        bundle["entry"] = entries
    return bundle


def medication_query(resource_type: str, pid: str) -> str:
    """The advertised template: the records and, with `_include`, the Medications they reference."""
    return f"{resource_type}?patient={pid}&_include={resource_type}:medication"


def prefetch(s: Scenario) -> dict:
    if s.prefetch_override is not None:
        return s.prefetch_override(s)
    pid = s.pid

    def of_type(t: str) -> list[dict]:
        return [r for r in s.resources if r["resourceType"] == t]

    obs = of_type("Observation")
    liver = [o for o in obs if loinc_code(o) in LIVER_TEST_CODES]
    urine = [o for o in obs if loinc_code(o) in UDS_CODES]
    return {
        "patient": s.patient,
        "conditions": searchset(s, f"Condition?patient={pid}", of_type("Condition")),
        "medicationRequests": searchset(s, medication_query("MedicationRequest", pid), of_type("MedicationRequest")),
        "medicationStatements": searchset(s, medication_query("MedicationStatement", pid),
                                          of_type("MedicationStatement")),
        "medicationDispenses": searchset(s, medication_query("MedicationDispense", pid),
                                         of_type("MedicationDispense")),
        "medicationAdministrations": searchset(s, medication_query("MedicationAdministration", pid),
                                               of_type("MedicationAdministration")),
        "liverTests": searchset(s, f"Observation?patient={pid}&code=http://loinc.org|1742-6,1920-8,30239-8,88112-8",
                                liver),
        "urineDrugScreens": searchset(
            s, f"Observation?patient={pid}&code=http://loinc.org|{','.join(sorted(UDS_CODES))}", urine),
        "allergies": searchset(s, f"AllergyIntolerance?patient={pid}", of_type("AllergyIntolerance")),
    }


def draft_bundle(s: Scenario) -> dict:
    entries = [{"fullUrl": f"{FHIR_BASE}/{ref(r)}", "resource": r} for r in [*s.drafts, *s.draft_bundle_extra]]
    return {"resourceType": "Bundle", "id": uid(s.id, "draftOrders"), "type": "collection", "entry": entries}


def hook_request(s: Scenario, hook: str) -> dict:
    context: dict[str, Any] = {"userId": USER_ID, "patientId": s.pid}
    if s.encounter_id:
        context["encounterId"] = s.encounter_id
    context["draftOrders"] = draft_bundle(s)
    if hook == "order-select":
        context["selections"] = s.selections or [ref(s.drafts[0])]
    return {"hookInstance": uid(s.id, hook), "hook": hook, "fhirServer": FHIR_BASE, "context": context,
            "prefetch": prefetch(s)}


def sandbox_request(s: Scenario, hook: str) -> dict:
    """The CDS Hooks Sandbox's order-sign/order-select request, verbatim in shape (see ecosystem notes)."""
    draft = {
        "resourceType": "MedicationRequest", "id": "request-123", "status": "draft", "intent": "order",
        "subject": {"reference": f"Patient/{s.pid}"}, "authoredOn": TODAY.isoformat(),
        "category": {"coding": [{"system": MR_CAT, "code": "community"}]},  # an object: invalid R4, as sent
        "medicationCodeableConcept": {
            "text": "Naltrexone hydrochloride 50 MG Oral Tablet",
            "coding": [{"system": RXNORM, "code": "1483744", "display": "Naltrexone hydrochloride 50 MG Oral Tablet"}]},
        "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                               "doseAndRate": [{"doseQuantity": {"value": 1, "system": UCUM, "code": "{pill}"}}]}],
        "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "unit": "days", "system": UCUM, "code": "d"}},
    }
    context: dict[str, Any] = {"patientId": s.pid, "userId": "Practitioner/COREPRACTITIONER1",
                               "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]}}
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/request-123"]
    return {"hookInstance": uid(s.id, hook), "hook": hook, "fhirServer": FHIR_BASE, "context": context,
            "prefetch": prefetch(s)}


# --------------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------------
def validate(s: Scenario, requests: dict[str, dict], expected: dict, seen_ids: dict[str, str]) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    def check(res: dict) -> None:
        if ref(res) in s.not_strict:
            return
        get_fhir_model_class(res["resourceType"]).model_validate(res)

    for r in [s.patient, *s.resources, *s.drafts, *s.draft_bundle_extra]:
        check(r)
        key = ref(r)
        if r not in s.drafts and r not in s.draft_bundle_extra:  # ids must be unique across all scenarios
            assert seen_ids.setdefault(key, s.id) == s.id, f"{key} used by {seen_ids[key]} and {s.id}"
    check(transaction_bundle(s))
    for req in requests.values():
        for key, value in req["prefetch"].items():
            if not any(ref(e["resource"]) in s.not_strict for e in value.get("entry", [])):
                check(value)
            else:
                for e in value["entry"]:
                    check(e["resource"])
            assert key
        if not s.sandbox:
            check(req["context"]["draftOrders"])
    # expectations refer only to known rules and to resources that exist
    known = {ref(r) for r in [s.patient, *s.resources, *s.drafts, *s.draft_bundle_extra]}
    for hook in ("order-sign", "order-select", "prefetch-only"):
        if hook not in expected:
            continue
        for c in expected[hook]["cards"]:
            assert c["rule"] in RULE_IDS, c["rule"]
            assert c["indicator"] in {"info", "warning", "critical"}
            for e in [*c["evidence"], *c.get("evidence_absent", [])]:
                assert e in known, f"{s.id}: evidence {e} not in the scenario"
        for rule in expected[hook]["absent_rules"]:
            assert rule in RULE_IDS, rule
            assert rule not in {c["rule"] for c in expected[hook]["cards"]}, f"{s.id}: {rule} both fires and absent"


# --------------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------------
def dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def readme(rows: list[tuple[Scenario, dict]]) -> str:
    lines = [
        "# FHIR fixtures (generated)",
        "",
        "Generated by `scripts/build_fixtures.py` -- do not edit by hand; change the generator and re-run",
        "`.venv/bin/python scripts/build_fixtures.py`. Every date is anchored to **today = 2026-11-25**",
        "(run the service with `CDS_TODAY=2026-11-25`).",
        "",
        "Each folder holds `bundle.json` (FHIR R4 transaction Bundle, PUT entries, loadable as is),",
        "`order-sign.json` / `order-select.json` (complete CDS Hooks 2.0 requests; `fhirServer` is a placeholder",
        "to replace), and `expected.json`:",
        "`{description, today, order-sign: {cards: [{rule, indicator, evidence, detail_contains, "
        "evidence_absent?}], absent_rules, max_indicator?}, order-select: {...}}`.",
        "`cards` is the exact set of rule ids that must fire (one card per rule per order); `evidence` lists",
        "`Type/id` references the card's detail must cite; `evidence_absent` references it must not cite.",
        "",
        "Prefetch keys: `patient`, `conditions`, `medicationRequests`, `medicationStatements`,",
        "`medicationDispenses`, `medicationAdministrations`, `liverTests`, `urineDrugScreens`, `allergies`.",
        "",
        "Deliberately invalid data (excluded from R4B validation): the Sandbox draft `request-123` in",
        "`sandbox-bup-naloxone-film` (category as an object, draftOrders Bundle without `type`), and",
        "`Observation/malformed-alt-bad` in `malformed-neighbour` (prefetch only, not in `bundle.json`).",
        "",
        "| scenario | story | order-sign cards | order-select cards |",
        "|---|---|---|---|",
    ]

    def fmt(exp: dict) -> str:
        if not exp["cards"]:
            return "(none)"
        return ", ".join(f"`{c['rule']}` {c['indicator']}" for c in exp["cards"])

    for s, exp in rows:
        story = s.description.replace("|", "/").replace("\n", " ")
        lines.append(f"| `{s.id}` | {story} | {fmt(exp['order-sign'])} | {fmt(exp['order-select'])} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    OUT.mkdir(exist_ok=True)
    sys.path.insert(0, str(ROOT / "scripts"))
    import fixtures_exposure  # the exposure scenarios (issue 11 part B) live in their own module
    import fixtures_terminology  # class-based terminology scenarios (issue 11 part A)

    scenarios = [fn() for fn in [*SCENARIOS, *fixtures_exposure.SCENARIOS,
                                 *fixtures_terminology.scenarios(sys.modules[__name__])]]
    ids = [s.id for s in scenarios]
    assert len(ids) == len(set(ids)), "duplicate scenario id"
    # remove scenario folders this generator made before but no longer makes
    for d in sorted(OUT.iterdir()):
        if d.is_dir() and (d / "expected.json").exists() and d.name not in ids:
            shutil.rmtree(d)
    seen_ids: dict[str, str] = {}
    rows = []
    for s in scenarios:
        assert s.description, s.id
        build = sandbox_request if s.sandbox else hook_request
        requests = {hook: build(s, hook) for hook in ("order-sign", "order-select")}
        if s.hook_override is not None:
            requests = {hook: s.hook_override(s, hook, req) for hook, req in requests.items()}
        expected = {"description": s.description, "today": TODAY.isoformat(),
                    "order-sign": s.sign, "order-select": s.select or s.sign}
        if s.shape:
            expected["shape"] = s.shape
        if s.prefetch_only is not None:
            expected["prefetch-only"] = s.prefetch_only
        validate(s, requests, expected, seen_ids)
        folder = OUT / s.id
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        dump(folder / "bundle.json", transaction_bundle(s))
        dump(folder / "order-sign.json", requests["order-sign"])
        dump(folder / "order-select.json", requests["order-select"])
        dump(folder / "expected.json", expected)
        rows.append((s, expected))
    dump(OUT / "index.json", ids)
    (OUT / "README.md").write_text(readme(rows), encoding="utf-8")
    print(f"wrote {len(scenarios)} scenarios to {OUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
