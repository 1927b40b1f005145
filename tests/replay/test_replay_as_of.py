"""Nothing later than the order leaks into its record; the window; the pure per-patient function.

The alt-6x-uln scenario (ALT 6x ULN and AST 4.5x ten days before the order: liver-enzymes critical) is
replayed with its order moved and the liver results placed before, after, or touched after the order.
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import orjson
import pytest

from benchmarks.bulk import Writer, scenarios
from cds_service.replay.evaluate import ReplayJob, replay_patient, replay_patient_lines
from cds_service.replay.needs import after, known_by
from cds_service.replay.run import replay

KEY = "k"
ORDER = "MedicationRequest/alt6x-nal-draft"


def _alt6x(order_at: str, lab_at: str, *, last_updated: str | None = None) -> list[dict]:
    scenario = next(s for s in scenarios() if s.name == "alt-6x-uln")
    resources = copy.deepcopy(list(scenario.resources))
    for r in resources:
        if r["resourceType"] == "MedicationRequest":
            r["authoredOn"] = order_at
        if r["resourceType"] == "Observation":  # ALT and AST
            r["effectiveDateTime"] = r["issued"] = lab_at
            if last_updated:
                r["meta"] = {"lastUpdated": last_updated}
    return resources


def _rules(resources: list[dict]) -> dict[str, str]:
    orders = replay_patient("pt-alt-6x-uln", resources, {}, ReplayJob(None, None, KEY))
    assert [o.order for o in orders] == [ORDER]
    return {c.rule: c.indicator for c in orders[0].cards}


def test_a_result_before_the_order_counts() -> None:
    rules = _rules(_alt6x("2026-06-01", "2026-05-20T09:05:00-05:00"))
    assert rules["liver-enzymes"] == "critical"
    assert "liver-tests-missing" not in rules


def test_a_result_recorded_after_the_order_does_not_leak() -> None:
    orders = replay_patient("pt-alt-6x-uln", _alt6x("2026-06-01", "2026-06-10T09:05:00-05:00"), {},
                            ReplayJob(None, None, KEY))
    rules = {c.rule: c.indicator for c in orders[0].cards}
    assert "liver-enzymes" not in rules
    assert rules["liver-tests-missing"] == "info"  # as of the order there was no ALT/AST
    assert orders[0].left_out == 2  # ALT and AST
    assert "liver tests (ALT, AST)" in orders[0].empty


def test_a_result_changed_after_the_order_is_left_out() -> None:
    # drawn before the order, but the exported version was written after it (meta.lastUpdated)
    rules = _rules(_alt6x("2026-06-01", "2026-05-20T09:05:00-05:00", last_updated="2026-06-03T08:00:00Z"))
    assert "liver-enzymes" not in rules and rules["liver-tests-missing"] == "info"


def test_instants_compare_as_instants_and_days_at_day_precision() -> None:
    assert _rules(_alt6x("2026-06-01T10:00:00Z", "2026-06-01T09:00:00Z"))["liver-enzymes"] == "critical"
    assert "liver-enzymes" not in _rules(_alt6x("2026-06-01T10:00:00Z", "2026-06-01T11:00:00Z"))
    # 06:30 in New York is 10:30 UTC: after a 10:00 UTC order
    assert "liver-enzymes" not in _rules(_alt6x("2026-06-01T10:00:00Z", "2026-06-01T06:30:00-04:00"))
    # a result dated the order's day, without a time, is not after an order of that day
    assert _rules(_alt6x("2026-06-01T10:00:00Z", "2026-06-01"))["liver-enzymes"] == "critical"
    assert after("2026-06-02", "2026-06-01T23:00:00Z") and not after("2026-06", "2026-06-15")
    assert after("2026-07", "2026-06-15") and not after("garbage", "2026-06-15")
    assert not known_by({"resourceType": "Condition", "recordedDate": "2026-06-02"}, "2026-06-01")
    assert known_by({"resourceType": "Condition", "onsetDateTime": "2026-05-02"}, "2026-06-01")


def test_window_and_status(tmp_path: Path) -> None:
    resources = _alt6x("2026-06-01", "2026-05-20T09:05:00-05:00")
    assert replay_patient("pt-alt-6x-uln", resources, {}, ReplayJob(date(2026, 6, 2), None, KEY)) == []
    assert replay_patient("pt-alt-6x-uln", resources, {}, ReplayJob(None, date(2026, 6, 1), KEY)) == []
    assert len(replay_patient("pt-alt-6x-uln", resources, {}, ReplayJob(date(2026, 6, 1), date(2026, 6, 2), KEY))) == 1
    entered = [dict(r, status="entered-in-error") if r["resourceType"] == "MedicationRequest" else r
               for r in resources]
    assert replay_patient("pt-alt-6x-uln", entered, {}, ReplayJob(None, None, KEY)) == []
    # through the command's function: --since / --until
    writer = Writer(tmp_path / "export", gz=False)
    for r in resources:
        writer.write(r)
    writer.close()
    inside = replay(tmp_path / "export", tmp_path / "a", since=date(2026, 5, 1), until=date(2026, 7, 1),
                    hash_key=KEY, show_progress=False)
    outside = replay(tmp_path / "export", tmp_path / "b", since=date(2026, 7, 1), hash_key=KEY, show_progress=False)
    assert (inside["orders_replayed"], outside["orders_replayed"]) == (1, 0)
    assert (tmp_path / "b" / "cards.ndjson").read_bytes() == b""
    # this small export has no MedicationStatement, MedicationDispense or AllergyIntolerance file: those
    # checks could not run, and the card says so (never an all clear)
    assert inside["per_month"] == [{"month": "2026-06", "orders": 1,
                                    "cards": {"data-incomplete": 1, "liver-enzymes": 1}}]
    # (the administrations template came with issue 11's pack change: the replay picked it up by itself)
    assert inside["data_missing"]["not_in_export"] == {
        "allergies": 1, "medication dispenses": 1, "medication statements (including over-the-counter use)": 1,
        "medication administrations (doses and injections given)": 1}


def test_the_function_is_pure_and_ignores_the_order_of_lines() -> None:
    lines = [orjson.dumps(r) for r in _alt6x("2026-06-01", "2026-05-20T09:05:00-05:00")]
    job = ReplayJob(None, None, KEY)
    first = replay_patient_lines("pt-alt-6x-uln", lines, {}, job)
    again = replay_patient_lines("pt-alt-6x-uln", list(reversed(lines)), {}, job)
    assert first == again and first[0].cards


@pytest.mark.parametrize("missing", ["Observation", "AllergyIntolerance"])
def test_a_type_missing_from_the_export_is_reported_not_all_clear(missing: str) -> None:
    resources = [r for r in _alt6x("2026-06-01", "2026-05-20T09:05:00-05:00") if r["resourceType"] != missing]
    orders = replay_patient("pt-alt-6x-uln", resources, {}, ReplayJob(None, None, KEY, frozenset({missing})))
    rules = {c.rule: c.indicator for c in orders[0].cards}
    assert rules["data-incomplete"] == "warning"
    category = {"Observation": "liver tests (ALT, AST)", "AllergyIntolerance": "allergies"}[missing]
    assert category in orders[0].unavailable


def _administered(order_at: str, given_at: str) -> list[dict]:
    """The morphine-administration scenario (morphine IV two days before a naltrexone order: opioid-washout
    critical, citing the MedicationAdministration) with the order and the dose moved."""
    scenario = next(s for s in scenarios() if s.name == "opioid-administration-2-days-naltrexone")
    resources = copy.deepcopy(list(scenario.resources))
    for r in resources:
        if r["resourceType"] == "MedicationRequest":
            r["authoredOn"] = order_at
        if r["resourceType"] == "MedicationAdministration":
            r["effectiveDateTime"] = given_at
    assert sum(r["resourceType"] == "MedicationAdministration" for r in resources) == 1
    return resources


def test_an_administration_is_rebuilt_as_of_the_order() -> None:
    """MedicationAdministrations reach the exposure model (`medicationAdministrations`) as of the order: a
    dose given before it counts, the same dose given after it does not leak into the order's record."""
    job = ReplayJob(None, None, KEY)
    patient = "pt-opioid-administration-2-days-naltrexone"
    order = "MedicationRequest/opioid-administration-2-days-naltrexone-nal-draft"
    before = replay_patient(patient, _administered("2026-11-25T10:00:00Z", "2026-11-23T03:40:00-05:00"), {}, job)
    assert [o.order for o in before] == [order]
    rules = {c.rule: c.indicator for c in before[0].cards}
    assert rules["opioid-washout"] == "critical"
    assert "opioid-washout: MedicationAdministration" in before[0].evidence
    # same day, but given after the order was signed (an instant against an instant)
    after_it = replay_patient(patient, _administered("2026-11-25T10:00:00Z", "2026-11-25T11:30:00Z"), {}, job)
    assert "opioid-washout" not in {c.rule for c in after_it[0].cards}
    assert after_it[0].left_out == 1


