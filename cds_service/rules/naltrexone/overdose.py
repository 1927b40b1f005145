"""Overdose risk: after naltrexone, opioid tolerance is lost; a patient with OUD should have rescue naloxone."""

from __future__ import annotations

from cds_service.record.model import ConditionEntry, PatientRecord
from cds_service.rules.base import ActionSpec, Finding, Rule, SuggestionSpec, rule
from cds_service.rules.naltrexone import prefetch as k
from cds_service.rules.naltrexone import wording as w
from cds_service.rules.naltrexone.config import NaltrexoneContext
from cds_service.rules.naltrexone.orders import naloxone_request
from cds_service.rules.naltrexone.prefetch import MEDICATION_REQUESTS, MEDICATION_STATEMENTS
from cds_service.rules.naltrexone.scopes import NALTREXONE_ORDERS

# "no naloxone" is concluded from these prefetch keys: when one is missing, stay silent (data-incomplete reports it)
NALOXONE_KEYS = (MEDICATION_REQUESTS, MEDICATION_STATEMENTS)


def opioid_use_disorders(record: PatientRecord) -> list[ConditionEntry]:
    """Opioid use disorder, active or in remission (a resolved diagnosis counts only when coded as remission)."""
    return [c for c in record.conditions_in_history("opioid-use-disorder")
            if c.clinical_status != "resolved" or "opioid-use-disorder-remission" in c.classes]


@rule(
    id="overdose-risk", title="Opioid overdose risk: rescue naloxone", indicators=("warning",),
    trigger="An opioid use disorder diagnosis (active or in remission) and no current rescue naloxone (order, "
    "statement, covering dispense, or a naloxone draft in this session; the naloxone inside "
    "buprenorphine/naloxone does not count). Silent when medication orders or statements could not be obtained.",
    suggestions="Prescribe naloxone 4 mg nasal spray (create MedicationRequest, RxNorm 1725059).",
    source="Vivitrol labeling W&P 5.1 (vulnerability to opioid overdose after stopping, a missed dose, or at the "
    "end of the dosing interval); naltrexone labeling (trying to overcome the blockade).",
    applies_to=(NALTREXONE_ORDERS,), needs=(k.CONDITIONS, *k.MEDICATION_KEYS),
    requires=NALOXONE_KEYS,
)
def overdose_risk(ctx: NaltrexoneContext) -> Finding | None:
    """Opioid use disorder on record and no rescue naloxone."""
    record, order = ctx.record, ctx.order
    disorders = opioid_use_disorders(record)
    if not disorders:
        return None
    if record.current_medications_with("naloxone-rescue") or record.draft_medications_with("naloxone-rescue"):
        return None
    name, short = w.drug_name(order), w.short_name(order)
    remission = all(not c.is_active for c in disorders)
    detail = w.detail(
        f"The patient has {'opioid use disorder in remission' if remission else 'opioid use disorder'} and no "
        f"current rescue naloxone on record; **{name}** is ordered.",
        "Naltrexone treatment removes opioid tolerance, so the patient is **vulnerable to opioid overdose** "
        "after stopping naltrexone, after a missed dose, or at the end of the dosing interval (for the "
        "extended-release injection, toward the end of the month): as the blockade fades, a dose they used to "
        "take can be fatal. Trying to overcome the blockade with large opioid doses can also cause a fatal overdose. "
        "Prescribe rescue naloxone and teach the patient and family how to use it. (The naloxone inside "
        "buprenorphine/naloxone products is an abuse deterrent, not rescue naloxone.)",
        [w.condition_line(c) for c in disorders],
        "Vivitrol labeling W&P 5.1, vulnerability to opioid overdose (after discontinuation, a missed dose, or "
        "near the end of the dosing interval); naltrexone tablet labeling (\"serious consequences of trying to "
        f"overcome the opiate blockade\"); {w.SOURCE_DOC}: \"If naltrexone is used concurrently with opiates, an "
        "overdose may occur. This is associated with potentially fatal respiratory disturbances.\"",
    )
    links = w.label_links(order)
    return Finding(
        rule_id="overdose-risk", title="Opioid overdose risk: rescue naloxone", indicator="warning",
        summary=f"Opioid use disorder, no rescue naloxone: prescribe naloxone with {short} (overdose risk)",
        detail=detail, order_ref=order.ref, evidence=tuple(c.ref for c in disorders),
        suggestions=(SuggestionSpec(
            "Prescribe naloxone 4 mg nasal spray",
            (ActionSpec("create", "Create a draft order for naloxone 4 mg nasal spray",
                        resource=naloxone_request(ctx.patient_id, ctx.encounter_id)),),
            recommended=True),),
        override_reasons=(w.ALREADY_DONE, w.RECORD_WRONG, w.BENEFIT), links=links, source_label=w.SOURCE_LABEL,
        source_url=w.LABEL_URL,
    )


RULES: tuple[Rule, ...] = (overdose_risk,)
