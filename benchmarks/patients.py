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

import csv
import json
import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fhir_builders import resources as fb
from fhir_builders.codes import LAB, RX
from fhir_builders.dates import TODAY
from fhir_builders.systems import ICD10CM, RXNORM, SNOMED

BASE = "http://127.0.0.1:8091/fhir"
SEED = 20261125

NALTREXONE = RX["naltrexone-50"]
ATORVASTATIN = RX["atorvastatin-40"]
ALT = (*LAB["alt"], 7, 42)  # with the reference range (low, high)
AST = (*LAB["ast"], 10, 40)


def _number(text: str) -> float:
    return float(text) if "." in text else int(text)


def _lists() -> dict[str, list[dict[str, str]]]:
    """benchmarks/chart_codes.csv by list: the everyday codes of a chart (each row names its source)."""
    out: dict[str, list[dict[str, str]]] = {}
    with (Path(__file__).resolve().parent / "chart_codes.csv").open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            out.setdefault(r["list"], []).append(r)
    return out


_LISTS = _lists()
# (icd10, snomed, display): AUD first (the indication), then everyday problems the rules do not care about
AUD, *OTHER_CONDITIONS = [(r["code"], r["snomed"], r["display"]) for r in _LISTS["condition"]]
# RxNorm SCDs: opioids (in the terminology) and unrelated chronic medicines (not in it)
OPIOIDS = [(r["code"], r["display"], _number(r["amount"]), r["unit"]) for r in _LISTS["opioid"]]
NON_OPIOIDS = [(r["code"], r["display"], _number(r["amount"])) for r in _LISTS["medicine"]]
URINE_SCREENS = [(r["code"], r["display"]) for r in _LISTS["urine-screen"]]
# unrelated labs: (loinc, display, unit, low, high)
OTHER_LABS = [(r["code"], r["display"], r["unit"], _number(r["low"]), _number(r["high"])) for r in _LISTS["lab"]]
ALLERGENS = [(r["code"], r["display"]) for r in _LISTS["allergen"]]

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

    # ---- resources (the shared fhir_builders; the random parts drawn here, in a fixed order) -----------
    def patient(self) -> dict:
        return fb.patient(self.patient_id, self.name.title(), "Benchmark", "male", "1979-06-14")

    def condition(self, icd: str, snomed: str, display: str, *, active: bool = True) -> dict:
        onset = self.days_ago(60, 3000)
        onset_at, recorded_at = self.stamp(onset), self.stamp(onset)
        abatement = None if active else self.stamp(onset + timedelta(days=30))
        codings = [(ICD10CM, icd, display), (SNOMED, snomed, display)]
        return fb.condition(self.patient_id, self.uid("cond"), codings, clinical="active" if active else "resolved",
                            onset=onset_at, abatement=abatement, recorded=recorded_at)

    def _med(self, rxcui: str, display: str) -> dict:
        return fb.cc([(RXNORM, rxcui, display)])

    def _dosage(self, amount: float, unit: str, per_day: int) -> dict:
        return fb.dosage(f"Take {amount} {unit} by mouth {per_day} times daily", amount, unit, frequency=per_day)

    def med_request(self, med: tuple, *, status: str, authored: date, supply: int) -> dict:
        rxcui, display, amount = med[0], med[1], med[2]
        unit = med[3] if len(med) > 3 else "mg"
        rid = self.uid("mr")
        dose = self._dosage(amount, unit, self.rng.choice((1, 1, 2, 3)))
        return fb.med_request(self.patient_id, rid, self._med(rxcui, display), status=status,
                              authored=authored.isoformat(), dose=dose, supply_days=supply,
                              refills=self.rng.randint(0, 3), category="outpatient")

    def med_statement(self, med: tuple, *, status: str, start: date, end: date | None) -> dict:
        sid = self.uid("ms")
        start_at = self.stamp(start)
        end_at = self.stamp(end) if end is not None else None
        return fb.med_statement(self.patient_id, sid, self._med(med[0], med[1]), status=status, start=start_at,
                                end=end_at, asserted=self.stamp(self.days_ago(0, 30)),
                                dose=self._dosage(med[2], med[3] if len(med) > 3 else "mg", 1))

    def med_dispense(self, med: tuple, *, handed: date, days: int) -> dict:
        return fb.dispense(self.patient_id, self.uid("md"), self._med(med[0], med[1]),
                           handed_over=self.stamp(handed), days_supply=days, quantity=days)

    def quantity_lab(self, code: str, display: str, unit: str, low: float, high: float, value: float,
                     when: date) -> dict:
        flag = "H" if value > high else ("L" if value < low else "N")
        return fb.lab(self.patient_id, self.uid("obs"), (code, display), value, unit, when=self.stamp(when),
                      low=low, high=high, interp=flag)

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
        return fb.uds(self.patient_id, self.uid("uds"), (code, display), "POS" if positive else "NEG",
                      when=self.stamp(when))

    def allergy(self, rxcui: str, name: str) -> dict:
        return fb.allergy(self.patient_id, self.uid("alg"), substance=self._med(rxcui, name))

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
    return fb.draft_order(g.patient_id, f"draft-{g.name}", g._med(*med), g._dosage(dose, "mg", 1),
                          encounter_id="enc-bench", reason="aud-dependence")


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
