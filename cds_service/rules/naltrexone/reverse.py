"""The reverse direction: an opioid ordered for a patient whose opioid receptors naltrexone blocks."""

from __future__ import annotations

from datetime import date

from cds_service.record.model import MedicationUse
from cds_service.rules.base import Finding, Rule, SuggestionSpec, rule
from cds_service.rules.naltrexone import prefetch as k
from cds_service.rules.naltrexone import wording as w
from cds_service.rules.naltrexone.config import NaltrexoneContext
from cds_service.rules.naltrexone.scopes import OPIOID_ORDERS
from cds_service.rules.naltrexone.washout import is_systemic_opioid

XR = "extended-release-injection"
ANTAGONIST = "opioid-antagonist-therapy"

REVERSE_SOURCE = (
    f"{w.SOURCE_DOC}: \"during treatment with naltrexone, opioid analgesics cannot exert their full effect. To "
    "relieve pain, the dose of these opioid analgesics would need to be increased. However, this can result in "
    "serious complications.\" and \"If naltrexone is used concurrently with opiates, an overdose may occur. This "
    "is associated with potentially fatal respiratory disturbances.\"; Vivitrol labeling W&P 5.6 (regional or "
    "non-opioid analgesia; if opioids are required, monitor in a setting equipped for cardiopulmonary "
    "resuscitation); ASAM guideline (stop oral naltrexone 72 hours and extended-release naltrexone 30 days before "
    "planned opioid use)."
)


def _given(m: MedicationUse) -> date | None:
    """When an injection was ordered (request), handed over (dispense) or last given (statement/administration)."""
    if m.resource_type in {"MedicationRequest", "MedicationDispense"}:
        return m.start or m.end
    return m.end or m.start


def recent_injections(ctx: NaltrexoneContext) -> list[tuple[MedicationUse, int]]:
    """Extended-release naltrexone given or ordered within `xr_naltrexone_days` (not current uses), newest first."""
    record, days = ctx.record, ctx.config.xr_naltrexone_days
    found = []
    for m in record.medications_with(ANTAGONIST):
        if m.is_current or XR not in m.product_classes:
            continue
        day = _given(m)
        if day is None:
            continue
        ago = w.days_ago(day, record.today)
        if ago <= days and (m.start or day) <= record.today:
            found.append((m, max(ago, 0)))
    return sorted(found, key=lambda pair: pair[1])