SITE_MAP = Path(__file__).parents[2] / "docs" / "site-conceptmap.example.json"
LOCAL_LAB = "https://lab.hospital.example.org/tests"  # the example map's laboratory: GPT -> ALT, GOT -> AST


def test_the_site_conceptmap_reads_local_lab_codes_in_the_export(tmp_path: Path) -> None:
    """Local lab codes (as a hospital's export holds them) reach the record only through the site's
    ConceptMap, as in the service: without it the ALT/AST are not liver tests, with it they are."""
    resources = _alt6x("2026-06-01", "2026-05-20T09:05:00-05:00")
    for r in resources:
        if r["resourceType"] == "Observation":
            alt = any(c.get("code") == "1742-6" for c in r["code"]["coding"])
            r["code"] = {"coding": [{"system": LOCAL_LAB, "code": "GPT" if alt else "GOT"}]}
    writer = Writer(tmp_path / "export", gz=False)
    for r in resources:
        writer.write(r)
    writer.close()

    def rules(out: str, site_map: Path | None) -> dict[str, str]:
        replay(tmp_path / "export", tmp_path / out, hash_key=KEY, show_progress=False, site_conceptmap=site_map)
        return {c["rule"]: c["indicator"] for c in map(orjson.loads, (tmp_path / out / "cards.ndjson")
                                                         .read_bytes().splitlines())}

    without = rules("plain", None)
    assert "liver-enzymes" not in without and without["liver-tests-missing"] == "info"
    mapped = rules("mapped", SITE_MAP)
    assert mapped["liver-enzymes"] == "critical" and "liver-tests-missing" not in mapped


def test_a_malformed_site_conceptmap_stops_the_replay_before_reading(tmp_path: Path) -> None:
    from cds_service.terminology.site_map import SiteMapError

    bad = tmp_path / "map.json"
    bad.write_text('{"resourceType": "ConceptMap", "group": [{"element": "nope"}]}')
    (tmp_path / "export").mkdir()
    with pytest.raises(SiteMapError, match="CDS_SITE_CONCEPTMAP"):
        replay(tmp_path / "export", tmp_path / "out", hash_key=KEY, show_progress=False, site_conceptmap=bad)
    assert not (tmp_path / "out").exists()
