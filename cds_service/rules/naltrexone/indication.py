"""Indication rules: naltrexone is approved for alcohol and opioid dependence; other uses are off-label.

They apply to plain naltrexone orders only. Naltrexone/bupropion (Contrave: weight management) and
olanzapine/samidorphan (Lybalvi: schizophrenia, bipolar I) have their own labelled indications, which the
terminology does not model; judging them by naltrexone's indications would put a false card on every such order.
"""

from __future__ import annotations

from cds_service.record.model import ConditionEntry
from cds_service.rules.base import Finding, Rule, rule
from cds_service.rules.naltrexone import prefetch as k
from cds_service.rules.naltrexone import wording as w
from cds_service.rules.naltrexone.config import NaltrexoneContext
from cds_service.rules.naltrexone.patient import naltrexone_only
from cds_service.rules.naltrexone.scopes import NALTREXONE_ORDERS

INDICATION_CLASSES = ("alcohol-use-disorder", "opioid-use-disorder")
OFF_LABEL_NAMES = {
    "multiple-sclerosis": "multiple sclerosis",
    "fibromyalgia": "fibromyalgia",
    "amyotrophic-lateral-sclerosis": "amyotrophic lateral sclerosis (ALS)",
    "autism-developmental-disorder": "autism or a developmental disorder",
    "borderline-personality-disorder": "borderline personality disorder",
    "dissociative-disorder": "a dissociative disorder",
    "cancer": "cancer",
    "opioid-induced-constipation": "opioid-induced constipation",
}
APPROVED = ("Naltrexone is approved for **alcohol dependence** (relapse prevention) and for **opioid dependence** "
            "(relapse prevention after detoxification).")
INDICATION_SOURCE = (
    f"{w.SOURCE_DOC}: naltrexone is approved for opioid addiction and for relapse prevention in alcoholism; for "
    "borderline personality disorder and dissociative disorders \"the agent is not approved for this indication, "
    "making it an off-label use\"; also used off-label for autism and developmental disorders, multiple sclerosis "
    "(low dose), fibromyalgia, ALS, cancer and opiate-induced constipation; naltrexone labeling (indications)."
)


def approved_indications(ctx: NaltrexoneContext) -> list[ConditionEntry]:
    """Opioid or alcohol use disorder on record: active, in remission or past (a history rule)."""
    return [c for cls in INDICATION_CLASSES for c in ctx.record.conditions_in_history(cls)]


def _kind(c: ConditionEntry) -> str:
    return next((name for cls, name in OFF_LABEL_NAMES.items() if cls in c.classes), "an off-label condition")


@rule(
    id="indication-off-label", title="Off-label naltrexone use", indicators=("info",),
    trigger="Plain naltrexone; no opioid or alcohol use disorder on record (active, remission or past), but an "
    "active off-label condition (multiple sclerosis, fibromyalgia, ALS, autism/developmental, borderline "
    "personality, dissociative, cancer, opioid-induced constipation).",
    suggestions="None; the detail names the condition and says the use is off-label.",
    source="Source document (approved for opioid and alcohol dependence; the other uses are off-label); labeling.",
    applies_to=(NALTREXONE_ORDERS,), needs=(k.CONDITIONS,),
)
def indication_off_label(ctx: NaltrexoneContext) -> Finding | None:
    """Off-label use: an off-label condition and no opioid or alcohol use disorder on record."""
    record, order = ctx.record, ctx.order
    if not naltrexone_only(order) or approved_indications(ctx):
        return None
    found = record.active_conditions("off-label-indication")
    if not found:
        return None
    name, short = w.drug_name(order), w.short_name(order)
    first = found[0]
    kinds = list(dict.fromkeys(_kind(c) for c in found))
    detail = w.detail(
        f"**{name}** is ordered for a patient with **{first.display}** ({kinds[0]}) and no opioid or alcohol use "
        "disorder on record: this is an **off-label** use.",
        APPROVED + f" Its use in {', '.join(kinds)} is off-label: document the indication and the informed "
        "consent. Low-dose regimens (1-5 mg/day) are compounded. If the patient does have an alcohol or opioid "
        "use disorder, add it to the problem list.",
        [w.condition_line(c) for c in found],
        INDICATION_SOURCE,
    )
    return Finding(
        rule_id="indication-off-label", title="Off-label naltrexone use", indicator="info",
        summary=f"Off-label use of {short} for {kinds[0]}: approved only for alcohol and opioid dependence",
        detail=detail, order_ref=order.ref, evidence=tuple(c.ref for c in found), links=(w.LABEL_LINK,),
        source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
    )


@rule(
    id="indication-missing", title="No indication for naltrexone on record", indicators=("info",),
    trigger="Plain naltrexone; no opioid or alcohol use disorder (active, remission or past) and no active "
    "off-label condition on record; silent when conditions could not be obtained (data-incomplete reports that).",
    suggestions="None.",
    source="Source document (indications: opioid and alcohol dependence; off-label uses); labeling.",
    applies_to=(NALTREXONE_ORDERS,), needs=(k.CONDITIONS,), requires=(k.CONDITIONS,),
)
def indication_missing(ctx: NaltrexoneContext) -> Finding | None:
    """Neither an approved nor an off-label indication on record."""
    record, order = ctx.record, ctx.order
    if not naltrexone_only(order):
        return None
    if approved_indications(ctx) or record.active_conditions("off-label-indication"):
        return None
    name, short = w.drug_name(order), w.short_name(order)
    detail = w.detail(
        f"**{name}** is ordered, but the patient's record shows no alcohol or opioid use disorder and no known "
        "off-label indication.",
        APPROVED + " Other uses (multiple sclerosis, fibromyalgia, ...) are off-label. Add the indication to the "
        "problem list (or the order's reason) so that later checks and colleagues can see why naltrexone is given.",
        ["- No Condition coded as alcohol or opioid use disorder (active, in remission or past), and none coded as "
         f"an active off-label indication, on record for `Patient/{record.patient_id}`"],
        INDICATION_SOURCE,
    )
    return Finding(
        rule_id="indication-missing", title="No indication for naltrexone on record", indicator="info",
        summary=f"No indication for {short} on record: document alcohol or opioid use disorder, or the off-label use",
        detail=detail, order_ref=order.ref, links=(w.LABEL_LINK,),
        source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
    )


RULES: tuple[Rule, ...] = (indication_off_label, indication_missing)
