"""Medications: which ingredients a resource means, when the patient was exposed, and the daily dose."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from cds_service.bounded import OutOfRange, add_days, finite_number
from cds_service.fhir.read import (
    DateSpan,
    as_list,
    codings,
    concept_display,
    date_span,
    number,
    reference,
    reference_id,
    resource_key,
    text,
)
from cds_service.memo import remember, request_memo
from cds_service.record.model import MedicationUse
from cds_service.terminology import Ingredient, Product, Terminology
from cds_service.terminology.systems import RXNORM, canonical

CURRENT = {
    "MedicationRequest": {"active", "on-hold"},
    "MedicationStatement": {"active", "intended"},
}
HISTORY = {
    "MedicationRequest": {"stopped", "completed"},
    "MedicationStatement": {"completed", "stopped", "on-hold"},
    "MedicationDispense": {"completed", "in-progress", "preparation", "on-hold"},
    # stopped / on-hold: the administration began, so the patient was exposed (not-done: never given)
    "MedicationAdministration": {"completed", "in-progress", "on-hold", "stopped"},
}
UNIT_WORDS = {"{pill}", "{tbl}", "{tablet}", "{tab}", "{capsule}", "{cap}", "tablet", "tablets", "tab", "tabs",
              "capsule", "capsules", "cap", "caps", "pill", "pills", "{film}", "film", "{patch}", "patch", "1",
              "{spray}", "spray", "{actuat}", "actuation", "{puff}", "puff", "{dose}", "dose", "{each}", "each",
              "{injection}", "injection", "{vial}", "vial", "{syringe}", "syringe"}
MG_FACTOR = {"mg": 1.0, "milligram": 1.0, "milligrams": 1.0, "g": 1000.0, "ug": 0.001, "mcg": 0.001,
             "[mg]": 1.0, "ug/dose": 0.001}
MEMO_TEXT_LIMIT = 1_000  # characters of names a memoised answer may keep (bounds the cache's memory)
SUPPLY_DAYS = {"d": 1, "day": 1, "days": 1, "wk": 7, "week": 7, "weeks": 7, "mo": 30, "month": 30, "months": 30}
PER_DAY = {"s": 86400.0, "min": 1440.0, "h": 24.0, "d": 1.0, "wk": 1 / 7, "mo": 1 / 30, "a": 1 / 365}
_STRENGTH_IN_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s*mg\b", re.IGNORECASE)


class MedicationIndex:
    """Medications a resource may point to: contained, bundled with the request, or read from the server."""

    def __init__(self, medications: Mapping[str, dict[str, Any]]) -> None:
        self._by_ref = dict(medications)

    def __len__(self) -> int:
        return len(self._by_ref)

    def resolve(self, resource: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        ref = reference(resource.get("medicationReference"))
        if ref is None:
            return None, None
        if ref.startswith("#"):
            for c in as_list(resource.get("contained")):
                if isinstance(c, dict) and c.get("resourceType") == "Medication" and c.get("id") == ref[1:]:
                    return c, ref
            return None, ref
        mid = reference_id(resource.get("medicationReference"), "Medication")  # relative, absolute, _history
        return (self._by_ref.get(f"Medication/{mid}") if mid else None), ref


def identify(resource: dict[str, Any], index: MedicationIndex,
             terminology: Terminology) -> tuple[Product | None, str, str]:
    """(product, matched_by, display) for any medication-bearing resource (also AllergyIntolerance.code).

    `matched_by` is "unresolved" when the resource names a Medication the request does not hold: the display is
    then the reference itself."""
    concept = resource.get("medicationCodeableConcept")
    if concept is None and resource.get("resourceType") == "AllergyIntolerance":
        concept = resource.get("code")
    if isinstance(concept, dict):
        one = _one_coding(terminology, concept)
        if one is not None:
            known = _BY_CODING.get(one)
            if known is not None:
                return known
        words = concept.get("text")
        words = words if isinstance(words, str) else None
        coded = tuple(codings(concept))
        if len(words or "") + sum(len(d or "") for _s, _c, d in coded) > MEMO_TEXT_LIMIT:
            return _identify_concept_uncached(terminology, words, coded)  # odd, huge names are not kept
        found = _identify_concept(terminology, words, coded)
        if one is not None:
            remember(_BY_CODING, one, found, 8192)
        return found
    medication, ref = index.resolve(resource)
    if medication is not None:
        return _from_medication(medication, terminology)
    pointer = resource.get("medicationReference")
    # the Medication is not in the request (or the Reference has only a display): its display is the last clue
    shown = text(pointer.get("display")) if isinstance(pointer, dict) else None
    product = _from_text(terminology, shown) if shown else None
    if product is not None:
        return product, "text", shown  # type: ignore[return-value]
    if ref is not None:
        return None, "unresolved", ref  # the reference is all there is to show
    return None, "none", shown[:200] if shown else "unnamed medication"


def _identify_concept_uncached(terminology: Terminology, words: str | None,
                               coded: tuple[tuple[str | None, str | None, str | None], ...]
                               ) -> tuple[Product | None, str, str]:
    """`identify` for a CodeableConcept, memoised on what it reads: its text and codings.

    Profiled: every medicine of a chart is identified on every call, and the same few products recur
    (mostly ones no rule knows, which take the text fallback); Products are immutable, so answers are shared.
    """
    concept = {"text": words, "coding": [{"system": s, "code": c, "display": d} for s, c, d in coded]}
    display = concept_display(concept) or "unnamed medication"
    product = terminology.medication(coded)
    if product is not None:
        return product, "code", display
    product = _from_text(terminology, _all_text(concept))
    return product, ("text" if product else "none"), display


_identify_concept = request_memo(maxsize=8192)(_identify_concept_uncached)
# (terminology, text, system, code, display) of a concept with one coding, all str or None, as sent -> `identify`
_BY_CODING: dict[tuple[object, ...], tuple[Product | None, str, str]] = {}


def _one_coding(terminology: Terminology, concept: dict[str, Any]) -> tuple[object, ...] | None:
    """The memo key of a CodeableConcept as most EHRs send it (one coding, its elements strings), or None.

    Profiled: every medicine of every call is identified, nearly all of them seen in earlier calls; reading the
    five elements as sent is half the work of normalising the codings first. Only str and None go into the key
    (1 == 1.0 == True would share a key, and `codings` reads them differently)."""
    items = concept.get("coding")
    if items.__class__ is not list or len(items) != 1:
        return None
    c = items[0]
    if c.__class__ is not dict:
        return None
    words, system, code, display = concept.get("text"), c.get("system"), c.get("code"), c.get("display")
    if (code.__class__ is str or code is None) and (system.__class__ is str or system is None) \
            and (display.__class__ is str or display is None) and (words.__class__ is str or words is None):
        return (terminology, words, system, code, display)
    return None


@request_memo(maxsize=8192)
def _from_text(terminology: Terminology, value: str | None) -> Product | None:
    """`terminology.medication_from_text`, memoised per (terminology, text).

    Profiled: an uncoded or unknown product (every non-opioid a patient takes) runs the big ingredient-name
    regex; the same few strings recur in every request, and Products are immutable, so the answer is shared.
    """
    return terminology.medication_from_text(value) if value else None


def _all_text(concept: dict[str, Any]) -> str:
    parts = [concept.get("text")] + [d for _s, _c, d in codings(concept)]
    return " ".join(p for p in parts if isinstance(p, str))


def _from_medication(medication: dict[str, Any], terminology: Terminology) -> tuple[Product | None, str, str]:
    code = medication.get("code")
    display = concept_display(code) or "unnamed medication"
    product = terminology.medication(codings(code))
    if product is not None:
        return product, "reference", display
    ingredients: list[Ingredient] = []
    for item in as_list(medication.get("ingredient")):
        if not isinstance(item, dict):
            continue
        item_concept = item.get("itemCodeableConcept")
        found = terminology.medication(codings(item_concept)) if isinstance(item_concept, dict) else None
        if found is None and isinstance(item_concept, dict):
            found = _from_text(terminology, _all_text(item_concept))
        if found is None:
            continue
        strength = _ratio_mg(item.get("strength"))
        for ing in found.ingredients:
            ingredients.append(Ingredient(ing.name, ing.rxcui, ing.classes, strength or ing.strength_mg))
    if ingredients:
        return terminology.product_from_ingredients(ingredients, display), "reference", display
    product = _from_text(terminology, _all_text(code) if isinstance(code, dict) else None)
    return product, ("text" if product else "none"), display


def _ratio_mg(ratio: object) -> float | None:
    """Medication.ingredient.strength (Ratio) as mg per unit, when the numerator is a mass."""
    if not isinstance(ratio, dict) or not isinstance(ratio.get("numerator"), dict):
        return None
    num = ratio["numerator"]
    value = number(num.get("value"))
    unit = (text(num.get("code")) or text(num.get("unit")) or "").lower()
    den: dict[str, Any] = ratio["denominator"] if isinstance(ratio.get("denominator"), dict) else {}
    den_value = number(den.get("value")) or 1.0
    if value is None or unit not in MG_FACTOR:
        return None
    return finite_number(value * MG_FACTOR[unit] / den_value, "strength") if den_value else None


def daily_dose(resource: dict[str, Any]) -> tuple[float | None, str | None]:
    """Dose per day from the first dosage instruction: (amount, "mg" | "unit")."""
    key = "dosageInstruction" if "dosageInstruction" in resource else "dosage"
    dosages = [d for d in as_list(resource.get(key)) if isinstance(d, dict)]
    if not dosages:
        return None, None
    dosage = dosages[0]
    amount, unit = None, None
    for dr in as_list(dosage.get("doseAndRate")):
        if isinstance(dr, dict) and isinstance(dr.get("doseQuantity"), dict):
            q = dr["doseQuantity"]
            amount = number(q.get("value"))
            raw_unit = (text(q.get("code")) or text(q.get("unit")) or "1").strip().lower()
            if raw_unit in MG_FACTOR and amount is not None:
                amount, unit = amount * MG_FACTOR[raw_unit], "mg"
            elif raw_unit in UNIT_WORDS:
                unit = "unit"
            else:
                amount = None
            break
    if amount is None:
        return None, None
    per_day = 1.0
    timing = dosage.get("timing")
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    if isinstance(repeat, dict):
        frequency = number(repeat.get("frequencyMax")) or number(repeat.get("frequency")) or 1.0
        period = number(repeat.get("period")) or 1.0
        unit_code = repeat.get("periodUnit") if isinstance(repeat.get("periodUnit"), str) else "d"
        if unit_code in PER_DAY and period > 0:
            per_day = frequency / period * PER_DAY[unit_code]
    return finite_number(amount * per_day, "daily dose"), unit


def _supply_days(dispense: dict[str, Any]) -> float | None:
    duration = dispense.get("expectedSupplyDuration")
    if isinstance(duration, dict):
        value = number(duration.get("value"))
        unit = (text(duration.get("code")) or text(duration.get("unit")) or "d").lower()
        if value is not None and unit in SUPPLY_DAYS:
            return value * SUPPLY_DAYS[unit]
    return None


class Unreadable(ValueError):
    """A resource the rules need is malformed: it is skipped and said so, never silently dropped."""


@dataclass(frozen=True, slots=True)
class Exposure:
    """When a medication record says the patient was exposed, each date at its safe bound.

    Partial dates keep their precision (`fhir.read.date_span`): the exposure starts at the earliest day its
    start may mean and ends at the latest day its end may mean (an imprecise end never moves a recent opioid
    out of a washout window); `event` is the latest day the recorded act (order, hand-over, dose taken or
    given) may have happened. `notes` say which dates were imprecise, for the card.
    """

    start: date | None = None
    end: date | None = None
    event: date | None = None
    notes: tuple[str, ...] = ()


_PRECISION = {"year": "the year only", "month": "the month only"}


class _Dates:
    """Reads a resource's dates as spans, remembering which imprecise ones were used and how."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.notes: list[str] = []

    def span(self, value: object) -> DateSpan | None:
        found = date_span(value)
        if found is None or found.latest <= self.today:
            return found  # (what `clipped` returns then, without the call: profiled)
        return found.clipped(self.today)

    def latest(self, value: object, element: str) -> date | None:
        found = self.span(value)
        if found is None:
            return None
        if found.earliest != found.latest:  # not precise
            self.notes.append(imprecise_note(element, str(value), found, found.latest))
        return found.latest

    def earliest(self, value: object) -> date | None:
        found = self.span(value)
        return found.earliest if found is not None else None


