"""Urine opioid screens: a positive one forbids naltrexone; opioid history needs a recent negative one."""

from __future__ import annotations

from datetime import date, timedelta

from cds_service.record.model import LabResult, MedicationUse
from cds_service.rules.base import ActionSpec, Finding, Rule, SuggestionSpec, rule
from cds_service.rules.naltrexone import prefetch as k
from cds_service.rules.naltrexone import wording as w
from cds_service.rules.naltrexone.config import NaltrexoneContext
from cds_service.rules.naltrexone.orders import urine_screen_request
from cds_service.rules.naltrexone.scopes import NALTREXONE_ORDERS
from cds_service.rules.naltrexone.washout import is_systemic_opioid

URINE_SOURCE = (
    f"{w.SOURCE_DOC}: \"to prevent this life-threatening situation and to confirm opiate freedom, a urine sample "
    "is usually analyzed before treatment is started\"; naltrexone and Vivitrol labeling (contraindicated after "
    "a failed naloxone challenge or a positive urine opioid screen)."
)


def latest_per_code(labs: list[LabResult]) -> list[LabResult]:
    """The most recent result of each screen code (on the same day, a positive one wins): later results supersede."""
    ordered = sorted(labs, key=lambda lab: (lab.when or date.min, lab.positive is True), reverse=True)
    seen: set[str] = set()
    out = []
    for lab in ordered:
        if lab.code in seen:
            continue
        seen.add(lab.code)
        out.append(lab)
    return out


def opioid_screens(ctx: NaltrexoneContext, days: int) -> list[LabResult]:
    """Urine opioid screens that may be within `days` (naltrexone urine tests never count), newest first."""
    return [lab for lab in ctx.record.labs_within("urine-opioid-screen", days)
            if "urine-naltrexone" not in lab.classes]


def _unsuperseded_positives(screens: list[LabResult]) -> list[LabResult]:
    """Positive screens no later negative of the same code supersedes, the newest per code.

    A negative supersedes a positive only when it is later on every reading of both dates (a partial date
    spans days): "2026-11" positive and a 2026-11-20 negative may be in either order, so the positive stands.
    """
    out: list[LabResult] = []
    seen: set[str] = set()
    for lab in screens:
        if lab.positive is not True or lab.code in seen or lab.when is None:
            continue
        later_negative = any(o.code == lab.code and o.positive is False and o.first_day is not None
                             and o.first_day > lab.when for o in screens)
        if not later_negative:
            seen.add(lab.code)
            out.append(lab)
    return out


def positive_screens(ctx: NaltrexoneContext, days: int | None = None) -> list[LabResult]:
    """Positive Urine Opioid Screens In Lookback Period (the latest result per screen code; a partial date
    counts at its latest possible day)."""
    return _unsuperseded_positives(opioid_screens(ctx, days or ctx.config.urine_positive_lookback_days))


def negative_screens(ctx: NaltrexoneContext, days: int) -> list[LabResult]:
    """Negative screens that confirm abstinence: within `days` on every reading of their date (a partial date
    counts at its earliest possible day), and no positive screen within `days` that they do not supersede."""
    screens = opioid_screens(ctx, days)
    if _unsuperseded_positives(screens):
        return []
    since = ctx.record.today - timedelta(days=days)
    negatives = [lab for lab in screens if lab.positive is False and lab.first_day is not None
                 and lab.first_day >= since]
    return latest_per_code(negatives)


def order_urine_screen(ctx: NaltrexoneContext, label: str, recommended: bool = False) -> SuggestionSpec:
    return SuggestionSpec(
        label,
        (ActionSpec("create", "Create a draft order for a urine opioid screen",
                    resource=urine_screen_request(ctx.patient_id, ctx.encounter_id)),),
        recommended=recommended,
    )


@rule(
    id="urine-screen-positive", title="Positive urine opioid screen", indicators=("critical",),
    trigger="A urine opioid screen (opiates, fentanyl, oxycodone, buprenorphine, methadone, 6-MAM...; not urine "
    "naltrexone tests) whose latest result per code within `urine_positive_lookback_days` is positive "
    "(interpretation or value). A partially dated result counts at its latest possible day; a later negative "
    "supersedes it only when later on every reading of both dates.",
    suggestions="Remove the naltrexone draft; repeat the urine opioid screen later (create ServiceRequest).",
    source="Naltrexone and Vivitrol labeling (contraindication: positive urine opioid screen); source document "
    "(urine sample to confirm opiate freedom).",
    thresholds=("urine_positive_lookback_days",),
    applies_to=(NALTREXONE_ORDERS,), needs=(k.URINE_SCREENS,),
)
def urine_screen_positive(ctx: NaltrexoneContext) -> Finding | None:
    """A recent positive urine opioid screen (the latest result of its code)."""
    record, order, cfg = ctx.record, ctx.order, ctx.config
    positives = positive_screens(ctx)
    if not positives:
        return None
    first = positives[0]
    days = w.days_ago(first.when, record.today) if first.when else None
    name, short = w.drug_name(order), w.short_name(order)
    ago = f", {days} days ago" if days is not None else ""
    detail = w.detail(
        f"A urine opioid screen was **positive** ({first.display}, {w.when(first.when)}{ago}) and **{name}** is "
        "ordered.",
        "A positive urine opioid screen means recent opioid use and possible physical dependence. Naltrexone "
        "displaces opioids from their receptors and would precipitate **acute withdrawal**, which can be severe; "
        "the labeling lists a positive urine opioid screen as a contraindication. Only the latest result of each "
        f"screen within {cfg.urine_positive_lookback_days} days counts (a later negative of the same test "
        "supersedes an earlier positive). Wait until the patient is opioid-free and a repeat screen is negative.",
        [w.lab_line(lab) for lab in positives],
        URINE_SOURCE,
    )
    return Finding(
        rule_id="urine-screen-positive", title="Positive urine opioid screen", indicator="critical",
        summary=f"Do not start {short}: urine opioid screen positive ({first.display.split(' [')[0][:40]}, "
        f"{w.when(first.when)})",
        detail=detail, order_ref=order.ref, evidence=tuple(lab.ref for lab in positives),
        suggestions=(w.remove_draft(ctx), order_urine_screen(ctx, "Repeat the urine opioid screen later")),
        override_reasons=(w.RECORD_WRONG, w.SPECIALIST, w.ALREADY_DONE), links=(w.LABEL_LINK,),
        source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
    )


