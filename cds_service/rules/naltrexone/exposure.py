"""One model of opioid-antagonist exposure, for both directions (opioid orders and naltrexone orders).

Orders, dispenses, statements and administrations all say the same thing in different words: when the
patient last had a dose, and whether it still blocks the opioid receptors today.

* **Oral** naltrexone (tablets, and naltrexone/bupropion, olanzapine/samidorphan) blocks opioid analgesia for
  about `oral_naltrexone_block_hours` (72 h) after its last dose: a current product blocks, and so does one
  whose last possible day of use is no more than 72 h back (counted in whole days from the end of that day).
* **Extended-release** naltrexone (the monthly 380 mg injection) blocks for `xr_naltrexone_days` after the
  injection, from *any* record of it: an administration, a dispense (clinics dispense and inject the same
  day), an order or a statement. The injection day is the latest day the record allows (partial dates).

Every date is the record's safe bound (`record.medications.Exposure`): the latest day a dose may have been.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from cds_service.record.model import MedicationUse, PatientRecord

XR = "extended-release-injection"
ANTAGONIST = "opioid-antagonist-therapy"


def is_antagonist_therapy(m: MedicationUse) -> bool:
    """Naltrexone or samidorphan as therapy (alone or with non-opioids); not the abuse deterrent in Embeda."""
    return m.has(ANTAGONIST) or (m.has("samidorphan") and not m.has("abuse-deterrent"))


def is_extended_release(m: MedicationUse) -> bool:
    return XR in m.product_classes


@dataclass(frozen=True, slots=True)
class AntagonistExposure:
    """One record of antagonist therapy, read as a blockade of the opioid receptors."""

    use: MedicationUse
    extended_release: bool
    last_dose: date | None  # latest possible day of the last dose (XR: the injection day); None when current
    blocked_until: date | None  # last day the blockade may last; None: current (lasts while the therapy does)

    @property
    def current(self) -> bool:
        return self.blocked_until is None

    def days_since_dose(self, today: date) -> int | None:
        return max((today - self.last_dose).days, 0) if self.last_dose is not None else None

    def blocks_on(self, today: date) -> bool:
        return self.current or (self.blocked_until is not None and self.blocked_until >= today
                                and (self.last_dose is None or self.last_dose <= today))


def oral_block_days(config: object) -> int:
    """Whole days after the day of the last oral dose that may still be inside its blockade (72 h -> 3)."""
    return math.ceil(getattr(config, "oral_naltrexone_block_hours", 72) / 24)


def injection_day(m: MedicationUse) -> date | None:
    """The latest day the record allows for the injection it records (ordered, handed over, given, taken)."""
    return m.event or m.end or m.start


def earliest_injection_day(m: MedicationUse) -> date | None:
    """The earliest day the record allows for the injection it records: where the act is one date (given,
    handed over, ordered, a statement's dateTime) its span's first day; a course (a statement's period) has only
    its `injection_day`. The bound for "the interval has run out": an injection dated `2026-09` may have been
    given on 1 September, so its reminder and its lapse warning come as early as that reading allows."""
    latest = injection_day(m)
    if latest is None:
        return None
    if m.start is None or m.start > latest or (
            m.resource_type == "MedicationStatement" and isinstance((m.raw or {}).get("effectivePeriod"), dict)):
        return latest
    return m.start


def last_injection(record: PatientRecord) -> tuple[MedicationUse, date] | None:
    """The most recent extended-release injection any record of the chart dates (its `injection_day`), not a
    future-dated one: the day the next injection's interval counts from (patient-view reminders)."""
    found = [(m, day) for m in record.medications if is_antagonist_therapy(m) and is_extended_release(m)
             and (day := injection_day(m)) is not None and day <= record.today]
    return max(found, key=lambda pair: pair[1]) if found else None


def last_injection_at_the_earliest(record: PatientRecord) -> tuple[MedicationUse, date, date] | None:
    """(record, earliest day, latest day) of the injection the next dose is counted from: the one whose
    earliest possible day is the most recent (an imprecise date never postpones a reminder or a lapse warning)."""
    found = [(m, first, last) for m in record.medications if is_antagonist_therapy(m) and is_extended_release(m)
             and (last := injection_day(m)) is not None and last <= record.today
             and (first := earliest_injection_day(m)) is not None]
    return max(found, key=lambda item: (item[1], item[2])) if found else None


def antagonist_exposures(record: PatientRecord, config: object, exclude: str | None = None
                         ) -> list[AntagonistExposure]:
    """Every antagonist-therapy record of the chart (not this session's drafts), read with one model."""
    xr_days = getattr(config, "xr_naltrexone_days", 30)
    oral_days = oral_block_days(config)
    out: list[AntagonistExposure] = []
    for m in record.medications:
        if m.ref == exclude or not is_antagonist_therapy(m):
            continue
        if is_extended_release(m):
            day = injection_day(m)
            if m.is_current and (day is None or (record.today - day).days > xr_days):
                # an active XR order or statement whose last injection is unknown: a standing therapy
                out.append(AntagonistExposure(m, True, None, None))
            elif day is not None:
                out.append(AntagonistExposure(m, True, day, day + timedelta(days=xr_days)))
            continue
        if m.is_current:
            out.append(AntagonistExposure(m, False, None, None))
        elif m.end is not None:
            out.append(AntagonistExposure(m, False, m.end, m.end + timedelta(days=oral_days)))
    return out


def blocking(record: PatientRecord, config: object, exclude: str | None = None) -> list[AntagonistExposure]:
    """Antagonist exposures that may still block the opioid receptors today: current ones first, then the
    most recent doses."""
    found = [e for e in antagonist_exposures(record, config, exclude) if e.blocks_on(record.today)]
    return sorted(found, key=lambda e: (not e.current, e.days_since_dose(record.today) or 0))