def imprecise_note(element: str, written: str, span: DateSpan, used: date) -> str:
    shown = written[:40]
    if span.precision == "zone":
        how = f"{span.earliest.isoformat()} or {span.latest.isoformat()} depending on the time zone"
    else:
        how = f"{_PRECISION.get(span.precision, 'an imprecise date')}, {span.earliest.isoformat()} to "  \
              f"{span.latest.isoformat()}"
    return f"{element} recorded as `{shown}` ({how}): counted as {used.isoformat()}, the safer bound"


def exposure(resource: dict[str, Any], today: date | None = None) -> Exposure:
    """Start, last day of exposure and day of the recorded act, from whatever dates the resource carries."""
    return Exposure(*_exposure(resource, today))


_NO_EXPOSURE: tuple[None, None, None, tuple[str, ...]] = (None, None, None, ())


def _exposure(resource: dict[str, Any], today: date | None
              ) -> tuple[date | None, date | None, date | None, tuple[str, ...]]:
    """`exposure` as (start, end, event, notes): what `medication_use` reads, without an Exposure (profiled:
    a frozen dataclass costs as much to build as the dates to read)."""
    d = _Dates(today or date.max)
    rtype = resource.get("resourceType")
    if rtype == "MedicationRequest":
        authored = resource.get("authoredOn")
        dispense = resource.get("dispenseRequest")
        if not isinstance(dispense, dict):
            event = d.latest(authored, "authoredOn")
            return d.earliest(authored), None, event, tuple(d.notes)
        validity: dict[str, Any] = dispense["validityPeriod"] if isinstance(dispense.get("validityPeriod"), dict) \
            else {}
        start = d.earliest(authored) or d.earliest(validity.get("start"))
        supply = _supply_days(dispense)
        if supply is not None and start is not None:
            last_authored = d.latest(authored, "authoredOn") or d.latest(validity.get("start"),
                                                                        "validityPeriod.start")
            end: date | None = add_days(last_authored or start, max(supply - 1, 0), "supply end")
            return start, end, last_authored, tuple(d.notes)
        end = d.latest(validity.get("end"), "validityPeriod.end")
        event = d.latest(authored, "authoredOn") if authored is not None else start
        return start, end, event, tuple(d.notes)
    if rtype in ("MedicationStatement", "MedicationAdministration"):
        moment = resource.get("effectiveDateTime")
        if d.span(moment) is not None:
            last = d.latest(moment, "effectiveDateTime")
            return d.earliest(moment), last, last, tuple(d.notes)
        period: dict[str, Any] = resource["effectivePeriod"] if isinstance(resource.get("effectivePeriod"), dict) \
            else {}
        start = d.earliest(period.get("start"))
        end = d.latest(period.get("end"), "effectivePeriod.end")
        if rtype == "MedicationAdministration":
            end = end or d.latest(period.get("start"), "effectivePeriod.start")
        elif end is None and start is None:
            end = d.latest(resource.get("dateAsserted"), "dateAsserted")
        event = end or (d.latest(period.get("start"), "effectivePeriod.start") if start else None)
        return start, end, event, tuple(dict.fromkeys(d.notes))
    if rtype == "MedicationDispense":
        element = "whenHandedOver" if d.span(resource.get("whenHandedOver")) is not None else "whenPrepared"
        handed = d.latest(resource.get(element), element)
        supply = resource.get("daysSupply")
        days = number(supply.get("value")) if isinstance(supply, dict) else None
        if handed is not None:
            end = add_days(handed, max((days or 1) - 1, 0), "supply end")
            return d.earliest(resource.get(element)), end, handed, tuple(d.notes)
        return _NO_EXPOSURE
    return _NO_EXPOSURE


