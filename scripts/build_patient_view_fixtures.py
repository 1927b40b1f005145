"""Writes `fhir_fixtures/patient-view/`: one CDS Hooks patient-view request per scenario of the
`naltrexone-patient-view` service, with its expected cards. Dates are anchored to today = 2026-11-25.

Run `.venv/bin/python scripts/build_patient_view_fixtures.py`; `tests/rules/naltrexone/test_patient_view.py`
checks the committed files are what this writes, and runs every scenario through HTTP.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fhir_fixtures" / "patient-view"
TODAY = date(2026, 11, 25)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
KEYS = ("conditions", "medicationRequests", "medicationStatements", "medicationDispenses", "medicationAdministrations",
        "liverTests")

NALTREXONE_50 = ("1483744", "naltrexone hydrochloride 50 MG Oral Tablet")
VIVITROL = ("637213", "naltrexone 380 MG Injection")
OXYCODONE = ("1049621", "oxycodone hydrochloride 5 MG Oral Tablet")
NALOXONE_SPRAY = ("1725059", "naloxone hydrochloride 40 MG/ML Nasal Spray")
AUD = ("F10.20", "Alcohol dependence, uncomplicated")
OUD = ("F11.20", "Opioid dependence, uncomplicated")


def day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def _med(product: tuple[str, str]) -> dict:
    return {"coding": [{"system": RXNORM, "code": product[0], "display": product[1]}], "text": product[1]}


def _subject(pid: str) -> dict:
    return {"reference": f"Patient/{pid}"}


def request(pid: str, rid: str, product: tuple[str, str], authored: int, status: str = "active",
            requester: str = "Practitioner/dr-addiction") -> dict:
    return {"resourceType": "MedicationRequest", "id": rid, "status": status, "intent": "order",
            "subject": _subject(pid), "authoredOn": day(authored), "requester": {"reference": requester},
            "medicationCodeableConcept": _med(product)}


def statement(pid: str, sid: str, product: tuple[str, str], given: int) -> dict:
    return {"resourceType": "MedicationStatement", "id": sid, "status": "completed", "subject": _subject(pid),
            "effectiveDateTime": day(given), "medicationCodeableConcept": _med(product)}


def dispense(pid: str, did: str, product: tuple[str, str], handed: int, days_supply: int) -> dict:
    return {"resourceType": "MedicationDispense", "id": did, "status": "completed", "subject": _subject(pid),
            "whenHandedOver": day(handed), "daysSupply": {"value": days_supply, "unit": "d"},
            "medicationCodeableConcept": _med(product)}


def administration(pid: str, aid: str, product: tuple[str, str], given: int) -> dict:
    return {"resourceType": "MedicationAdministration", "id": aid, "status": "completed", "subject": _subject(pid),
            "effectiveDateTime": f"{day(given)}T10:00:00Z", "medicationCodeableConcept": _med(product)}


def condition(pid: str, cid: str, code: tuple[str, str]) -> dict:
    return {"resourceType": "Condition", "id": cid, "subject": _subject(pid),
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
            "code": {"coding": [{"system": ICD10, "code": code[0], "display": code[1]}], "text": code[1]}}


def alt(pid: str, oid: str, value: float, days_ago: int) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": _subject(pid),
            "code": {"coding": [{"system": LOINC, "code": "1742-6",
                                 "display": "Alanine aminotransferase [Enzymatic activity/volume] in Serum or "
                                            "Plasma"}]},
            "effectiveDateTime": day(days_ago),
            "valueQuantity": {"value": value, "unit": "U/L", "system": "http://unitsofmeasure.org", "code": "U/L"},
            "referenceRange": [{"high": {"value": 40, "unit": "U/L"}}]}


def hook_request(pid: str, resources: list[dict]) -> dict:
    prefetch: dict[str, Any] = {}
    by_key = {"conditions": "Condition", "medicationRequests": "MedicationRequest",
              "medicationStatements": "MedicationStatement", "medicationDispenses": "MedicationDispense",
              "medicationAdministrations": "MedicationAdministration", "liverTests": "Observation"}
    for key in KEYS:
        entries = [{"resource": r} for r in resources if r["resourceType"] == by_key[key]]
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
    return {"hook": "patient-view", "hookInstance": f"pv-{pid}", "fhirServer": "https://ehr.example.org/fhir",
            "context": {"patientId": pid, "userId": "Practitioner/dr-addiction"}, "prefetch": prefetch}


def card(rule: str, indicator: str, evidence: list[str], *contains: str) -> dict:
    return {"rule": rule, "indicator": indicator, "evidence": evidence, "detail_contains": list(contains)}


def scenarios() -> list[tuple[str, str, list[dict], list[dict], list[str]]]:
    """(id, story, resources, expected cards, rules that must not fire)."""
    out = []
    p = "pv-not-on-naltrexone"
    out.append((p, "Oxycodone for back pain, ALT 6× ULN, no naltrexone: the patient-view service has nothing to "
                   "say (and reads no labs).",
                [request(p, "oxy", OXYCODONE, 10), alt(p, "alt-high", 240, 5), condition(p, "oud", OUD)], [],
                ["liver-enzymes-on-naltrexone", "opioid-on-naltrexone"]))
    p = "pv-oral-monitoring-due"
    out.append((p, "Alcohol dependence; naltrexone 50 mg tablets since 55 days ago; baseline ALT normal 58 days "
                   "ago, none since: the 28-day follow-up is overdue (liver-monitoring-due, info).",
                [condition(p, "aud", AUD), request(p, "ntx", NALTREXONE_50, 55), alt(p, "alt-baseline", 22, 58)],
                [card("liver-monitoring-due", "info", ["MedicationRequest/ntx", "Observation/alt-baseline"],
                      "first follow-up is due 28 days after the start")], ["liver-enzymes-on-naltrexone"]))
    p = "pv-oral-up-to-date"
    out.append((p, "Alcohol dependence; naltrexone tablets for 4 months, ALT normal 36 days ago: nothing due.",
                [condition(p, "aud", AUD), request(p, "ntx", NALTREXONE_50, 116), alt(p, "alt-1", 25, 36)], [],
                ["liver-monitoring-due"]))
    p = "pv-alt-6x-on-naltrexone"
    out.append((p, "Naltrexone tablets since 85 days ago; ALT 240 U/L (6× ULN) 3 days ago: critical, stop "
                   "naltrexone.",
                [condition(p, "aud", AUD), request(p, "ntx", NALTREXONE_50, 85), alt(p, "alt-4wk", 30, 57),
                 alt(p, "alt-high", 240, 3)],
                [card("liver-enzymes-on-naltrexone", "critical", ["MedicationRequest/ntx", "Observation/alt-high"],
                      "stop naltrexone", "6.0× ULN")], ["liver-monitoring-due"]))
    p = "pv-alt-3x-baseline"
    out.append((p, "Baseline ALT 18 U/L before naltrexone; 60 U/L (1.5× ULN but 3.3× baseline) 2 days ago: "
                   "warning.",
                [condition(p, "aud", AUD), request(p, "ntx", NALTREXONE_50, 40), alt(p, "alt-baseline", 18, 45),
                 alt(p, "alt-now", 60, 2)],
                [card("liver-enzymes-on-naltrexone", "warning", ["Observation/alt-now", "Observation/alt-baseline"],
                      "pre-treatment")], ["liver-monitoring-due"]))
    p = "pv-xr-day-27"
    out.append((p, "Opioid use disorder in treatment with extended-release naltrexone: dispensed 27 days ago "
                   "(28-day supply); naloxone at hand, ALT normal: the next injection is due (info).",
                [condition(p, "oud", OUD), dispense(p, "xr-disp", VIVITROL, 27, 28),
                 request(p, "nlx", NALOXONE_SPRAY, 27), alt(p, "alt-1", 20, 27)],
                [card("xr-naltrexone-due", "info", ["MedicationDispense/xr-disp"], "day 26")],
                ["overdose-risk", "liver-monitoring-due"]))
    p = "pv-xr-lapsed"
    out.append((p, "Opioid use disorder; last extended-release naltrexone injection given in the clinic 40 days ago "
                   "(administration), no naloxone: interval run out (xr-naltrexone-due warning) and overdose-risk.",
                [condition(p, "oud", OUD), administration(p, "xr-given", VIVITROL, 40), alt(p, "alt-1", 21, 20)],
                [card("xr-naltrexone-due", "warning", ["MedicationAdministration/xr-given"],
                      "opioid tolerance is gone", "overdose"),
                 card("overdose-risk", "warning", ["Condition/oud"], "naloxone")], []))
    p = "pv-xr-statement-day-12"
    out.append((p, "Alcohol dependence; the patient reports an extended-release naltrexone injection 12 days ago "
                   "elsewhere (statement); oxycodone prescribed 2 days ago: naltrexone is current from the statement "
                   "alone, so opioid-on-naltrexone (critical); the next injection is not due yet.",
                [condition(p, "aud", AUD), statement(p, "xr-reported", VIVITROL, 12), alt(p, "alt-1", 22, 12),
                 request(p, "oxy", OXYCODONE, 2, requester="Practitioner/urgent-care")],
                [card("opioid-on-naltrexone", "critical", ["MedicationStatement/xr-reported", "MedicationRequest/oxy"],
                      "analgesia is blocked")], ["xr-naltrexone-due", "liver-monitoring-due"]))
    p = "pv-opioid-prescribed-elsewhere"
    out.append((p, "Naltrexone tablets for alcohol dependence; an urgent-care clinic prescribed oxycodone 5 days "
                   "ago: opioid-on-naltrexone (critical).",
                [condition(p, "aud", AUD), request(p, "ntx", NALTREXONE_50, 60), alt(p, "alt-1", 24, 30),
                 request(p, "oxy", OXYCODONE, 5, requester="Practitioner/urgent-care")],
                [card("opioid-on-naltrexone", "critical", ["MedicationRequest/ntx", "MedicationRequest/oxy"],
                      "analgesia is blocked")], []))
    p = "pv-oud-no-naloxone"
    out.append((p, "Opioid use disorder on naltrexone tablets (started 20 days ago, baseline ALT normal), no "
                   "rescue naloxone: overdose-risk (warning).",
                [condition(p, "oud", OUD), request(p, "ntx", NALTREXONE_50, 20), alt(p, "alt-baseline", 19, 22)],
                [card("overdose-risk", "warning", ["Condition/oud", "MedicationRequest/ntx"],
                      "removes opioid tolerance")], ["liver-monitoring-due"]))
    return out


def write(out: Path = OUT) -> list[str]:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ids = []
    for sid, story, resources, cards, absent in scenarios():
        folder = out / sid
        folder.mkdir()
        dump(folder / "patient-view.json", hook_request(sid, resources))
        dump(folder / "expected.json", {"description": story, "today": TODAY.isoformat(),
                                        "patient-view": {"cards": cards, "absent_rules": absent}})
        ids.append(sid)
    dump(out / "index.json", ids)
    return ids


def dump(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    print(f"wrote {len(write())} patient-view scenarios to {OUT.relative_to(ROOT)}/")
    sys.exit(0)
