"""Patient and dose rules: a young patient, and low-dose naltrexone (off-label, compounded)."""

from __future__ import annotations

from typing import Any

from cds_service.fhir.read import as_list, number, text
from cds_service.record.model import MedicationUse
from cds_service.rules.base import Finding, LinkSpec, Rule, SuggestionSpec, rule
from cds_service.rules.naltrexone import prefetch as k
from cds_service.rules.naltrexone import wording as w
from cds_service.rules.naltrexone.config import NaltrexoneContext
from cds_service.rules.naltrexone.scopes import NALTREXONE_ORDERS

PEDIATRIC_URL = "https://www.renalandurologynews.com/drug/naltrexone/"
LDN_URL = "https://pmc.ncbi.nlm.nih.gov/articles/PMC6313374"
LDN_LINK = LinkSpec("Low-dose naltrexone (review)", LDN_URL)
LABELED_ADULT_AGE = 18  # labeling fact: safety and effectiveness under 18 not established (not site policy)


@rule(
    id="young-patient", title="Naltrexone in a young patient", indicators=("warning",),
    trigger="Age on the day of the request (from Patient.birthDate) under the minimum age.",
    suggestions="Specialist review (no action); override reasons.",
    source="Source document (few data in alcohol dependence under 20, so usually not used); labeling (safety "
    "under 18 not established).",
    thresholds=("minimum_age",),
    applies_to=(NALTREXONE_ORDERS,), needs=(k.PATIENT,),
)
def young_patient(ctx: NaltrexoneContext) -> Finding | None:
    """Under the minimum age: little data in young people; not established under 18."""
    record, order, cfg = ctx.record, ctx.order, ctx.config
    age = record.age_years
    if age is None or record.birth_date is None or age >= cfg.minimum_age:
        return None
    name, short = w.drug_name(order), w.short_name(order)
    why = ("Because few study data are available for people with alcohol dependence younger than 20, naltrexone "
           "is usually not used in them (source document).")
    if age < LABELED_ADULT_AGE:
        why = ("The safety and effectiveness of naltrexone in patients **under 18 have not been established**; it "
               "is not recommended (labeling; adolescent trials are small). " + why)
    why += (" If treatment is still considered, let an addiction-medicine or adolescent specialist review the "
            "indication and the monitoring plan.")
    detail = w.detail(
        f"The patient is **{age} years old** (born {record.birth_date.isoformat()}) and **{name}** is ordered; "
        f"the site's minimum age is {cfg.minimum_age}.",
        why,
        [f"- **Patient** (`Patient/{record.patient_id}`): birth date {record.birth_date.isoformat()} → age {age} on "
         f"{record.today.isoformat()}"],
        f"{w.SOURCE_DOC}: \"because few study data are available for alcoholics younger than 20 years of age, "
        "treatment with naltrexone is usually not used in them\"; naltrexone labeling (pediatric use: safety under "
        f"18 not established). Minimum age (site policy, configurable): {cfg.minimum_age}.",
    )
    return Finding(
        rule_id="young-patient", title="Naltrexone in a young patient", indicator="warning",
        summary=f"{short[:1].upper()}{short[1:]} for a {age}-year-old (under {cfg.minimum_age}): little safety data; "
        "specialist review",
        detail=detail, order_ref=order.ref, evidence=(f"Patient/{record.patient_id}",),
        suggestions=(SuggestionSpec("Specialist review (addiction or adolescent medicine) before starting"),),
        override_reasons=(w.SPECIALIST, w.BENEFIT, w.RECORD_WRONG),
        links=(w.LABEL_LINK, LinkSpec("Naltrexone: pediatric use", PEDIATRIC_URL)),
        source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
    )


def naltrexone_only(order: MedicationUse) -> bool:
    """Naltrexone alone (tablets, compounded capsules, XR injection): not Contrave, not Lybalvi."""
    names = order.ingredient_names()
    return bool(names) and set(names) == {"naltrexone"}


