"""The naltrexone rule pack: its hook services, the data it needs, which orders it checks, and its rules.

Everything naltrexone-specific the rest of the service needs comes through this one object; a new drug is a
new pack module, registered in `cds_service.rules.registry`.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from cds_service.hooks.prefetch import PrefetchTemplate
from cds_service.record.model import MedicationUse, PatientRecord
from cds_service.rules.base import OrderCheck, Rule, RuleContext, ServiceSpec
from cds_service.rules.naltrexone import (
    antagonists,
    data,
    indication,
    liver,
    opioids,
    overdose,
    patient,
    reverse,
    urine,
    washout,
)
from cds_service.rules.naltrexone.config import NaltrexoneConfig
from cds_service.rules.naltrexone.wording import SOURCE_LABEL
from cds_service.terminology import Terminology, get_terminology

DESCRIPTION = (
    "Checks naltrexone orders (tablets, extended-release injection, naltrexone/bupropion, "
    "olanzapine/samidorphan) against current and recent opioids, urine drug screens, liver disease and "
    "transaminases, age, indication, dose, naloxone access, duplicates and allergies; and opioid orders "
    "for patients on naltrexone. Cards cite their evidence and offer one-click suggestions."
)

# Each topic module lists its rules in RULES (naltrexone orders) and OPIOID_ORDER_RULES (opioid orders).
# `data` comes last: data-incomplete also reports checks that could not run.
RULE_MODULES = (opioids, washout, urine, liver, patient, indication, overdose, antagonists, reverse, data)
NALTREXONE_RULES: tuple[Rule, ...] = tuple(r for m in RULE_MODULES for r in getattr(m, "RULES", ()))
OPIOID_RULES: tuple[Rule, ...] = tuple(r for m in RULE_MODULES for r in getattr(m, "OPIOID_ORDER_RULES", ()))


def _codes_query(terminology: Terminology, *classes: str) -> str:
    codes: list[str] = []
    for cls in classes:
        codes.extend(code for _system, code in terminology.observation_codes(cls) if code not in codes)
    return ",".join(quote(c, safe="") for c in codes)


def _with_medications(resource_type: str, patient: str) -> str:
    return f"{resource_type}?patient={patient}&_include={resource_type}:medication"


def prefetch_templates(terminology: Terminology) -> tuple[PrefetchTemplate, ...]:
    patient = "{{context.patientId}}"
    return (
        PrefetchTemplate("patient", f"Patient/{patient}", "patient demographics (age)", ("Patient",)),
        PrefetchTemplate("conditions", f"Condition?patient={patient}", "conditions (diagnoses)", ("Condition",)),
        # `_include` brings the Medications the records reference (FHIR R4 search §3.1.1.5.1): a prefetch
        # without them leaves `medicationReference`s to read one by one from the server, or unreadable
        PrefetchTemplate("medicationRequests", _with_medications("MedicationRequest", patient),
                         "medication orders", ("MedicationRequest", "Medication")),
        PrefetchTemplate("medicationStatements", _with_medications("MedicationStatement", patient),
                         "medication statements (including over-the-counter use)",
                         ("MedicationStatement", "Medication")),
        PrefetchTemplate("medicationDispenses", _with_medications("MedicationDispense", patient),
                         "medication dispenses", ("MedicationDispense", "Medication")),
        PrefetchTemplate("medicationAdministrations", _with_medications("MedicationAdministration", patient),
                         "medication administrations (doses and injections given)",
                         ("MedicationAdministration", "Medication")),
        PrefetchTemplate("liverTests",
                         f"Observation?patient={patient}&code={_codes_query(terminology, 'alt', 'ast')}",
                         "liver tests (ALT, AST)", ("Observation",)),
        PrefetchTemplate("urineDrugScreens",
                         f"Observation?patient={patient}&code="
                         f"{_codes_query(terminology, 'urine-opioid-screen')}",
                         "urine drug screens", ("Observation",)),
        PrefetchTemplate("allergies", f"AllergyIntolerance?patient={patient}", "allergies",
                         ("AllergyIntolerance",)),
    )


ALL_KEYS = ("patient", "conditions", "medicationRequests", "medicationStatements", "medicationDispenses",
            "medicationAdministrations", "liverTests", "urineDrugScreens", "allergies")
MEDICATION_KEYS = ("medicationRequests", "medicationStatements", "medicationDispenses", "medicationAdministrations")


class NaltrexonePack:
    id = "naltrexone"
    source_label = SOURCE_LABEL

    def __init__(self, config: NaltrexoneConfig | None = None, terminology: Terminology | None = None) -> None:
        self.config = config or NaltrexoneConfig()
        self.terminology = terminology or get_terminology()
        self.prefetch = prefetch_templates(self.terminology)
        c = self.config
        self.history_days = max(c.history_days, c.liver_test_lookback_days, c.urine_positive_lookback_days,
                                c.urine_negative_lookback_days, c.opioid_history_lookback_days,
                                c.maintenance_free_days, c.xr_naltrexone_days)
        self.services = (
            ServiceSpec("naltrexone-order-select", "order-select", "Naltrexone order checks (order-select)",
                        DESCRIPTION + " order-select: checks the selected orders as they are chosen."),
            ServiceSpec("naltrexone-order-sign", "order-sign", "Naltrexone order checks (order-sign)",
                        DESCRIPTION + " order-sign: checks every draft order before signature."),
        )

    def checks(self, orders: Sequence[MedicationUse]) -> list[OrderCheck]:
        out = []
        for order in orders:
            if order.has("opioid-antagonist-therapy"):
                out.append(OrderCheck(order, NALTREXONE_RULES, ALL_KEYS))
            elif order.has("opioid") and OPIOID_RULES:
                out.append(OrderCheck(order, OPIOID_RULES, MEDICATION_KEYS))
            elif order.unresolved_reference:
                # nothing is known of the medicine (its Medication could not be read): it may be naltrexone or
                # an opioid, so the order gets a card saying it could not be checked, never a silent all-clear
                out.append(OrderCheck(order, (data.data_incomplete,), ()))
        return out

    def context(self, record: PatientRecord, order: MedicationUse, patient_id: str,
                encounter_id: str | None) -> RuleContext:
        return RuleContext(record=record, order=order, patient_id=patient_id, encounter_id=encounter_id,
                           config=self.config)