@rule(
    id="naltrexone-blocks-opioid", title="Opioid ordered for a patient on naltrexone",
    indicators=("critical", "warning"),
    trigger="An opioid order for a patient with current naltrexone therapy: a current naltrexone (or samidorphan) "
    "order/statement, an extended-release naltrexone injection given or ordered within `xr_naltrexone_days`, or a "
    "naltrexone draft in the same session → critical; only a peripheral opioid (loperamide, diphenoxylate, "
    "difenoxin) → warning.",
    suggestions="Remove the opioid draft (delete); non-opioid or regional analgesia; if opioids are unavoidable, "
    "only in a monitored setting.",
    source="Source document (opioid analgesics cannot exert their full effect; raising the dose risks serious "
    "complications); Vivitrol labeling W&P 5.6; ASAM guideline (72 h oral, 30 days XR).",
    thresholds=("xr_naltrexone_days",),
    applies_to=(OPIOID_ORDERS,), needs=k.MEDICATION_KEYS,
)
def naltrexone_blocks_opioid(ctx: NaltrexoneContext) -> Finding | None:
    """An opioid order while naltrexone blocks the opioid receptors."""
    record, order, cfg = ctx.record, ctx.order, ctx.config
    current = [m for m in record.current_medications_with(ANTAGONIST) if m.ref != order.ref]
    injections = recent_injections(ctx)
    drafted = record.draft_medications_with(ANTAGONIST, exclude=order.ref)
    if not (current or injections or drafted):
        return None
    today = record.today
    opioid, short = w.drug_name(order), w.short_name(order)
    lines = [w.medication_line(m, today) for m in current]
    lines += [w.medication_line(m, today) + f"; injection {w.when(_given(m))}, **{ago} days ago**"
              for m, ago in injections]
    lines += [w.medication_line(m, today) for m in drafted]
    evidence = tuple(m.ref for m in current) + tuple(m.ref for m, _ in injections) + tuple(m.ref for m in drafted)
    links = w.label_links(*current, *drafted, *(m for m, _ in injections))

    if injections and not current:
        ago = injections[0][1]
        on = f"an extended-release naltrexone injection {ago} days ago"
        blocker = f"Naltrexone injection {ago} days ago"
    elif current:
        on = f"current {current[0].display}"
        blocker = f"Current {(current[0].ingredient_names(ANTAGONIST) or ['naltrexone'])[0]}"
    else:
        on = f"{drafted[0].display} ordered in this same session"
        blocker = f"{(drafted[0].ingredient_names(ANTAGONIST) or ['naltrexone'])[0].capitalize()} ordered now"

    if not is_systemic_opioid(order):
        agent = (order.ingredient_names("opioid-peripheral") or ["this opioid"])[0]
        detail = w.detail(
            f"**{opioid}** is ordered for a patient with {on}.",
            f"{agent.capitalize()} is an opioid acting mainly in the gut. Naltrexone blocks opioid receptors, so "
            f"{agent} may not work; the source document forbids opioid-containing drugs such as loperamide during "
            "naltrexone therapy. Choose a non-opioid antidiarrheal.",
            lines,
            f"{w.SOURCE_DOC}: \"patients must not take any opiates and other opioid-containing drugs such as "
            "codeine or loperamide during therapy with naltrexone\"; naltrexone labeling (drug interactions: "
            "opioid-containing antidiarrheals).",
        )
        return Finding(
            rule_id="naltrexone-blocks-opioid", title="Opioid ordered for a patient on naltrexone",
            indicator="warning",
            summary=f"{blocker}: {short} (opioid antidiarrheal) is blocked and may not work",
            detail=detail, order_ref=order.ref, evidence=evidence,
            suggestions=(w.remove_draft(ctx, label=f"Remove the {opioid} order; use a non-opioid antidiarrheal"),),
            override_reasons=w.DEFAULT_REASONS, links=links, source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
        )

    why = (
        "Naltrexone occupies the opioid receptors, so the **analgesia of the opioid is blocked**. Raising the opioid "
        "dose to overcome the blockade can cause **respiratory depression and fatal overdose**, especially as the "
        "blockade wears off while high opioid levels remain. After an extended-release naltrexone injection the "
        f"blockade lasts {w.LABEL_XR_BLOCKADE} (this site counts {cfg.xr_naltrexone_days} days); oral naltrexone "
        "should be stopped about 72 hours before planned opioid use. Use non-opioid or regional analgesia; if an "
        "opioid is unavoidable, give it only in a monitored setting (anesthesia care, equipment for "
        "cardiopulmonary resuscitation)."
    )
    return Finding(
        rule_id="naltrexone-blocks-opioid", title="Opioid ordered for a patient on naltrexone", indicator="critical",
        summary=f"{blocker} blocks {short}: no analgesia; higher doses risk fatal respiratory depression",
        detail=w.detail(f"**{opioid}** is ordered for a patient with {on}.", why, lines, REVERSE_SOURCE),
        order_ref=order.ref, evidence=evidence,
        suggestions=(
            w.remove_draft(ctx, label=f"Remove the {opioid} order"),
            SuggestionSpec("Use non-opioid or regional analgesia instead"),
            SuggestionSpec("If an opioid is unavoidable: give it only in a monitored setting (resuscitation-equipped)"),
        ),
        override_reasons=w.DEFAULT_REASONS, links=links, source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
    )


RULES: tuple[Rule, ...] = (naltrexone_blocks_opioid,)
