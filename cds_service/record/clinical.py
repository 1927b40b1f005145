"""Conditions, lab results and allergies, read the way the rule catalogue's "Record filtering" says."""

from __future__ import annotations

from datetime import date
from typing import Any

from cds_service.fhir.read import (
    DateSpan,
    as_list,
    codings,
    concept_display,
    date_span,
    number,
    parse_date,
    period_bounds,
    resource_key,
    status_code,
    text,
)
from cds_service.record.medications import MedicationIndex, Unreadable, identify, imprecise_note
from cds_service.record.model import AllergyEntry, ConditionEntry, LabResult
from cds_service.terminology import Terminology

NO_MEDICATIONS = MedicationIndex({})  # an AllergyIntolerance names its substance itself
IGNORED_VERIFICATION = {"entered-in-error", "refuted"}
COUNTED_OBSERVATION = {"final", "amended", "corrected"}
# enzyme activity units -> U/L (1 µkat/L = 1 µmol/(s·L) = 60 U/L; UCUM writes µ as "u" and · as ".")
ENZYME_UNITS = {"u/l": 1.0, "iu/l": 1.0, "[iu]/l": 1.0, "u/l.": 1.0, "units/l": 1.0,
                "ukat/l": 60.0, "µkat/l": 60.0, "μkat/l": 60.0, "nkat/l": 0.06,
                "umol/(s.l)": 60.0, "µmol/(s.l)": 60.0, "μmol/(s.l)": 60.0, "umol/(s·l)": 60.0,
                "µmol/(s·l)": 60.0, "μmol/(s·l)": 60.0, "umol/s/l": 60.0, "µmol/s/l": 60.0, "umol/l/s": 60.0,
                "µmol/l/s": 60.0, "umol/(l.s)": 60.0, "µmol/(l.s)": 60.0, "µmol/(l·s)": 60.0}
ENZYME_CLASSES = frozenset({"alt", "ast"})  # results whose values are enzyme activities (converted to U/L)
POSITIVE_CODES = {"pos", "a", "det", "aa", "h", "10828004", "260373001", "52101004"}
NEGATIVE_CODES = {"neg", "n", "nd", "260385009", "260415000", "2667000"}


def condition_entry(resource: dict[str, Any], terminology: Terminology) -> ConditionEntry | None:
    coded = codings(resource.get("code"))
    classes: frozenset[str] = frozenset()
    for s, c, _d in coded:  # (loops, not comprehensions: every condition of every call, profiled)
        found = terminology.condition_classes(s, c)
        if found:
            classes = classes | found
    matched_by = "code"
    if not classes:
        for s, _c, _d in coded:
            if terminology.classifies_whole_system(s):
                return None  # an ICD-10 code outside every class: known not to be one (most problem lists)
        # no recognised code: the clinical term in the text or a coding's display ("Leberzirrhose")
        concept = resource.get("code")
        words = [concept.get("text")] + [d for _s, _c, d in coded] if isinstance(concept, dict) else []
        classes = terminology.condition_from_text(" . ".join(w for w in words if isinstance(w, str)))
        if not classes:
            return None  # most of a problem list: no rule reads it
        matched_by = "text"
    verification = status_code(resource.get("verificationStatus"))
    if verification in IGNORED_VERIFICATION:
        return None
    clinical = status_code(resource.get("clinicalStatus"))
    if clinical is None:
        # R4 requires clinicalStatus unless entered-in-error; without it, an abated condition is history
        clinical = "resolved" if ("abatementDateTime" in resource or "abatementPeriod" in resource) else "active"
    onset_start, _ = period_bounds(resource.get("onsetPeriod"))
    return ConditionEntry(
        ref=resource_key(resource) or "Condition/(no id)",
        display=concept_display(resource.get("code")) or "unnamed condition",
        codes=tuple((s or "", c) for s, c, _d in coded if c),
        classes=classes,
        clinical_status=clinical,
        verification_status=verification,
        onset=parse_date(resource.get("onsetDateTime")) or onset_start,
        recorded=parse_date(resource.get("recordedDate")),
        matched_by=matched_by,
    )


def _effective(resource: dict[str, Any]) -> tuple[DateSpan | None, str, str]:
    """The result's date as a span (partial dates keep their precision), with the element and text it came from."""
    for element in ("effectiveDateTime", "effectiveInstant"):
        span = date_span(resource.get(element))
        if span is not None:
            return span, element, resource[element]
    period = resource.get("effectivePeriod")
    if isinstance(period, dict):
        for part in ("end", "start"):
            span = date_span(period.get(part))
            if span is not None:
                return span, f"effectivePeriod.{part}", period[part]
    span = date_span(resource.get("issued"))
    return (span, "issued", resource["issued"]) if span is not None else (None, "", "")


def _qualitative(resource: dict[str, Any]) -> bool | None:
    for concept in as_list(resource.get("interpretation")):
        for _s, code, display in codings(concept):
            word = (code or display or "").lower()
            if word in POSITIVE_CODES or word.startswith(("positive", "detected")):
                return True
            if word in NEGATIVE_CODES or word.startswith(("negative", "not detected", "none detected")):
                return False
        t = text(concept.get("text")) if isinstance(concept, dict) else None
        if t:
            return _word_result(t)
    if "valueCodeableConcept" in resource:
        for _s, code, display in codings(resource["valueCodeableConcept"]):
            word = (code or "").lower()
            if word in POSITIVE_CODES:
                return True
            if word in NEGATIVE_CODES:
                return False
            verdict = _word_result(display or "")
            if verdict is not None:
                return verdict
        return _word_result(concept_display(resource["valueCodeableConcept"]) or "")
    if isinstance(resource.get("valueString"), str):
        return _word_result(resource["valueString"])
    return None


