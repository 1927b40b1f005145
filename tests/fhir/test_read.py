"""The tolerant FHIR readers that more than one step uses."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from cds_service.fhir.read import date_span, pruned


def test_pruned_drops_what_fhir_json_forbids_at_every_level() -> None:
    resource = {
        "resourceType": "MedicationRequest", "id": "mr-1", "status": "active", "note": None, "text": "",
        "identifier": [], "meta": {}, "reasonCode": [{"coding": [{"system": None, "code": ""}]}, None, ""],
        "dosageInstruction": [{"sequence": 0, "asNeededBoolean": False, "text": "daily", "timing": {"code": {}}}],
        "dispenseRequest": {"quantity": {"value": 0.0, "unit": ""}},
    }
    original = copy.deepcopy(resource)
    assert pruned(resource) == {
        "resourceType": "MedicationRequest", "id": "mr-1", "status": "active",
        # zero and false are values; an object left empty by pruning goes too
        "dosageInstruction": [{"sequence": 0, "asNeededBoolean": False, "text": "daily"}],
        "dispenseRequest": {"quantity": {"value": 0.0}},
    }
    assert resource == original  # a copy: the request's resource is untouched


def test_pruned_leaves_scalars_and_keeps_list_order() -> None:
    assert pruned("x") == "x" and pruned(0) == 0 and pruned(None) is None
    assert pruned([3, None, [], 1, {"a": None}, {"b": 2}]) == [3, 1, {"b": 2}]


@pytest.mark.parametrize(("value", "earliest", "latest", "precision"), [
    ("2026", date(2026, 1, 1), date(2026, 12, 31), "year"),
    ("2026-11", date(2026, 11, 1), date(2026, 11, 30), "month"),
    ("2026-12", date(2026, 12, 1), date(2026, 12, 31), "month"),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "month"),
    ("2026-11-20", date(2026, 11, 20), date(2026, 11, 20), "day"),
    ("2026-11-20T10:00:00+01:00", date(2026, 11, 20), date(2026, 11, 20), "day"),
    ("2026-11-18T23:30:00-08:00", date(2026, 11, 18), date(2026, 11, 19), "zone"),
    ("2026-11-19T00:30:00+02:00", date(2026, 11, 18), date(2026, 11, 19), "zone"),
    ("2026-11-19T23:30:00Z", date(2026, 11, 19), date(2026, 11, 19), "day"),
])
def test_date_span_keeps_precision(value: str, earliest: date, latest: date, precision: str) -> None:
    span = date_span(value)
    assert span is not None
    assert (span.earliest, span.latest, span.precision) == (earliest, latest, precision)
    assert span.precise == (earliest == latest)


@pytest.mark.parametrize("value", ["2026-13", "20261", "2026-11-31", "yesterday", 2026, None, "2026-11-20T25:00:00Z"])
def test_date_span_of_garbage_is_none(value: object) -> None:
    assert date_span(value) is None


def test_an_imprecise_span_reaching_past_today_ends_today() -> None:
    today = date(2026, 11, 25)
    assert date_span("2026-11").clipped(today).latest == today  # type: ignore[union-attr]
    assert date_span("2026-10").clipped(today).latest == date(2026, 10, 31)  # type: ignore[union-attr]
    assert date_span("2026-12").clipped(today).earliest == date(2026, 12, 1)  # type: ignore[union-attr]
