"""The naltrexone rule pack: its hook services, the data it needs, which orders it checks, and its rules.

Everything naltrexone-specific the rest of the service needs comes through this one object; a new drug is a
new pack module, registered in `cds_service.rules.registry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cds_service.rules.base import Rule, ServiceSpec

if TYPE_CHECKING:
    from cds_service.rules.base import RulePack
from cds_service.rules.naltrexone import (
    antagonists,
    data,
    indication,
    liver,
    monitoring_unchecked,
    opioids,
    overdose,
    patient,
    patient_view,
    reverse,
    urine,
    washout,
)
from cds_service.rules.naltrexone.config import NaltrexoneConfig
from cds_service.rules.naltrexone.prefetch import prefetch_templates
from cds_service.rules.naltrexone.scopes import ORDER_SCOPES, UNCHECKED_SCOPE
from cds_service.rules.naltrexone.wording import SOURCE_LABEL
from cds_service.terminology import Terminology, get_terminology

DESCRIPTION = (
    "Checks naltrexone orders (tablets, extended-release injection, naltrexone/bupropion, "
    "olanzapine/samidorphan) against current and recent opioids, urine drug screens, liver disease and "
    "transaminases, age, indication, dose, naloxone access, duplicates and allergies; and opioid orders "
    "for patients on naltrexone. Cards cite their evidence and offer one-click suggestions."
)

PATIENT_VIEW_DESCRIPTION = (
    "For a patient whose naltrexone therapy is current (any product, any record type): liver tests due or "
    "raised transaminases, the next extended-release injection due or overdue, rescue naloxone, and an opioid "
    "on record. No cards, and no labs read, for a patient not on naltrexone; one info card when whether "
    "naltrexone is current could not be checked (part of the medication records could not be read)."
)

# The running order: `data` comes last, data-incomplete also reports checks that could not run.
RULE_MODULES = (opioids, washout, urine, liver, patient, indication, overdose, antagonists, reverse, patient_view,
                monitoring_unchecked, data)
RULES: tuple[Rule, ...] = tuple(r for m in RULE_MODULES for r in m.RULES)


class NaltrexonePack:
    id = "naltrexone"
    source_label = SOURCE_LABEL
    rules = RULES

    def __init__(self, config: NaltrexoneConfig | None = None, terminology: Terminology | None = None) -> None:
        self.config = config or NaltrexoneConfig()
        self.terminology = terminology or get_terminology()
        self.prefetch = prefetch_templates(self.terminology)
        self.scopes = (*ORDER_SCOPES, patient_view.therapy_scope(self.config), UNCHECKED_SCOPE)
        c = self.config
        self.history_days = max(c.history_days, c.liver_test_lookback_days, c.urine_positive_lookback_days,
                                c.urine_negative_lookback_days, c.opioid_history_lookback_days,
                                c.maintenance_free_days, c.xr_naltrexone_days + c.xr_lapse_notice_days)
        self.services = (
            ServiceSpec("naltrexone-order-select", "order-select", "Naltrexone order checks (order-select)",
                        DESCRIPTION + " order-select: checks the selected orders as they are chosen."),
            ServiceSpec("naltrexone-order-sign", "order-sign", "Naltrexone order checks (order-sign)",
                        DESCRIPTION + " order-sign: checks every draft order before signature."),
            ServiceSpec("naltrexone-patient-view", "patient-view", "Naltrexone monitoring (patient-view)",
                        PATIENT_VIEW_DESCRIPTION),
        )


if TYPE_CHECKING:  # mypy checks that the pack meets the engine's contract (`rules.base.RulePack`)
    _contract: RulePack = NaltrexonePack()
