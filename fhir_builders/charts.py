"""Pieces of chart that many scenarios share: the alcohol-dependence record, the naltrexone 50 mg draft, an
active opioid prescription, rescue naloxone. Built on `resources`, so a change of house style is made once.
"""

from __future__ import annotations

from fhir_builders.dates import at
from fhir_builders.resources import condition, dosage, draft_order, med_request, normal_lfts, rx


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


def once_daily_tablet() -> dict:
    return dosage("Take 1 tablet by mouth once daily", 1, "{tbl}")


def tablet_prescription(pid: str, mid: str, key: str, *, status: str, authored_days_ago: int, supply_days: int,
                        reason: str, refills: int = 0) -> dict:
    """A once-daily tablet MedicationRequest written at 10:00, dispensing a tablet for each day of supply."""
    return med_request(pid, mid, rx(key), status=status, authored=at(authored_days_ago, "10:00"),
                       dose=once_daily_tablet(), supply_days=supply_days, quantity=(supply_days, "{tbl}"),
                       reason=reason, refills=refills)