@rule(
    id="low-dose", title="Low-dose naltrexone (off-label)", indicators=("info",),
    trigger="Plain oral naltrexone whose daily dose (dose in mg × frequency, or tablets × product strength × "
    "frequency) is at or under the low-dose maximum; silent when the dose cannot be computed.",
    suggestions="None; off-label, compounded; the opioid checks still apply.",
    source="Low-dose naltrexone reviews (1-5 mg/day, off-label; no FDA-approved LDN product); source document "
    "(low-dose naltrexone in multiple sclerosis).",
    thresholds=("low_dose_max_mg",),
    applies_to=(NALTREXONE_ORDERS,),
)
def low_dose(ctx: NaltrexoneContext) -> Finding | None:
    """Daily naltrexone at or under the low-dose maximum (e.g. 4.5 mg for multiple sclerosis)."""
    order, cfg = ctx.order, ctx.config
    if not naltrexone_only(order) or "extended-release-injection" in order.product_classes:
        return None
    mg = order.daily_mg("naltrexone")
    if mg is None or mg <= 0 or mg > cfg.low_dose_max_mg:
        return None
    name, short = w.drug_name(order), w.short_name(order)
    detail = w.detail(
        f"**{name}** is ordered at **{mg:g} mg naltrexone per day**: low-dose naltrexone (LDN), at or under "
        f"{cfg.low_dose_max_mg:g} mg/day.",
        "Low-dose naltrexone (typically 1-5 mg a day, e.g. 4.5 mg at bedtime in multiple sclerosis or "
        "fibromyalgia) is an **off-label** use: there is **no FDA-approved low-dose product**, so it is "
        "compounded. Check that the dose is intended. Even at a low dose naltrexone is an opioid antagonist: "
        "**the opioid checks still apply** (current opioids, washout, urine screens).",
        [f"- **{order.display}** (`{order.ref}`): {_dose_explanation(order, mg)}"],
        f"{w.SOURCE_DOC}: \"recent studies also show efficacy of low-dose naltrexone in multiple sclerosis\"; "
        "low-dose naltrexone reviews (PMC6313374; AAFP). Low-dose maximum (site policy, configurable): "
        f"{cfg.low_dose_max_mg:g} mg/day.",
    )
    return Finding(
        rule_id="low-dose", title="Low-dose naltrexone (off-label)", indicator="info",
        summary=f"Low-dose {short}: {mg:g} mg/day is off-label (compounded LDN); opioid checks still apply",
        detail=detail, order_ref=order.ref, evidence=(order.ref,), links=(LDN_LINK, w.LABEL_LINK),
        source_label=w.SOURCE_LABEL, source_url=LDN_URL,
    )


_MASS_UNITS = {"mg", "milligram", "milligrams", "[mg]", "g", "ug", "mcg", "ug/dose"}
_PERIOD_NAMES = {"s": "second", "min": "minute", "h": "hour", "d": "day", "wk": "week", "mo": "month", "a": "year"}


def _dose_explanation(order: MedicationUse, mg: float) -> str:
    """How the daily dose was computed, in the order's own terms (its first dosage instruction)."""
    dosage = next((d for d in as_list((order.raw or {}).get("dosageInstruction")) if isinstance(d, dict)), {})
    quantity: dict[str, Any] = next((dr["doseQuantity"] for dr in as_list(dosage.get("doseAndRate"))
                     if isinstance(dr, dict) and isinstance(dr.get("doseQuantity"), dict)), {})
    amount = number(quantity.get("value"))
    unit = (text(quantity.get("unit")) or text(quantity.get("code")) or "").strip("{}")
    per_dose = f"{amount:g} {unit}".strip() if amount is not None else "dose"
    steps = [f"{per_dose} × {_frequency(dosage)}"]
    strength = next((i.strength_mg for i in order.ingredients if i.name == "naltrexone"), None)
    if order.daily_unit == "unit" or (unit.lower() not in _MASS_UNITS and strength):
        units = order.daily_amount if order.daily_unit == "unit" else (mg / strength if strength else None)
        if units is not None and strength:
            source = " (strength read from the medication text)" if order.matched_by == "text" else ""
            steps.append(f"{units:g} per day × {strength:g} mg naltrexone each{source}")
    steps.append(f"**{mg:g} mg/day**")
    shown = text(dosage.get("text"))
    return " = ".join(steps) + (f" (instruction: \"{shown[:80]}\")" if shown else "")


def _frequency(dosage: dict[str, Any]) -> str:
    timing = dosage.get("timing")
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    if not isinstance(repeat, dict):
        return "once a day (no timing given)"
    frequency = number(repeat.get("frequencyMax")) or number(repeat.get("frequency")) or 1.0
    period = number(repeat.get("period")) or 1.0
    period_unit = repeat.get("periodUnit")
    unit = _PERIOD_NAMES.get(period_unit if isinstance(period_unit, str) else "d", "day")
    times = {1.0: "once", 2.0: "twice"}.get(frequency, f"{frequency:g} times")
    return f"{times} a {unit}" if period == 1 else f"{times} every {period:g} {unit}s"


RULES: tuple[Rule, ...] = (young_patient, low_dose)
