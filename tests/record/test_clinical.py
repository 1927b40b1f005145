"""Conditions and labs as the rule catalogue's "Record filtering" reads them."""

from __future__ import annotations

from datetime import date

import pytest

from cds_service.record.build import build_record
from cds_service.record.clinical import Unreadable, condition_entry, lab_result
from cds_service.terminology import ICD10CM, LOINC, SNOMED, get_terminology

T = get_terminology()


def condition(code: str, system: str = ICD10CM, clinical: str | None = "active",
              verification: str | None = None) -> dict:
    c: dict = {"resourceType": "Condition", "id": "c", "code": {"coding": [{"system": system, "code": code}]}}
    if clinical:
        c["clinicalStatus"] = {"coding": [{"code": clinical}]}
    if verification:
        c["verificationStatus"] = {"coding": [{"code": verification}]}
    return c


@pytest.mark.parametrize(("resource", "counted", "active"), [
    (condition("K70.30"), True, True),
    (condition("K7030"), True, True),  # ICD-10-CM without the dot
    (condition("19943007", SNOMED, verification="entered-in-error"), False, None),
    (condition("19943007", SNOMED, verification="refuted"), False, None),
    (condition("B16.9", clinical="resolved"), True, False),
    (condition("I10"), False, None),  # hypertension: not a class the rules read
])
def test_condition_filtering(resource: dict, counted: bool, active: bool | None) -> None:
    entry = condition_entry(resource, T)
    assert (entry is not None) == counted
    if entry is not None:
        assert entry.is_active is active
        assert "severe-liver-disease" in entry.classes


def obs(code: str, **value: object) -> dict:
    return {"resourceType": "Observation", "id": "o", "status": "final", "effectiveDateTime": "2026-11-20T08:00:00Z",
            "code": {"coding": [{"system": LOINC, "code": code}]}, **value}


def test_enzyme_units_and_uln() -> None:
    lab = lab_result(obs("1920-8", valueQuantity={"value": 2.5, "unit": "µkat/L", "code": "ukat/L"},
                         referenceRange=[{"high": {"value": 0.67, "code": "ukat/L"}}]), T)
    assert lab is not None and lab.value == pytest.approx(150.0) and lab.unit == "U/L"
    assert lab.uln == pytest.approx(40.2) and lab.uln_source == "referenceRange"
    no_range = lab_result(obs("1742-6", valueQuantity={"value": 130, "unit": "U/L"}), T)
    assert no_range is not None and no_range.uln is None  # the rule applies the site default


def test_unreadable_values_are_reported_not_dropped() -> None:
    with pytest.raises(Unreadable):
        lab_result(obs("1742-6", valueQuantity="high"), T)
    with pytest.raises(Unreadable):
        lab_result(obs("1742-6", valueQuantity={"value": 5, "unit": "mg/dL"}), T)


@pytest.mark.parametrize(("value", "positive"), [
    ({"interpretation": [{"coding": [{"code": "POS"}]}]}, True),
    ({"interpretation": [{"coding": [{"code": "NEG"}]}]}, False),
    ({"valueString": "Positive"}, True),
    ({"valueString": "not detected"}, False),
    ({"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "10828004"}]}}, True),
    ({"valueCodeableConcept": {"text": "Negative"}}, False),
    ({"valueString": "see comment"}, None),
])
def test_urine_screen_results(value: dict, positive: bool | None) -> None:
    lab = lab_result(obs("19295-5", **value), T)
    assert lab is not None and "urine-opioid-screen" in lab.classes and lab.positive is positive


@pytest.mark.parametrize("status", ["preliminary", "cancelled", "entered-in-error", "unknown"])
def test_uncounted_observation_statuses(status: str) -> None:
    assert lab_result(dict(obs("1742-6", valueQuantity={"value": 300, "unit": "U/L"}), status=status), T) is None


def test_one_malformed_resource_does_not_hide_the_others() -> None:
    resources = [obs("1742-6", valueQuantity="high"), condition("K70.30"),
                 {"resourceType": "Condition", "id": "broken", "code": 12, "clinicalStatus": []}]
    record = build_record("p", resources, [], date(2026, 11, 25), T)
    assert [c.ref for c in record.active_conditions("cirrhosis")] == ["Condition/c"]
    assert record.skipped_resources.refs() == ["Observation/o"]


def test_labs_beyond_the_history_horizon_are_not_read() -> None:
    old_bad = dict(obs("1742-6", valueQuantity="high"), id="old", effectiveDateTime="2024-01-10T08:00:00Z")
    recent = dict(obs("1742-6", valueQuantity={"value": 30, "unit": "U/L"}), id="recent")
    old_good = dict(obs("1742-6", valueQuantity={"value": 30, "unit": "U/L"}), id="older",
                    effectiveDateTime="2025-12-01T08:00:00Z")
    record = build_record("p", [old_bad, recent, old_good], [], date(2026, 11, 25), T, history_days=365)
    assert [lab.ref for lab in record.labs] == ["Observation/recent", "Observation/older"]
    assert not record.skipped_resources  # a malformed result older than every look-back is not a missing check
    everything = build_record("p", [old_bad, recent], [], date(2026, 11, 25), T)
    assert everything.skipped_resources.refs() == ["Observation/old"]
