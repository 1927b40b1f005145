"""Medication understanding: ingredients, exposure windows, daily dose."""

from __future__ import annotations

from datetime import date

import pytest

from cds_service.record.build import medication_index
from cds_service.record.medications import MedicationIndex, daily_dose, exposure, medication_use
from cds_service.terminology import RXNORM, get_terminology

TODAY = date(2026, 11, 25)
T = get_terminology()


def mr(code: str | None = None, text: str | None = None, status: str = "active", **extra: object) -> dict:
    concept: dict = {}
    if code:
        concept["coding"] = [{"system": RXNORM, "code": code}]
    if text:
        concept["text"] = text
    return {"resourceType": "MedicationRequest", "id": "m1", "status": status, "intent": "order",
            "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": concept, **extra}


def dosage(value: float, unit: str, frequency: int = 1, period: float = 1, period_unit: str = "d") -> list:
    return [{"timing": {"repeat": {"frequency": frequency, "period": period, "periodUnit": period_unit}},
             "doseAndRate": [{"doseQuantity": {"value": value, "code": unit}}]}]


@pytest.mark.parametrize(("dose", "expected"), [
    (dosage(1, "{pill}"), 50.0),  # 1 tablet x 50 mg, once a day (the Sandbox's order)
    (dosage(2, "{tbl}"), 100.0),
    (dosage(25, "mg"), 25.0),
    (dosage(50, "mg", frequency=1, period=2), 25.0),  # every other day
    (dosage(0.5, "{pill}", frequency=2), 50.0),
])
def test_daily_naltrexone_dose(dose: list, expected: float) -> None:
    use = medication_use(mr("1483744", dosageInstruction=dose), MedicationIndex({}), T, TODAY, draft=True)
    assert use is not None
    assert use.daily_mg("naltrexone") == pytest.approx(expected)


def test_text_only_low_dose_takes_strength_from_text() -> None:
    use = medication_use(mr(text="Naltrexone 4.5 mg compounded capsule", dosageInstruction=dosage(1, "{capsule}")),
                         MedicationIndex({}), T, TODAY, draft=True)
    assert use is not None and use.matched_by == "text"
    assert use.daily_mg("naltrexone") == pytest.approx(4.5)


def test_unknown_dose_unit_is_not_guessed() -> None:
    assert daily_dose(mr("1483744", dosageInstruction=dosage(3, "teaspoon"))) == (None, None)


def test_exposure_windows() -> None:
    request = mr("1049621", status="completed", authoredOn="2026-09-26",
                 dispenseRequest={"expectedSupplyDuration": {"value": 5, "code": "d"}})
    assert (exposure(request).start, exposure(request).end) == (date(2026, 9, 26), date(2026, 9, 30))
    statement = {"resourceType": "MedicationStatement", "status": "completed",
                 "effectivePeriod": {"start": "2026-11-01", "end": "2026-11-22T10:00:00Z"}}
    assert (exposure(statement).start, exposure(statement).end) == (date(2026, 11, 1), date(2026, 11, 22))
    dispense = {"resourceType": "MedicationDispense", "status": "completed", "whenHandedOver": "2026-11-15",
                "daysSupply": {"value": 5}}
    assert (exposure(dispense).start, exposure(dispense).end) == (date(2026, 11, 15), date(2026, 11, 19))


@pytest.mark.parametrize(("status", "current", "counted"), [
    ("active", True, True), ("on-hold", True, True), ("completed", False, True), ("stopped", False, True),
    ("entered-in-error", None, False), ("cancelled", None, False), ("draft", None, False),
])
def test_request_status_filtering(status: str, current: bool | None, counted: bool) -> None:
    use = medication_use(mr("1049621", status=status), MedicationIndex({}), T, TODAY)
    assert (use is not None) == counted
    if use is not None:
        assert use.is_current is current


def test_embeda_is_an_opioid_not_naltrexone_therapy() -> None:
    use = medication_use(mr("863845"), MedicationIndex({}), T, TODAY)
    assert use is not None and use.has("opioid") and not use.has("opioid-antagonist-therapy")


def test_contained_and_bundled_medications() -> None:
    contained = mr(None)
    contained.pop("medicationCodeableConcept")
    contained["medicationReference"] = {"reference": "#med1"}
    contained["contained"] = [{"resourceType": "Medication", "id": "med1",
                               "code": {"coding": [{"system": RXNORM, "code": "637213"}]}}]
    use = medication_use(contained, MedicationIndex({}), T, TODAY, draft=True)
    assert use is not None and use.matched_by == "reference" and use.has("opioid-antagonist-therapy")
    assert "extended-release-injection" in use.product_classes

    by_ingredient = {"resourceType": "Medication", "id": "nal50", "ingredient": [{
        "itemCodeableConcept": {"coding": [{"system": RXNORM, "code": "7243", "display": "naltrexone"}]},
        "strength": {"numerator": {"value": 50, "code": "mg"}, "denominator": {"value": 1, "code": "{tbl}"}}}]}
    bundled = dict(contained, contained=[], medicationReference={"reference": "Medication/nal50"},
                   dosageInstruction=dosage(1, "{tbl}"))
    use = medication_use(bundled, medication_index([by_ingredient]), T, TODAY, draft=True)
    assert use is not None and use.has("opioid-antagonist-therapy")
    assert use.daily_mg("naltrexone") == pytest.approx(50.0)


