"""Opioid washout: naltrexone needs an opioid-free interval, or it precipitates withdrawal."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from cds_service.fhir.read import pruned
from cds_service.record.model import MedicationUse
from cds_service.rules.base import ActionSpec, Finding, Rule, SuggestionSpec, rule
from cds_service.rules.naltrexone import prefetch as k
from cds_service.rules.naltrexone import wording as w
from cds_service.rules.naltrexone.config import NaltrexoneContext
from cds_service.rules.naltrexone.scopes import NALTREXONE_ORDERS

WASHOUT_SOURCE = (
    f"{w.SOURCE_DOC}: \"If opioid-dependent people are not opiate-free for at least one week before starting "
    "therapy with naltrexone, naltrexone can cause acute withdrawal syndrome. Therefore, to prevent this "
    "life-threatening situation and to confirm opiate freedom, a urine sample is usually analyzed before "
    f"treatment is started.\"; naltrexone labeling (opioid-free for at least {w.LABEL_OPIOID_FREE}; naloxone "
    "challenge); "
    "Vivitrol counseling checklist (after buprenorphine or methadone, precipitated withdrawal up to 2 weeks)."
)

NALOXONE_CHALLENGE = (
    "A **naloxone challenge** tests for hidden opioid dependence before the first dose: with no withdrawal "
    "signs and a negative urine screen, give naloxone 0.2 mg IV and watch 30 seconds, then 0.6 mg IV and watch "
    "20 minutes (or 0.8 mg SC and watch 20 minutes). Withdrawal signs mean the challenge failed: do not start "
    "naltrexone; repeat the challenge in 24 hours."
)

CHALLENGE = SuggestionSpec("Perform a naloxone challenge before the first dose")


def is_systemic_opioid(m: MedicationUse) -> bool:
    """An opioid that can cause physical dependence: not only loperamide/diphenoxylate/difenoxin."""
    return any("opioid" in i.classes and "opioid-peripheral" not in i.classes for i in m.ingredients)


def ended_opioids(ctx: NaltrexoneContext, days: int, ingredient_class: str = "opioid") -> list[MedicationUse]:
    """Past (not current) systemic opioid uses whose exposure ended within `days`, most recent first."""
    found = [m for m in ctx.record.exposures_ended_within(ingredient_class, days) if is_systemic_opioid(m)]
    return sorted(found, key=lambda m: m.end or date.min, reverse=True)


def _days_since(m: MedicationUse, today: date) -> int:
    return max(w.days_ago(m.end, today), 0) if m.end else 0


def _when_text(days: int) -> str:
    return "today" if days == 0 else ("1 day ago" if days == 1 else f"{days} days ago")


@rule(
    id="opioid-washout", title="Opioid-free interval before naltrexone", indicators=("critical", "warning"),
    trigger="The last exposure to a (non-peripheral) opioid that is no longer current ended fewer than "
    "`opioid_free_days` days ago → critical; ended `opioid_free_days`..`opioid_free_full_days` days ago, or "
    "fewer than `maintenance_free_days` days after buprenorphine/methadone → warning. Exposure end from "
    "MedicationStatement effective period, MedicationRequest authoredOn + supply / validity period, "
    "MedicationDispense whenHandedOver + daysSupply, MedicationAdministration effective time. A partial date "
    "(\"2026-11\") counts at its latest possible day, and the card says the date was imprecise.",
    suggestions="Critical: postpone the start (update the draft's start dates), or remove the draft. Warning: "
    "order a urine opioid screen (create ServiceRequest); naloxone challenge before the first dose.",
    source="Source document (opiate-free for at least one week; urine sample); naltrexone labeling (7-10 "
    "opioid-free days, naloxone challenge); Vivitrol counseling checklist (2 weeks after buprenorphine/methadone).",
    thresholds=("opioid_free_days", "opioid_free_full_days", "maintenance_free_days"),
    applies_to=(NALTREXONE_ORDERS,), needs=(*k.MEDICATION_KEYS, k.URINE_SCREENS),
)
def opioid_washout(ctx: NaltrexoneContext) -> Finding | None:
    """The last opioid ended too recently: critical under 7 days, warning 7-10 days or under 14 after maintenance."""
    record, order, cfg = ctx.record, ctx.order, ctx.config
    today = record.today
    recent = ended_opioids(ctx, cfg.opioid_free_full_days)
    maintenance = ended_opioids(ctx, cfg.maintenance_free_days - 1, "opioid-maintenance")
    cited = recent + [m for m in maintenance if m not in recent]
    if not cited:
        return None
    cited.sort(key=lambda m: m.end or date.min, reverse=True)
    last = cited[0]
    days = _days_since(last, today)
    agent = last.ingredient_names("opioid")[0] if last.ingredient_names("opioid") else "opioid"
    name, short = w.drug_name(order), w.short_name(order)
    lines = [w.medication_line(m, today) for m in cited]
    evidence = tuple(m.ref for m in cited)
    window = f"{cfg.opioid_free_days}-{cfg.opioid_free_full_days}"
    maint_text = ""
    if maintenance:
        m_agent = maintenance[0].ingredient_names("opioid-maintenance")[0]
        m_days = _days_since(maintenance[0], today)
        maint_text = (f" The last {m_agent} (opioid maintenance) exposure was {_when_text(m_days)}: after "
                      f"buprenorphine or methadone, withdrawal can still be precipitated for up to "
                      f"{cfg.maintenance_free_days} days.")

    if days < cfg.opioid_free_days:
        summary = (f"Last opioid ({agent}) {_when_text(days)}: postpone {short} until {window} opioid-free days")
        why = (
            "Naltrexone displaces opioids from their receptors. In a patient still physically dependent on opioids "
            "it precipitates **acute withdrawal**, which can be severe and life-threatening. The patient must be "
            f"opioid-free for at least {cfg.opioid_free_days} days before the first dose (site policy; the "
            f"labeling asks for {w.LABEL_OPIOID_FREE}); the last {agent} exposure was {_when_text(days)}."
            + maint_text
            + " Postpone the start, and confirm abstinence with a urine opioid screen before the first dose."
        )
        critical_suggestions: list[SuggestionSpec] = []
        postpone = _postpone(ctx, last, maintenance)
        if postpone is not None:
            critical_suggestions.append(postpone)
        critical_suggestions.append(w.remove_draft(ctx, recommended=postpone is None))
        return Finding(
            rule_id="opioid-washout", title="Opioid-free interval before naltrexone", indicator="critical",
            summary=summary,
            detail=w.detail(
                _lead(name, agent, last, days, today), why, lines, WASHOUT_SOURCE),
            order_ref=order.ref, evidence=evidence, suggestions=tuple(critical_suggestions),
            override_reasons=w.DEFAULT_REASONS, links=w.label_links(order), source_label=w.SOURCE_LABEL,
            source_url=w.LABEL_URL,
        )

    borderline = days <= cfg.opioid_free_full_days
    if borderline:
        reason = (f"The last {agent} exposure was {_when_text(days)}: within the {window}-day opioid-free interval "
                  f"of this site's policy (the labeling asks for {w.LABEL_OPIOID_FREE}), the start is borderline."
                  + maint_text)
        summary = f"Last opioid ({agent}) {_when_text(days)}: urine screen or naloxone challenge before {short}"
    else:
        m_agent = maintenance[0].ingredient_names("opioid-maintenance")[0]
        m_days = _days_since(maintenance[0], today)
        reason = maint_text.strip()
        summary = (f"Last {m_agent} {_when_text(m_days)} (< {cfg.maintenance_free_days} days): urine screen or "
                   f"naloxone challenge before {short}")
    from cds_service.rules.naltrexone.urine import negative_screens, order_urine_screen

    negative = negative_screens(ctx, cfg.urine_negative_lookback_days)
    if negative:
        lines += [w.lab_line(lab) for lab in negative]
        evidence += tuple(lab.ref for lab in negative)
        confirm = (f"A negative urine opioid screen in the last {cfg.urine_negative_lookback_days} days supports "
                   "abstinence; if occult dependence is still possible, do a naloxone challenge before the first "
                   "dose. ")
        suggestions: tuple[SuggestionSpec, ...] = (CHALLENGE,)
    else:
        confirm = ("Confirm abstinence with a urine opioid screen and, if occult dependence is possible, a naloxone "
                   "challenge before the first dose. ")
        suggestions = (order_urine_screen(ctx, "Order a urine opioid screen before the first dose"),
                       CHALLENGE)
    why = (reason + " Naltrexone can precipitate **withdrawal** in a patient with residual opioid dependence. "
           + confirm + NALOXONE_CHALLENGE)
    return Finding(
        rule_id="opioid-washout", title="Opioid-free interval before naltrexone", indicator="warning",
        summary=summary,
        detail=w.detail(
            _lead(name, agent, last, days, today), why, lines, WASHOUT_SOURCE),
        order_ref=order.ref, evidence=evidence,
        suggestions=suggestions,
        override_reasons=w.DEFAULT_REASONS, links=w.label_links(order), source_label=w.SOURCE_LABEL,
        source_url=w.LABEL_URL,
    )


def _lead(name: str, agent: str, last: MedicationUse, days: int, today: date) -> str:
    if last.end is not None and last.end > today:
        return (f"**{name}** is ordered, and the last opioid exposure ({agent}, {last.status}) is recorded through "
                f"{w.when(last.end)}: the patient may have taken it **today**.")
    return (f"**{name}** is ordered, and the last opioid exposure ({agent}) ended {w.when(last.end)}: "
            f"**{_when_text(days)}**.")



def _postpone(ctx: NaltrexoneContext, last: MedicationUse, maintenance: list[MedicationUse]) -> SuggestionSpec | None:
    """Update the draft so that it starts after the full opioid-free interval (and after the maintenance one)."""
    order, cfg = ctx.order, ctx.config
    if order.raw is None or order.resource_type != "MedicationRequest" or last.end is None:
        return None
    start = last.end + timedelta(days=cfg.opioid_free_full_days)
    for m in maintenance:
        if m.end is not None:
            start = max(start, m.end + timedelta(days=cfg.maintenance_free_days))
    if not w.updatable(order.raw):
        return None
    updated = pruned(order.raw)
    day = start.isoformat()
    dispense: dict[str, Any] = updated["dispenseRequest"] \
        if isinstance(updated.get("dispenseRequest"), dict) else {}
    validity: dict[str, Any] = dispense["validityPeriod"] \
        if isinstance(dispense.get("validityPeriod"), dict) else {}
    validity["start"] = day
    if isinstance(validity.get("end"), str) and validity["end"][:10] < day:
        del validity["end"]
    dispense["validityPeriod"] = validity
    updated["dispenseRequest"] = dispense
    for dosage in updated.get("dosageInstruction") or []:
        if not isinstance(dosage, dict):
            continue
        timing = dosage.setdefault("timing", {})
        repeat = timing.setdefault("repeat", {}) if isinstance(timing, dict) else None
        if isinstance(repeat, dict):
            if "boundsDuration" in repeat or "boundsRange" in repeat:
                continue  # one bounds[x] only: keep the prescriber's duration, the validity period moves
            bounds: dict[str, Any] = repeat["boundsPeriod"] if isinstance(repeat.get("boundsPeriod"), dict) else {}
            bounds["start"] = day
            if isinstance(bounds.get("end"), str) and bounds["end"][:10] < day:
                del bounds["end"]
            repeat["boundsPeriod"] = bounds
    return SuggestionSpec(
        f"Postpone the start to {day} ({(start - last.end).days} days after the last opioid dose)",
        (ActionSpec("update", f"Move the start of {order.ref} to {day}", resource=updated),),
        recommended=True,
    )


RULES: tuple[Rule, ...] = (opioid_washout,)
