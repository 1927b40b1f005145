"""Opioid rules for a naltrexone order: an opioid now (or drafted now) is a contraindication."""

from __future__ import annotations

from cds_service.record.model import MedicationUse
from cds_service.rules.base import Finding, Rule, RuleContext, SuggestionSpec, rule
from cds_service.rules.naltrexone import wording as w


def current_or_drafted_opioids(ctx: RuleContext) -> list[MedicationUse]:
    """Opioids the patient takes now, or that are ordered in this same session."""
    record = ctx.record
    return record.current_opioids() + record.draft_medications_with("opioid", exclude=ctx.order.ref)


@rule(
    id="opioid-concurrent", title="Naltrexone with a current opioid", indicators=("critical", "warning"),
    trigger="A current opioid (agonist, partial agonist incl. buprenorphine/methadone maintenance, mixed "
    "agonist-antagonist, opioid cough medicine, antidiarrhoeal opium; non-prescribed agonists a patient reports: "
    "kratom, tianeptine, illicit fentanyl, nitazenes), an opioid drafted in the same session, or active 'opioid "
    "dependence on agonist therapy' → critical; only loperamide/diphenoxylate/difenoxin/eluxadoline (also OTC) → "
    "warning. Recognised by RxNorm, ATC (by hierarchy: any N02A, N01AH, N07BC, R05DA code), NDC, or the name in six "
    "languages / US-EU brand (the card then says 'recognised from the text'). Lofexidine is not an opioid.",
    suggestions="Remove the naltrexone draft (delete); stop the opioid (update to stopped / delete its draft).",
    source="Naltrexone labeling (contraindications; mixed agonist-antagonists); source document (codeine, "
    "loperamide).",
)
def opioid_concurrent(ctx: RuleContext) -> Finding | None:
    """Naltrexone with a current opioid: precipitated withdrawal, blocked analgesia, overdose risk."""
    record, order = ctx.record, ctx.order
    opioids = current_or_drafted_opioids(ctx)
    systemic = [m for m in opioids if not m.has("opioid-peripheral") or _also_systemic(m)]
    peripheral = [m for m in opioids if m not in systemic]
    agonist_therapy = record.active_conditions("opioid-agonist-therapy")
    name, short = w.drug_name(order), w.short_name(order)

    if systemic or agonist_therapy:
        lines = [w.medication_line(m, record.today) for m in systemic]
        lines += [w.condition_line(c) for c in agonist_therapy]
        lines += [w.medication_line(m, record.today) for m in peripheral]
        kinds = _kinds(systemic)
        first = systemic[0].ingredient_names("opioid")[0] if systemic else "opioid agonist therapy"
        summary = f"Do not start {short}: patient is on {first}" + (" (opioid maintenance)" if
                                                                    "maintenance" in kinds else "")
        summary += ": risk of precipitated withdrawal"
        suggestions = [w.remove_draft(ctx)]
        for m in systemic[:2]:
            stop = w.stop_medication(m, f"Stop {m.display} (then wait 7-10 opioid-free days before naltrexone)")
            if stop is not None:
                suggestions.append(stop)
        detail = w.detail(
            f"**{name}** is ordered while the patient takes an opioid{_kind_text(kinds)}.",
            "Naltrexone is an opioid antagonist: it displaces opioids from the receptors. In a patient who is "
            "physically dependent on opioids it precipitates **acute withdrawal**, which can be severe and "
            "life-threatening. It also **blocks the analgesia** of opioid pain medicines, and trying to overcome "
            "the blockade with higher opioid doses can cause **overdose with fatal respiratory depression**. "
            "Naltrexone is contraindicated in patients receiving opioids or dependent on them, including "
            "buprenorphine or methadone maintenance; it also blocks mixed agonist-antagonists (butorphanol, "
            "nalbuphine, pentazocine) and opioid cough and antidiarrheal medicines. Patients must be "
            "opioid-free for at least 7-10 days before the first dose.",
            lines,
            f"naltrexone labeling (contraindications; blockade of mixed agonist-antagonists); {w.SOURCE_DOC}: "
            "\"patients must not take any opiates and other opioid-containing drugs such as codeine or "
            "loperamide during therapy with naltrexone\".",
        )
        evidence = tuple(m.ref for m in systemic) + tuple(c.ref for c in agonist_therapy) + tuple(
            m.ref for m in peripheral)
        return Finding(
            rule_id="opioid-concurrent", title="Naltrexone with a current opioid", indicator="critical",
            summary=summary, detail=detail, order_ref=order.ref, evidence=evidence,
            suggestions=tuple(suggestions), override_reasons=w.DEFAULT_REASONS, links=(w.LABEL_LINK,),
            source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
        )

    if peripheral:
        first = peripheral[0]
        agent = first.ingredient_names("opioid-peripheral")[0]
        lines = [w.medication_line(m, record.today) for m in peripheral]
        suggestions: list[SuggestionSpec] = []
        stop = w.stop_medication(first, f"Stop {first.display}; use a non-opioid antidiarrheal")
        if stop is not None:
            suggestions.append(stop)
        detail = w.detail(
            f"The patient takes **{first.display}**, an opioid-containing antidiarrheal, and **{name}** is ordered.",
            f"{agent.capitalize()} is an opioid acting mainly in the gut. Naltrexone blocks it, so it may stop "
            "working, and the source document forbids opioid-containing drugs such as loperamide during "
            "naltrexone therapy. Stop it (including over-the-counter use) or choose a non-opioid alternative.",
            lines,
            f"{w.SOURCE_DOC}; naltrexone labeling (drug interactions: opioid-containing antidiarrheals).",
        )
        return Finding(
            rule_id="opioid-concurrent", title="Naltrexone with a current opioid", indicator="warning",
            summary=f"{agent.capitalize()} (opioid antidiarrheal) is blocked by {short}: stop it or use a "
            "non-opioid alternative",
            detail=detail, order_ref=order.ref, evidence=tuple(m.ref for m in peripheral),
            suggestions=tuple(suggestions), override_reasons=w.DEFAULT_REASONS, links=(w.LABEL_LINK,),
            source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
        )
    return None


def _also_systemic(m: MedicationUse) -> bool:
    return any("opioid" in i.classes and "opioid-peripheral" not in i.classes for i in m.ingredients)


def _kinds(opioids: list[MedicationUse]) -> set[str]:
    kinds = set()
    for m in opioids:
        if m.has("opioid-maintenance"):
            kinds.add("maintenance")
        if m.has("opioid-mixed-agonist-antagonist"):
            kinds.add("mixed")
        if "cough-medicine" in m.product_classes:
            kinds.add("cough")
        if m.is_draft:
            kinds.add("draft")
    return kinds


def _kind_text(kinds: set[str]) -> str:
    parts = []
    if "maintenance" in kinds:
        parts.append("opioid maintenance treatment (buprenorphine or methadone)")
    if "mixed" in kinds:
        parts.append("a mixed agonist-antagonist")
    if "cough" in kinds:
        parts.append("a codeine-containing cough medicine")
    if "draft" in kinds:
        parts.append("an opioid ordered in this same session")
    return f" ({'; '.join(parts)})" if parts else ""


RULES: tuple[Rule, ...] = (opioid_concurrent,)