def _check_medication_element(resource: dict[str, Any]) -> None:
    """A medication[x] of the wrong shape is unreadable (skipped and reported), never read as 'no medicine'."""
    concept = resource.get("medicationCodeableConcept")
    if concept is not None and not isinstance(concept, dict):
        raise Unreadable(f"{resource_key(resource) or resource.get('resourceType')}: medicationCodeableConcept is "
                         f"not a CodeableConcept ({type(concept).__name__})")
    ref = resource.get("medicationReference")
    if ref is not None and (not isinstance(ref, dict) or ("reference" in ref and not isinstance(
            ref["reference"], str))):
        raise Unreadable(f"{resource_key(resource) or resource.get('resourceType')}: medicationReference is not "
                         "a Reference")


def medication_use(resource: dict[str, Any], index: MedicationIndex, terminology: Terminology, today: date,
                   *, draft: bool = False, not_before: date | None = None) -> MedicationUse | None:
    """A MedicationUse, or None when the record does not count (entered-in-error, cancelled, not taken, a
    past use that ended before `not_before`, a medicine no rule knows)."""
    rtype = resource.get("resourceType")
    raw_status = resource.get("status")
    status = raw_status if isinstance(raw_status, str) else "unknown"
    if "medicationReference" in resource or resource.get("medicationCodeableConcept").__class__ is not dict:
        _check_medication_element(resource)  # (profiled: the usual CodeableConcept needs no further look)
    # the status first, then the medicine, then the dates: most of a long chart is history of medicines no
    # rule reads (a statin, an inhaler), and its dates are never needed
    if draft:
        kind = "draft"
    elif rtype in CURRENT and status in CURRENT[rtype]:
        kind = "current"
    elif rtype == "MedicationDispense" and status in HISTORY[rtype]:
        kind = "dispensed"
    elif rtype in HISTORY and status in HISTORY[rtype]:
        kind = "past"
    else:
        return None
    product, matched_by, display = identify(resource, index, terminology)
    if product is None and matched_by != "unresolved":
        return None  # a medicine no rule knows: nothing to compute for it
    problems: tuple[str, ...] = ()
    try:
        start, end, event, notes = _exposure(resource, today)
    except OutOfRange as err:
        if not draft:
            raise  # a record on file: unreadable, skipped and said so
        # a draft is still the order to check: its dates are unknown, and the card says so
        (start, end, event, notes), problems = _NO_EXPOSURE, (f"{err}: its dates were not used",)
    current = kind == "current"
    if kind == "current" and rtype == "MedicationStatement" and end is not None and end < today:
        current = False  # an "active" statement whose period is over
    elif kind == "dispensed":
        current = end is not None and end >= today
    if not current and not draft and not_before is not None and end is not None and end < not_before:
        return None  # history beyond every look-back (most of a long chart)
    try:
        amount, unit = daily_dose(resource)
    except OutOfRange as err:
        if not draft:
            raise
        amount, unit, problems = None, None, (*problems, f"{err}: its dose was not used")
    if unit == "unit" and product is not None and product.rxcui is None and matched_by == "text":
        # a text-only product ("naltrexone 4.5 mg capsule"): take the strength from the text
        m = _STRENGTH_IN_TEXT.search(display)
        if m and len(product.ingredients) == 1:
            amount, unit = amount * float(m.group(1)) if amount is not None else None, "mg"
    return MedicationUse(
        ref=resource_key(resource) or f"{rtype}/(no id)",
        resource_type=str(rtype),
        status=status,
        display=display,
        ingredients=product.ingredients if product else (),
        matched_by=matched_by,
        is_current=current,
        is_draft=draft,
        start=start,
        end=None if current else end,
        event=event,
        date_note="; ".join(notes) if notes else None,
        daily_amount=amount,
        daily_unit=unit,
        route=(product.dose_form if product else None),
        rxnorm_codes=tuple(c for s, c, _d in codings(resource.get("medicationCodeableConcept")) if c
                           and canonical(s) == RXNORM),  # Epic sends RxNorm as urn:oid:2.16.840.1.113883.6.88
        product_classes=product.classes if product else frozenset(),
        raw=resource,
        problems=problems,
    )
