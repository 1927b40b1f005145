"""Duplicate opioid-antagonist therapy, and allergy to an ingredient of the ordered product."""

from __future__ import annotations

from cds_service.record.model import AllergyEntry, MedicationUse
from cds_service.rules.base import Finding, Rule, RuleContext, rule
from cds_service.rules.naltrexone import wording as w
from cds_service.rules.naltrexone.exposure import antagonist_exposures, is_antagonist_therapy
from cds_service.terminology import Ingredient

ANTAGONIST_CLASSES = ("opioid-antagonist-therapy", "samidorphan")


def _short(m: MedicationUse) -> str:
    if len(m.display) <= 32:
        return m.display
    return "/".join(m.ingredient_names())[:40] or m.display[:32]


def _antagonist_names(m: MedicationUse) -> list[str]:
    return [i.name for i in m.ingredients if any(c in i.classes for c in ANTAGONIST_CLASSES)
            and "abuse-deterrent" not in i.classes]


@rule(
    id="duplicate-antagonist", title="Duplicate opioid-antagonist therapy", indicators=("warning",),
    trigger="Another current product containing an opioid antagonist used as therapy (naltrexone, Vivitrol, "
    "Contrave/Mysimba, Lybalvi, oral nalmefene/Selincro; not Embeda or Targin, where the antagonist deters abuse; "
    "not the peripheral antagonists methylnaltrexone, naloxegol, naldemedine, alvimopan; not rescue naloxone or "
    "nalmefene; by RxNorm, ATC, NDC or name), another such draft in the same ordering session, or an "
    "extended-release naltrexone injection (administration, dispense, order or statement) fewer than "
    "`xr_next_dose_from_day` days ago: still inside its dosing interval. From that day on, a new order is the "
    "routine next dose and stays quiet; so does oral naltrexone stopped before the order (a switch to the "
    "injection).",
    suggestions="Remove the duplicate naltrexone draft.",
    source="Naltrexone, Contrave and Lybalvi labeling; Selincro SmPC (opioid antagonists); Vivitrol labeling "
    "(380 mg every 4 weeks or once a month).",
    thresholds=("xr_next_dose_from_day", "xr_naltrexone_days"),
)
def duplicate_antagonist(ctx: RuleContext) -> Finding | None:
    """Another current (or drafted) naltrexone- or samidorphan-containing product."""
    record, order, cfg = ctx.record, ctx.order, ctx.config
    today = record.today
    current, injected = [], []
    for e in antagonist_exposures(record, cfg, exclude=order.ref):
        if e.current:
            current.append(e.use)
        elif e.extended_release and e.blocks_on(today) and (e.days_since_dose(today) or 0) < \
                cfg.xr_next_dose_from_day:
            injected.append(e)
    drafted = [m for m in record.drafts if is_antagonist_therapy(m) and m.ref != order.ref]
    others = current + [e.use for e in injected] + drafted
    if not others:
        return None
    first = others[0]
    agent = (_antagonist_names(first) or ["an opioid antagonist"])[0]
    name, short = w.drug_name(order), w.short_name(order)
    where = "ordered in this same session" if first.is_draft else "already current"
    interval = ""
    lines = [w.medication_line(m, today) for m in current]
    for e in injected:
        ago = e.days_since_dose(today)
        lines.append(w.medication_line(e.use, today) + f"; injection {w.when(e.last_dose)}, **{ago} days ago** "
                     f"(the next dose is due from day {cfg.xr_next_dose_from_day})")
    lines += [w.medication_line(m, today) for m in drafted]
    state = "also ordered now" if first.is_draft else "current"
    if injected and first is injected[0].use:
        state = f"still active (injected {injected[0].days_since_dose(today)} days ago)"
        ago = injected[0].days_since_dose(today)
        where = f"still inside its dosing interval (injection {ago} days ago)"
        interval = (f" An extended-release naltrexone injection blocks the opioid receptors for about a month "
                    f"(this service counts {cfg.xr_naltrexone_days} days); the next dose is due every 4 weeks, so "
                    f"an order from day {cfg.xr_next_dose_from_day} is the routine next dose, but one {ago} days "
                    "after the last injection doubles the exposure.")
    detail = w.detail(
        f"**{name}** is ordered while **{first.display}** ({agent}) is {where}.",
        "Naltrexone, nalmefene and samidorphan are opioid antagonists. Taking two antagonist products adds no "
        "benefit; "
        "it doubles the exposure (naltrexone is hepatotoxic at high doses), deepens and prolongs the opioid "
        "blockade (opioid analgesia will not work), and is usually an ordering error (a renewal or a switch "
        "without stopping the old product). Keep one antagonist product. Olanzapine/samidorphan (Lybalvi) also "
        "treats a psychiatric illness: do not stop it without the prescriber." + interval,
        lines,
        "naltrexone labeling; naltrexone/bupropion (Contrave) and olanzapine/samidorphan (Lybalvi) labeling "
        "(opioid antagonist component: precipitated withdrawal, blocked opioid analgesia).",
    )
    return Finding(
        rule_id="duplicate-antagonist", title="Duplicate opioid-antagonist therapy", indicator="warning",
        summary=f"Duplicate opioid antagonist: {short} ordered while {_short(first)} is {state}",
        detail=detail, order_ref=order.ref, evidence=tuple(m.ref for m in others),
        suggestions=(w.remove_draft(ctx, label=f"Remove the duplicate {w.drug_name(order)} order"),),
        override_reasons=(w.BENEFIT, w.RECORD_WRONG, w.SPECIALIST), links=(w.LABEL_LINK,),
        source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
    )