def _word_result(value: str) -> bool | None:
    v = value.strip().lower()
    if v.startswith(("neg", "not detected", "none detected", "non-reactive", "nonreactive", "absent")):
        return False
    if v.startswith(("pos", "detected", "reactive", "present")):
        return True
    return None


def lab_result(resource: dict[str, Any], terminology: Terminology, not_before: date | None = None,
               today: date | None = None) -> LabResult | None:
    """The Observation as a LabResult; None when no rule reads it, or it is older than `not_before`.

    A partial date keeps its span: `when` is its latest possible day (a positive or raised result stays in its
    window), `earliest` its first (a reassuring negative must be recent on every reading of the date)."""
    # cheapest tests first (profiled: most Observations of a chart are old or not ours): status, date, codes
    status = resource.get("status")
    if isinstance(status, str) and status not in COUNTED_OBSERVATION:
        return None
    written = resource.get("effectiveDateTime")  # how nearly every result is dated: read here (profiled)
    span = date_span(written)
    element = "effectiveDateTime"
    if span is None:
        span, element, written = _effective(resource)
    if span is not None and not_before is not None and span.latest < not_before:
        return None  # history beyond every look-back: not read at all (most labs of a long chart)
    if span is not None and today is not None:
        span = span.clipped(today)  # (only ever moves the latest day to today)
    when = span.latest if span is not None else None
    if when is not None and not_before is not None and when < not_before:
        return None
    classes: frozenset[str] = frozenset()
    code = ""
    for s, c, _d in codings(resource.get("code")):
        found = terminology.observation_classes(s, c)
        if found:
            classes = classes | found
            code = code or c  # type: ignore[assignment]  # found implies a code
    if not classes:
        return None
    if status not in COUNTED_OBSERVATION:  # missing; malformed (unhashable) raises: skipped and said so
        return None
    ref = resource_key(resource) or "Observation/(no id)"
    if when is None:
        raise Unreadable(f"{ref}: no readable effective date")
    display = concept_display(resource.get("code")) or code
    value = unit = original = uln = uln_source = reference_text = None
    if "valueQuantity" in resource:
        q = resource["valueQuantity"]
        raw_value = number(q.get("value")) if isinstance(q, dict) else None
        if raw_value is None:
            raise Unreadable(f"{ref}: valueQuantity is not a number with a unit")
        raw_unit = text(q.get("code")) or text(q.get("unit")) or ""
        original = f"{q.get('value')} {raw_unit}".strip()[:80]
        enzyme = not classes.isdisjoint(ENZYME_CLASSES)
        factor = ENZYME_UNITS.get(raw_unit.lower()) if enzyme else None
        if enzyme:
            if factor is None:
                raise Unreadable(f"{ref}: unit '{raw_unit[:20]}' is not an enzyme activity unit "
                                 "(U/L, IU/L, µkat/L, nkat/L, µmol/(s·L))")
            value, unit = raw_value * factor, "U/L"
        else:
            value, unit = raw_value, raw_unit or None
        for rng in as_list(resource.get("referenceRange")):
            if not isinstance(rng, dict):
                continue
            high_raw, low_raw = rng.get("high"), rng.get("low")
            high: dict[str, Any] | None = high_raw if isinstance(high_raw, dict) else None
            low: dict[str, Any] | None = low_raw if isinstance(low_raw, dict) else None
            high_value = number(high.get("value")) if high else None
            if high is not None and high_value is not None:
                h_unit = text(high.get("unit")) or text(high.get("code")) or raw_unit
                h_factor = ENZYME_UNITS.get(h_unit.lower()) if factor is not None else 1.0
                if h_factor is not None:
                    uln, uln_source = high_value * h_factor, "referenceRange"
                    low_v = number(low.get("value")) if low else None
                    reference_text = (f"{low.get('value')}-{high.get('value')} {h_unit}"
                                      if low is not None and low_v is not None
                                      else f"≤ {high.get('value')} {h_unit}")
                    break
            elif text(rng.get("text")):
                reference_text = rng["text"][:80]
    elif "valueString" in resource:
        if not isinstance(resource["valueString"], str):
            raise Unreadable(f"{ref}: valueString is not text")
        original = resource["valueString"][:80]
    elif "valueCodeableConcept" in resource:
        original = concept_display(resource["valueCodeableConcept"])
    positive = _qualitative(resource)
    if original is None and positive is not None:
        original = "positive" if positive else "negative"
    note = None
    if span is not None and not span.precise:
        bound = span.earliest if positive is False else span.latest
        note = imprecise_note(element, str(written), span, bound)
    return LabResult(ref=ref, display=display, code=code, classes=classes, status=status, when=when, value=value,
                     unit=unit, original=original, uln=uln, uln_source=uln_source, reference_text=reference_text,
                     positive=positive, earliest=span.earliest if span is not None else None, date_note=note)


def allergy_entry(resource: dict[str, Any], terminology: Terminology) -> AllergyEntry | None:
    product, _matched, display = identify(resource, NO_MEDICATIONS, terminology)
    if product is None:
        return None
    return AllergyEntry(
        ref=resource_key(resource) or "AllergyIntolerance/(no id)",
        display=display,
        ingredients=product.ingredients,
        clinical_status=status_code(resource.get("clinicalStatus")),
        verification_status=status_code(resource.get("verificationStatus")),
    )