def test_unresolvable_reference_falls_back_to_its_display() -> None:
    request = mr(None)
    request.pop("medicationCodeableConcept")
    request["medicationReference"] = {"reference": "Medication/elsewhere", "display": "Oxycodone 5 mg tablet"}
    use = medication_use(request, MedicationIndex({}), T, TODAY)
    assert use is not None and use.matched_by == "text" and use.has("opioid")


def test_past_use_beyond_the_history_horizon_is_not_read() -> None:
    horizon = date(2025, 11, 25)
    ended_long_ago = mr("1049621", status="completed", authoredOn="2024-01-02",
                        dispenseRequest={"expectedSupplyDuration": {"value": 5, "code": "d"}})
    ended_recently = dict(ended_long_ago, authoredOn="2026-08-01")
    still_active = dict(ended_long_ago, status="active")  # current use is always read, however old the order
    assert medication_use(ended_long_ago, MedicationIndex({}), T, TODAY, not_before=horizon) is None
    assert medication_use(ended_recently, MedicationIndex({}), T, TODAY, not_before=horizon) is not None
    assert medication_use(still_active, MedicationIndex({}), T, TODAY, not_before=horizon) is not None
    assert medication_use(ended_long_ago, MedicationIndex({}), T, TODAY) is not None


def test_an_unresolved_medication_is_a_field_not_a_display_prefix() -> None:
    """A reference the request does not hold: `matched_by` says so; the display is the reference itself."""
    from cds_service.record.build import build_record

    resource = {"resourceType": "MedicationRequest", "id": "m9", "status": "active", "intent": "order",
                "subject": {"reference": "Patient/p"}, "medicationReference": {"reference": "Medication/elsewhere"}}
    use = medication_use(resource, MedicationIndex({}), T, TODAY)
    assert use is not None and use.matched_by == "unresolved" and use.display == "Medication/elsewhere"
    record = build_record("p", [resource], [], TODAY, T)
    assert use.unresolved_reference == "Medication/elsewhere"
    [group] = record.skipped_resources.groups()
    assert (group.resource_type, group.reason, group.first_refs) == (
        "MedicationRequest", "its medication (Medication/elsewhere) could not be read", ["MedicationRequest/m9"])


def test_partial_end_counts_at_its_latest_day_and_says_so() -> None:
    today = date(2026, 11, 25)
    statement = {"resourceType": "MedicationStatement", "status": "completed",
                 "effectivePeriod": {"start": "2026-10", "end": "2026-11"}}
    seen = exposure(statement, today)
    assert (seen.start, seen.end, seen.event) == (date(2026, 10, 1), today, today)
    assert seen.notes and "`2026-11`" in seen.notes[0] and "the month only" in seen.notes[0]
    dispense = {"resourceType": "MedicationDispense", "status": "completed", "whenHandedOver": "2026-10",
                "daysSupply": {"value": 30}}
    assert exposure(dispense, today).end == date(2026, 11, 29)  # handed over as late as 31 October
    precise = {"resourceType": "MedicationStatement", "status": "completed", "effectiveDateTime": "2026-11-20"}
    assert exposure(precise, today).notes == ()


@pytest.mark.parametrize(("status", "counted"), [("completed", True), ("in-progress", True), ("stopped", True),
                                                 ("on-hold", True), ("not-done", False), ("entered-in-error", False),
                                                 ("unknown", False)])
def test_administration_statuses(status: str, counted: bool) -> None:
    from cds_service.record.medications import MedicationIndex, medication_use
    from cds_service.terminology import get_terminology

    administration = {"resourceType": "MedicationAdministration", "id": "a1", "status": status,
                      "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                                "code": "637213"}]},
                      "effectiveDateTime": "2026-11-20T10:00:00-05:00"}
    use = medication_use(administration, MedicationIndex({}), get_terminology(), date(2026, 11, 25))
    assert (use is not None) == counted
    if use is not None:
        assert not use.is_current and use.end == use.event == date(2026, 11, 20)
        assert "extended-release-injection" in use.product_classes


def test_a_malformed_medication_element_is_unreadable_not_unknown() -> None:
    from cds_service.record.medications import MedicationIndex, Unreadable, medication_use
    from cds_service.terminology import get_terminology

    bad = {"resourceType": "MedicationRequest", "id": "m5", "status": "active", "medicationCodeableConcept": 5}
    with pytest.raises(Unreadable, match="MedicationRequest/m5: medicationCodeableConcept"):
        medication_use(bad, MedicationIndex({}), get_terminology(), date(2026, 11, 25))