def opioid_exposures(ctx: NaltrexoneContext, days: int) -> list[MedicationUse]:
    """Systemic opioids on record (not this session's drafts): current ones, and past ones ended within `days`."""
    record = ctx.record
    current = [m for m in record.current_opioids() if is_systemic_opioid(m)]
    past = [m for m in record.exposures_ended_within("opioid", days) if is_systemic_opioid(m)]
    return current + past


@rule(
    id="urine-screen-needed", title="Urine opioid screen before naltrexone", indicators=("warning",),
    trigger="Opioid history (an opioid use disorder diagnosis, active or in remission, or a non-peripheral opioid "
    "exposure, current or ended within `opioid_history_lookback_days`) and no negative urine opioid screen within "
    "`urine_negative_lookback_days` (a partially dated negative counts at its earliest possible day). Silent "
    "when urine-screen-positive fires, and when urine screens could not be "
    "obtained (data-incomplete reports that).",
    suggestions="Order a urine opioid screen (create ServiceRequest: SNOMED 310627008 + LOINC screen codes).",
    source="Source document (a urine sample confirms opiate freedom before treatment); naltrexone labeling.",
    thresholds=("opioid_history_lookback_days", "urine_negative_lookback_days",
                "urine_needed_silent_when_positive"),
    applies_to=(NALTREXONE_ORDERS,), needs=(k.CONDITIONS, *k.MEDICATION_KEYS, k.URINE_SCREENS),
    requires=(k.URINE_SCREENS,),  # "no negative screen" cannot be concluded without the screens
)
def urine_screen_needed(ctx: NaltrexoneContext) -> Finding | None:
    """Opioid history and no recent negative urine opioid screen."""
    record, order, cfg = ctx.record, ctx.order, ctx.config
    disorders = record.conditions_in_history("opioid-use-disorder")
    exposures = opioid_exposures(ctx, cfg.opioid_history_lookback_days)
    if not disorders and not exposures:
        return None
    screens = opioid_screens(ctx, cfg.urine_negative_lookback_days)
    if negative_screens(ctx, cfg.urine_negative_lookback_days):
        return None
    if cfg.urine_needed_silent_when_positive and positive_screens(ctx):  # exactly when urine-screen-positive fires
        return None
    name, short = w.drug_name(order), w.short_name(order)
    lines = [w.condition_line(c) for c in disorders] + [w.medication_line(m, record.today) for m in exposures]
    lines += [w.lab_line(lab) for lab in screens]
    imprecise = [lab for lab in screens if lab.positive is False and lab.date_note]
    history = []
    if disorders:
        history.append("an opioid use disorder diagnosis")
    if exposures:
        history.append(f"opioid exposure in the last {cfg.opioid_history_lookback_days} days")
    detail = w.detail(
        f"The patient has {' and '.join(history)}, and there is no negative urine opioid screen in the last "
        f"{cfg.urine_negative_lookback_days} days before **{name}**.",
        "If a patient who is still physically dependent on opioids takes naltrexone, it precipitates **acute "
        "withdrawal**, which can be life-threatening. Self-report can be wrong, so opioid abstinence is confirmed "
        "with a urine opioid screen (opiates, fentanyl, buprenorphine, methadone, oxycodone) before the first "
        "dose. Urine naltrexone tests do not count."
        + (" A negative screen whose date is imprecise (a partial date) counts only if even its earliest possible "
           f"day is within {cfg.urine_negative_lookback_days} days." if imprecise else ""),
        lines,
        URINE_SOURCE,
    )
    return Finding(
        rule_id="urine-screen-needed", title="Urine opioid screen before naltrexone", indicator="warning",
        summary=f"Opioid history: confirm abstinence with a urine opioid screen before starting {short}",
        detail=detail, order_ref=order.ref,
        evidence=tuple(c.ref for c in disorders) + tuple(m.ref for m in exposures) + tuple(s.ref for s in screens),
        suggestions=(order_urine_screen(ctx, "Order a urine opioid screen", recommended=True),),
        override_reasons=w.DEFAULT_REASONS, links=(w.LABEL_LINK,), source_label=w.SOURCE_LABEL,
        source_url=w.LABEL_URL,
    )


RULES: tuple[Rule, ...] = (urine_screen_positive, urine_screen_needed)
