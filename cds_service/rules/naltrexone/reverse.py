"""The reverse direction: an opioid ordered for a patient whose opioid receptors naltrexone blocks."""

from __future__ import annotations

from datetime import date

from cds_service.rules.base import Finding, Rule, SuggestionSpec, rule
from cds_service.rules.naltrexone import prefetch as k
from cds_service.rules.naltrexone import wording as w
from cds_service.rules.naltrexone.config import NaltrexoneContext
from cds_service.rules.naltrexone.exposure import ANTAGONIST, AntagonistExposure, blocking, is_antagonist_therapy
from cds_service.rules.naltrexone.scopes import OPIOID_ORDERS
from cds_service.rules.naltrexone.washout import is_systemic_opioid

REVERSE_SOURCE = (
    f"{w.SOURCE_DOC}: \"during treatment with naltrexone, opioid analgesics cannot exert their full effect. To "
    "relieve pain, the dose of these opioid analgesics would need to be increased. However, this can result in "
    "serious complications.\" and \"If naltrexone is used concurrently with opiates, an overdose may occur. This "
    "is associated with potentially fatal respiratory disturbances.\"; Vivitrol labeling W&P 5.6 (regional or "
    "non-opioid analgesia; if opioids are required, monitor in a setting equipped for cardiopulmonary "
    "resuscitation); ASAM guideline (stop oral naltrexone 72 hours and extended-release naltrexone 30 days before "
    "planned opioid use)."
)


def _exposure_line(e: AntagonistExposure, today: date) -> str:
    line = w.medication_line(e.use, today)
    if e.current:
        return line
    ago = e.days_since_dose(today)
    what = "injection" if e.extended_release else "last possible dose"
    return line + (f"; {what} {w.when(e.last_dose)}, **{ago} days ago**; the blockade may last through "
                   f"{w.when(e.blocked_until)}")


@rule(
    id="naltrexone-blocks-opioid", title="Opioid ordered for a patient on naltrexone",
    indicators=("critical", "warning"),
    trigger="An opioid order while naltrexone may block the opioid receptors (one exposure model for orders, "
    "dispenses, statements and administrations): a current naltrexone (or samidorphan) product; oral naltrexone "
    "whose last possible dose was within `oral_naltrexone_block_hours`; an extended-release naltrexone injection "
    "(any record of it) within `xr_naltrexone_days`; or a naltrexone draft in the same session → critical; only a "
    "peripheral opioid (loperamide, diphenoxylate, difenoxin) → warning. Partial dates count at their latest "
    "possible day.",
    suggestions="Remove the opioid draft (delete); non-opioid or regional analgesia; if opioids are unavoidable, "
    "only in a monitored setting.",
    source="Source document (opioid analgesics cannot exert their full effect; raising the dose risks serious "
    "complications); Vivitrol labeling W&P 5.6; ASAM guideline (72 h oral, 30 days XR).",
    thresholds=("xr_naltrexone_days", "oral_naltrexone_block_hours"),
    applies_to=(OPIOID_ORDERS,), needs=k.MEDICATION_KEYS,
)
def naltrexone_blocks_opioid(ctx: NaltrexoneContext) -> Finding | None:
    """An opioid order while naltrexone blocks the opioid receptors."""
    record, order, cfg = ctx.record, ctx.order, ctx.config
    exposures = blocking(record, cfg, exclude=order.ref)
    current = [e.use for e in exposures if e.current]
    recent = [e for e in exposures if not e.current]
    drafted = [m for m in record.drafts if is_antagonist_therapy(m) and m.ref != order.ref]
    if not (exposures or drafted):
        return None
    today = record.today
    opioid, short = w.drug_name(order), w.short_name(order)
    lines = [_exposure_line(e, today) for e in exposures]
    lines += [w.medication_line(m, today) for m in drafted]
    evidence = tuple(e.use.ref for e in exposures) + tuple(m.ref for m in drafted)
    links = w.label_links(*(e.use for e in exposures), *drafted)

    if current:
        on = f"current {current[0].display}"
        blocker = f"Current {(current[0].ingredient_names(ANTAGONIST) or ['naltrexone'])[0]}"
    elif recent:
        first = recent[0]
        ago = first.days_since_dose(today)
        days = "today" if ago == 0 else ("1 day ago" if ago == 1 else f"{ago} days ago")
        if first.extended_release:
            on = f"an extended-release naltrexone injection {ago} days ago"
            blocker = f"Naltrexone injection {ago} days ago"
        else:
            on = f"oral {first.use.display} whose last possible dose was {days} (blockade about " \
                 f"{cfg.oral_naltrexone_block_hours} hours)"
            blocker = f"Naltrexone taken {days}"
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
        f"blocks for about {cfg.oral_naltrexone_block_hours} hours after its last dose and should be stopped that "
        "long before planned opioid use. Use non-opioid or regional analgesia; if an "
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