def _same(a: Ingredient, b: Ingredient) -> bool:
    if a.rxcui and b.rxcui and a.rxcui == b.rxcui:
        return True
    return bool(a.name) and a.name.lower() == (b.name or "").lower()


def _shared(allergy: AllergyEntry, order: MedicationUse) -> list[str]:
    return [i.name for i in order.ingredients if any(_same(i, a) for a in allergy.ingredients)]


@rule(
    id="allergy", title="Allergy to the ordered product", indicators=("critical",),
    trigger="An active AllergyIntolerance (not refuted / entered-in-error / resolved) to an ingredient of the "
    "ordered product (naltrexone, samidorphan, bupropion, olanzapine...).",
    suggestions="Remove the draft.",
    source="Naltrexone and Vivitrol labeling (contraindication: hypersensitivity).",
)
def allergy(ctx: RuleContext) -> Finding | None:
    """An active allergy to an ingredient of the ordered product."""
    record, order = ctx.record, ctx.order
    found = [(a, _shared(a, order)) for a in record.allergies if a.is_active]
    found = [(a, shared) for a, shared in found if shared]
    if not found:
        return None
    first, shared = found[0]
    name, short = w.drug_name(order), w.short_name(order)
    lines = []
    for a, names in found:
        status = a.clinical_status or "status not recorded"
        if a.verification_status:
            status += f", {a.verification_status}"
        lines.append(f"- **{a.display}** (`{a.ref}`): AllergyIntolerance {status}; shared ingredient: "
                     f"{', '.join(names)}")
    detail = w.detail(
        f"The patient has an active allergy to **{first.display}**, and **{name}** contains {', '.join(shared)}.",
        "Hypersensitivity to the product or any of its components is a contraindication; reactions to naltrexone "
        "range from rash and urticaria to angioedema and anaphylaxis. Choose another treatment, or confirm that "
        "the allergy record is wrong before ordering.",
        lines,
        "naltrexone labeling (contraindications: hypersensitivity); Vivitrol labeling W&P 5.8 (hypersensitivity "
        "reactions including anaphylaxis).",
    )
    links = w.label_links(order)
    return Finding(
        rule_id="allergy", title="Allergy to the ordered product", indicator="critical",
        summary=f"Allergy to {shared[0]} on record: do not order {short}",
        detail=detail, order_ref=order.ref, evidence=tuple(a.ref for a, _ in found),
        suggestions=(w.remove_draft(ctx),), override_reasons=(w.RECORD_WRONG, w.BENEFIT, w.SPECIALIST),
        links=links, source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
    )


RULES: tuple[Rule, ...] = (duplicate_antagonist, allergy)
