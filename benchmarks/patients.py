"""Deterministic, realistic synthetic patients as complete CDS Hooks order-sign requests.

Every generator takes a seed and builds everything from one `random.Random(seed)`: the same seed gives the
same request, byte for byte (`request_bytes`). Dates count back from TODAY (the service runs with
`CDS_TODAY=2026-11-25`). Codes come from `cds_service/terminology/data/*.json` (opioids, naltrexone, ALT,
AST, urine opioid screens, alcohol use disorder) plus everyday unrelated ones (statins, metformin, glucose...).

    typical   ~150 prefetched resources: a patient with alcohol use disorder on an oxycodone prescription,
              a raised ALT and a positive urine opiate screen (so several naltrexone rules fire)
    heavy     ~2,000 resources: the same story with years of history
    extreme   ~20,000 Observations (mostly unrelated labs, some ALT/AST) in `liverTests`, plus a typical chart
    unrelated the typical patient ordering atorvastatin (no naltrexone, no opioid: nothing to check)
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fhir_builders.codes import LAB, RX
from fhir_builders.dates import TODAY
from fhir_builders.systems import (
    ALLERGY_CLINICAL,
    ALLERGY_VER,
    COND_CAT,
    COND_CLINICAL,
    COND_VER,
    ICD10CM,
    INTERP,
    LOINC,
    MR_CAT,
    MRN_SYSTEM,
    OBS_CAT,
    RXNORM,
    SNOMED,
    UCUM,
    V2_0203,
)

BASE = "http://127.0.0.1:8091/fhir"
SEED = 20261125

# (icd10, snomed, display): AUD first (the indication), then everyday problems the rules do not care about
AUD = ("F10.20", "66590003", "Alcohol dependence, uncomplicated")
OTHER_CONDITIONS = [
    ("I10", "38341003", "Essential hypertension"),
    ("E78.5", "55822004", "Hyperlipidemia, unspecified"),
    ("E11.9", "44054006", "Type 2 diabetes mellitus without complications"),
    ("M54.50", "279039007", "Low back pain"),
    ("F32.9", "35489007", "Major depressive disorder, single episode"),
    ("J45.909", "195967001", "Asthma, uncomplicated"),
    ("K21.9", "235595009", "Gastro-esophageal reflux disease"),
    ("G47.00", "193462001", "Insomnia, unspecified"),
    ("M17.11", "239873007", "Primary osteoarthritis, right knee"),
    ("E66.9", "414916001", "Obesity, unspecified"),
    ("F41.1", "21897009", "Generalized anxiety disorder"),
    ("N40.0", "266569009", "Benign prostatic hyperplasia"),
    ("G43.909", "37796009", "Migraine, unspecified"),
]
# RxNorm SCDs: opioids (in the terminology) and unrelated chronic medicines (not in it)
OPIOIDS = [
    ("1049621", "oxycodone hydrochloride 5 MG Oral Tablet", 5, "{tbl}"),
    ("857002", "acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet", 1, "{tbl}"),
    ("892582", "morphine sulfate 15 MG Oral Tablet", 15, "mg"),
    ("997285", "codeine phosphate 30 MG Oral Tablet", 30, "mg"),
]
NON_OPIOIDS = [
    ("617311", "atorvastatin 40 MG Oral Tablet", 40),
    ("314076", "lisinopril 10 MG Oral Tablet", 10),
    ("861007", "metformin hydrochloride 500 MG Oral Tablet", 500),
    ("312940", "sertraline 50 MG Oral Tablet", 50),
    ("197361", "amlodipine 5 MG Oral Tablet", 5),
    ("310431", "gabapentin 300 MG Oral Capsule", 300),
    ("197806", "ibuprofen 600 MG Oral Tablet", 600),
    ("198440", "acetaminophen 500 MG Oral Tablet", 500),
    ("314077", "lisinopril 20 MG Oral Tablet", 20),
    ("310798", "hydrochlorothiazide 25 MG Oral Tablet", 25),
]
NALTREXONE = RX["naltrexone-50"]
ATORVASTATIN = RX["atorvastatin-40"]
ALT = (*LAB["alt"], 7, 42)  # with the reference range (low, high)
AST = (*LAB["ast"], 10, 40)
URINE_SCREENS = [
    ("19295-5", "Opiates [Presence] in Urine by Screen method"),
    ("58379-9", "Fentanyl [Presence] in Urine by Screen method"),
    ("3879-4", "Buprenorphine [Presence] in Urine"),
]
# unrelated labs: (loinc, display, unit, low, high)
OTHER_LABS = [
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70, 99),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 135, 145),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.7, 1.3),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 13.5, 17.5),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.0, 5.6),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 100, 199),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4.5, 11.0),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150, 400),
    ("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", 7, 20),
]
ALLERGENS = [
    ("7980", "penicillin G"), ("10831", "sulfamethoxazole"), ("2670", "codeine"),
    ("1191", "aspirin"), ("733", "ampicillin"),
]


@dataclass(frozen=True)
class Sizes:
    conditions: int
    med_requests: int
    med_statements: int
    med_dispenses: int
    liver_tests: int  # ALT/AST
    other_labs: int  # unrelated labs inside liverTests (an EHR that over-returns)
    urine_screens: int
    allergies: int


TYPICAL = Sizes(conditions=12, med_requests=25, med_statements=10, med_dispenses=25, liver_tests=50,
                other_labs=0, urine_screens=20, allergies=6)
HEAVY = Sizes(conditions=120, med_requests=400, med_statements=150, med_dispenses=500, liver_tests=600,
              other_labs=0, urine_screens=200, allergies=29)
EXTREME = Sizes(conditions=12, med_requests=25, med_statements=10, med_dispenses=25, liver_tests=2_000,
                other_labs=18_000, urine_screens=20, allergies=6)
PROFILES = {"typical": TYPICAL, "heavy": HEAVY, "extreme": EXTREME}


class _Gen:
    def __init__(self, name: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.name = name
        self.patient_id = f"pt-bench-{name}"
        self._n = 0

    def uid(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-{self._n}"

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def days_ago(self, lo: int, hi: int) -> date:
        return TODAY - timedelta(days=self.rng.randint(lo, hi))

    def stamp(self, day: date) -> str:
        return f"{day.isoformat()}T{self.rng.randint(7, 17):02d}:{self.rng.choice((0, 15, 30, 45)):02d}:00-05:00"

    def subject(self) -> dict:
        return {"reference": f"Patient/{self.patient_id}"}

    # ---- resources -------------------------------------------------------------------------------------
    def patient(self) -> dict:
        return {
            "resourceType": "Patient", "id": self.patient_id,
            "meta": {"lastUpdated": "2026-10-26T08:00:00-05:00"},
            "identifier": [{"use": "usual", "type": {"coding": [{
                "system": V2_0203, "code": "MR",
                "display": "Medical record number"}], "text": "Medical record number"},
                "system": MRN_SYSTEM, "value": f"MRN-{self.rng.randint(10**6, 10**7)}"}],
            "active": True, "name": [{"use": "official", "family": "Benchmark", "given": [self.name.title()]}],
            "gender": "male", "birthDate": "1979-06-14",
        }

    def condition(self, icd: str, snomed: str, display: str, *, active: bool = True) -> dict:
        onset = self.days_ago(60, 3000)
        res: dict[str, Any] = {
            "resourceType": "Condition", "id": self.uid("cond"),
            "clinicalStatus": {"coding": [{"system": COND_CLINICAL,
                                           "code": "active" if active else "resolved"}]},
            "verificationStatus": {"coding": [{
                "system": COND_VER, "code": "confirmed"}]},
            "category": [{"coding": [{"system": COND_CAT,
                                      "code": "problem-list-item", "display": "Problem List Item"}]}],
            "code": {"coding": [{"system": ICD10CM, "code": icd, "display": display},
                                {"system": SNOMED, "code": snomed, "display": display}], "text": display},
            "subject": self.subject(),
            "onsetDateTime": self.stamp(onset), "recordedDate": self.stamp(onset),
        }
        if not active:
            res["abatementDateTime"] = self.stamp(onset + timedelta(days=30))
        return res

    def _med(self, rxcui: str, display: str) -> dict:
        return {"coding": [{"system": RXNORM, "code": rxcui, "display": display}], "text": display}

    def _dosage(self, amount: float, unit: str, per_day: int) -> list[dict]:
        return [{"sequence": 1, "text": f"Take {amount} {unit} by mouth {per_day} times daily",
                 "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
                 "route": {"coding": [{"system": SNOMED, "code": "26643006", "display": "Oral route"}]},
                 "doseAndRate": [{"doseQuantity": {"value": amount, "unit": unit, "system": UCUM, "code": unit}}]}]

    def med_request(self, med: tuple, *, status: str, authored: date, supply: int) -> dict:
        rxcui, display, amount = med[0], med[1], med[2]
        unit = med[3] if len(med) > 3 else "mg"
        return {
            "resourceType": "MedicationRequest", "id": self.uid("mr"), "status": status, "intent": "order",
            "category": [{"coding": [{
                "system": MR_CAT,
                "code": "outpatient", "display": "Outpatient"}]}],
            "medicationCodeableConcept": self._med(rxcui, display),
            "subject": self.subject(), "authoredOn": authored.isoformat(),
            "requester": {"reference": "Practitioner/example"},
            "dosageInstruction": self._dosage(amount, unit, self.rng.choice((1, 1, 2, 3))),
            "dispenseRequest": {"numberOfRepeatsAllowed": self.rng.randint(0, 3),
                                "expectedSupplyDuration": {"value": supply, "unit": "days", "system": UCUM,
                                                           "code": "d"}},
        }

    def med_statement(self, med: tuple, *, status: str, start: date, end: date | None) -> dict:
        period = {"start": self.stamp(start)}
        if end is not None:
            period["end"] = self.stamp(end)
        return {
            "resourceType": "MedicationStatement", "id": self.uid("ms"), "status": status,
            "medicationCodeableConcept": self._med(med[0], med[1]), "subject": self.subject(),
            "effectivePeriod": period, "dateAsserted": self.stamp(self.days_ago(0, 30)),
            "informationSource": self.subject(),
            "dosage": self._dosage(med[2], med[3] if len(med) > 3 else "mg", 1),
        }

    def med_dispense(self, med: tuple, *, handed: date, days: int) -> dict:
        return {
            "resourceType": "MedicationDispense", "id": self.uid("md"), "status": "completed",
            "medicationCodeableConcept": self._med(med[0], med[1]), "subject": self.subject(),
            "quantity": {"value": days, "unit": "tablet", "system": UCUM, "code": "{tbl}"},
            "daysSupply": {"value": days, "unit": "days", "system": UCUM, "code": "d"},
            "whenPrepared": self.stamp(handed), "whenHandedOver": self.stamp(handed),
        }

    def quantity_lab(self, code: str, display: str, unit: str, low: float, high: float, value: float,
                     when: date) -> dict:
        flag = "H" if value > high else ("L" if value < low else "N")
        return {
            "resourceType": "Observation", "id": self.uid("obs"), "status": "final",
            "category": [{"coding": [{"system": OBS_CAT,
                                      "code": "laboratory", "display": "Laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
            "subject": self.subject(), "effectiveDateTime": self.stamp(when), "issued": self.stamp(when),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
            "interpretation": [{"coding": [{
                "system": INTERP, "code": flag}]}],
            "referenceRange": [{"low": {"value": low, "unit": unit, "system": UCUM, "code": unit},
                                "high": {"value": high, "unit": unit, "system": UCUM, "code": unit}}],
        }

    def liver_test(self, when: date, *, factor: float | None = None) -> dict:
        code, display, low, high = self.rng.choice((ALT, AST))
        value = round(high * factor, 0) if factor else float(self.rng.randint(low, high))
        return self.quantity_lab(code, display, "U/L", low, high, value, when)

    def other_lab(self, when: date) -> dict:
        code, display, unit, low, high = self.rng.choice(OTHER_LABS)
        value = round(self.rng.uniform(low * 0.8, high * 1.2), 1)
        return self.quantity_lab(code, display, unit, low, high, value, when)

    def urine_screen(self, when: date, *, positive: bool) -> dict:
        code, display = self.rng.choice(URINE_SCREENS)
        word, sct, interp = ("Positive", "10828004", "POS") if positive else ("Negative", "260385009", "NEG")
        return {
            "resourceType": "Observation", "id": self.uid("uds"), "status": "final",
            "category": [{"coding": [{"system": OBS_CAT,
                                      "code": "laboratory", "display": "Laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
            "subject": self.subject(), "effectiveDateTime": self.stamp(when), "issued": self.stamp(when),
            "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": sct, "display": word}], "text": word},
            "interpretation": [{"coding": [{
                "system": INTERP, "code": interp}],
                "text": word}],
        }

    def allergy(self, rxcui: str, name: str) -> dict:
        return {
            "resourceType": "AllergyIntolerance", "id": self.uid("alg"),
            "clinicalStatus": {"coding": [{
                "system": ALLERGY_CLINICAL, "code": "active"}]},
            "verificationStatus": {"coding": [{
                "system": ALLERGY_VER,
                "code": "confirmed"}]},
            "type": "allergy", "category": ["medication"], "criticality": "low",
            "code": {"coding": [{"system": RXNORM, "code": rxcui, "display": name}], "text": name},
            "patient": self.subject(), "recordedDate": self.stamp(self.days_ago(100, 4000)),
            "reaction": [{"manifestation": [{"coding": [{"system": SNOMED, "code": "271807003",
                                                         "display": "Eruption of skin"}]}], "severity": "mild"}],
        }

    def bundle(self, resources: list[dict]) -> dict:
        return {
            "resourceType": "Bundle", "id": self.uuid(), "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in resources],
        }


def _chart(name: str, sizes: Sizes, seed: int) -> tuple[_Gen, dict[str, Any]]:
    """The prefetch of one patient: key -> Bundle (or the Patient)."""
    g = _Gen(name, seed)
    conditions = [g.condition(*AUD)]
    for i in range(sizes.conditions - 1):
        conditions.append(g.condition(*OTHER_CONDITIONS[i % len(OTHER_CONDITIONS)], active=g.rng.random() < 0.7))

    # an active oxycodone prescription (opioid-concurrent) and older opioid courses; the rest everyday drugs
    requests = [g.med_request(OPIOIDS[0], status="active", authored=TODAY - timedelta(days=10), supply=30)]
    while len(requests) < sizes.med_requests:
        if g.rng.random() < 0.1:
            requests.append(g.med_request(g.rng.choice(OPIOIDS[1:]), status="completed",
                                          authored=g.days_ago(200, 2000), supply=g.rng.choice((3, 5, 7))))
        else:
            status = "active" if g.rng.random() < 0.3 else "completed"
            requests.append(g.med_request(g.rng.choice(NON_OPIOIDS), status=status,
                                          authored=g.days_ago(1, 1500), supply=g.rng.choice((30, 90))))
    statements = []
    while len(statements) < sizes.med_statements:
        start = g.days_ago(100, 2000)
        if g.rng.random() < 0.1:
            statements.append(g.med_statement(g.rng.choice(OPIOIDS[1:]), status="completed", start=start,
                                              end=start + timedelta(days=5)))
        else:
            statements.append(g.med_statement(g.rng.choice(NON_OPIOIDS), status="active", start=start, end=None))
    dispenses = []
    while len(dispenses) < sizes.med_dispenses:
        med = g.rng.choice(OPIOIDS[1:]) if g.rng.random() < 0.1 else g.rng.choice(NON_OPIOIDS)
        dispenses.append(g.med_dispense(med, handed=g.days_ago(120, 2000), days=g.rng.choice((5, 30, 90))))

    # liver tests: years of normal values, the newest ALT/AST 4x the upper limit (liver-enzymes)
    labs = [g.liver_test(TODAY - timedelta(days=6), factor=4.0)]
    labs += [g.liver_test(g.days_ago(30, 3000)) for _ in range(sizes.liver_tests - 1)]
    labs += [g.other_lab(g.days_ago(1, 3000)) for _ in range(sizes.other_labs)]
    g.rng.shuffle(labs)
    # urine screens: old negatives, a positive opiate screen 5 days ago (urine-screen-positive)
    urine = [g.urine_screen(TODAY - timedelta(days=5), positive=True)]
    urine += [g.urine_screen(g.days_ago(60, 2000), positive=False) for _ in range(sizes.urine_screens - 1)]
    allergies = [g.allergy(*ALLERGENS[i % len(ALLERGENS)]) for i in range(sizes.allergies)]
    prefetch = {
        "patient": g.patient(),
        "conditions": g.bundle(conditions),
        "medicationRequests": g.bundle(requests),
        "medicationStatements": g.bundle(statements),
        "medicationDispenses": g.bundle(dispenses),
        "liverTests": g.bundle(labs),
        "urineDrugScreens": g.bundle(urine),
        "allergies": g.bundle(allergies),
    }
    prefetch["medicationAdministrations"] = g.bundle([])  # after the others: their generated ids stay as they were
    return g, prefetch


def _draft(g: _Gen, med: tuple[str, str], dose: int) -> dict:
    return {
        "resourceType": "MedicationRequest", "id": f"draft-{g.name}", "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": med[0], "display": med[1]}],
                                      "text": med[1]},
        "subject": g.subject(), "encounter": {"reference": "Encounter/enc-bench"},
        "authoredOn": TODAY.isoformat(), "requester": {"reference": "Practitioner/example"},
        "reasonCode": [{"coding": [{"system": ICD10CM, "code": AUD[0], "display": AUD[2]}], "text": AUD[2]}],
        "dosageInstruction": g._dosage(dose, "mg", 1),
        "dispenseRequest": {"numberOfRepeatsAllowed": 0, "expectedSupplyDuration": {
            "value": 30, "unit": "days", "system": UCUM, "code": "d"}},
    }


def order_sign(name: str = "typical", *, seed: int = SEED, unrelated: bool = False,
               with_prefetch: bool = True) -> dict:
    """A complete order-sign request for the named profile (typical / heavy / extreme)."""
    g, prefetch = _chart(name, PROFILES[name], seed)
    draft = _draft(g, ATORVASTATIN if unrelated else NALTREXONE, 40 if unrelated else 50)
    request: dict[str, Any] = {
        "hookInstance": g.uuid(),
        "hook": "order-sign",
        "fhirServer": BASE,
        "context": {
            "userId": "Practitioner/example", "patientId": g.patient_id, "encounterId": "enc-bench",
            "draftOrders": {"resourceType": "Bundle", "type": "collection",
                            "entry": [{"fullUrl": f"{BASE}/MedicationRequest/{draft['id']}", "resource": draft}]},
        },
    }
    if with_prefetch:
        request["prefetch"] = prefetch
    else:
        del request["fhirServer"]  # the caller names its own FHIR server
    return request


def patient_view(name: str = "typical", *, seed: int = SEED) -> dict:
    """A patient-view request for the named profile, the patient on naltrexone tablets for 40 days (so that the
    naltrexone-patient-view service reads the whole chart, not only the medication keys)."""
    g, prefetch = _chart(name, PROFILES[name], seed)
    therapy = _draft(g, NALTREXONE, 50)
    therapy.update(id=f"ntx-{g.name}", status="active", authoredOn=(TODAY - timedelta(days=40)).isoformat())
    prefetch["medicationRequests"]["entry"].append({"resource": therapy})
    return {"hookInstance": g.uuid(), "hook": "patient-view", "fhirServer": BASE,
            "context": {"userId": "Practitioner/example", "patientId": g.patient_id}, "prefetch": prefetch}


def transaction_bundle(name: str = "typical", *, seed: int = SEED) -> dict:
    """The patient's chart as a FHIR transaction Bundle (PUT Type/id), to load into a FHIR server."""
    _g, prefetch = _chart(name, PROFILES[name], seed)
    resources = [prefetch["patient"]]
    for key, value in prefetch.items():
        if key != "patient":
            resources += [e["resource"] for e in value["entry"]]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r,
         "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}


def resource_count(request: dict) -> int:
    """Prefetched resources in a request (a Bundle counts its entries, a lone resource counts one)."""
    n = 0
    for value in (request.get("prefetch") or {}).values():
        if isinstance(value, dict):
            n += len(value.get("entry", ())) if value.get("resourceType") == "Bundle" else 1
    return n


def request_bytes(request: dict) -> bytes:
    """The exact bytes sent (compact JSON, key order as built)."""
    return json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode()
