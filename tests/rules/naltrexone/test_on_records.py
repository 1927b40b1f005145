"""Rules on hand-built `PatientRecord`s (no FHIR, no HTTP): verdicts at every threshold boundary, and the data
the rules stay silent without (keyed by prefetch key, never by the category's wording)."""

from __future__ import annotations

import pytest

from cds_service.rules.naltrexone import liver, overdose, urine, washout
from cds_service.rules.naltrexone import prefetch as k
from cds_service.rules.naltrexone.config import NaltrexoneConfig
from tests.rules.naltrexone import records as r

OUD = [r.condition("Condition/oud", "opioid-use-disorder")]


def _ended(days: int, rxcui: str = r.OXYCODONE):
    return r.use("MedicationRequest/old", rxcui, status="stopped", start=r.ago(days + 30), end=r.ago(days))


def indicator(rule, rec, order=None, config=None):
    """The rule's verdict as the engine runs it (a rule whose required data is unavailable does not run)."""
    from cds_service.rules.base import OrderCheck
    from cds_service.rules.engine import evaluate
    from cds_service.rules.naltrexone.pack import NaltrexonePack

    check = OrderCheck(order or r.naltrexone_draft(), (rule,), rule.info.needs)
    found = evaluate(NaltrexonePack(config), rec, [check], rec.patient_id, None).findings
    return found[0].indicator if found else None


@pytest.mark.parametrize(("days", "expected"), [(0, "critical"), (6, "critical"), (7, "warning"), (10, "warning"),
                                                 (11, None)])
def test_washout_boundaries(days: int, expected: str | None) -> None:
    assert indicator(washout.opioid_washout, r.record(medications=[_ended(days)])) == expected


@pytest.mark.parametrize(("days", "expected"), [(11, "warning"), (13, "warning"), (14, None)])
def test_washout_after_buprenorphine(days: int, expected: str | None) -> None:
    """Buprenorphine: withdrawal can be precipitated for fewer than `maintenance_free_days` (14) days."""
    rec = r.record(medications=[_ended(days, r.BUPRENORPHINE_NALOXONE)])
    assert indicator(washout.opioid_washout, rec) == expected


def test_washout_boundaries_follow_the_config() -> None:
    config = NaltrexoneConfig(opioid_free_days=10, opioid_free_full_days=14)
    assert indicator(washout.opioid_washout, r.record(medications=[_ended(9)]), config=config) == "critical"
    assert indicator(washout.opioid_washout, r.record(medications=[_ended(14)]), config=config) == "warning"
    assert indicator(washout.opioid_washout, r.record(medications=[_ended(15)]), config=config) is None


@pytest.mark.parametrize(("value", "expected"), [(40, None), (41, "info"), (119, "info"), (120, "warning"),
                                                  (199, "warning"), (200, "critical")])
def test_liver_enzyme_boundaries(value: float, expected: str | None) -> None:
    """ULN 40: above ULN info, ≥ 3× warning, ≥ 5× critical."""
    rec = r.record(labs=[r.liver_lab("Observation/alt", "alt", value, r.ago(10))])
    assert indicator(liver.liver_enzymes, rec) == expected


@pytest.mark.parametrize(("days", "expected"), [(90, None), (91, "info")])
def test_liver_tests_missing_lookback(days: int, expected: str | None) -> None:
    rec = r.record(labs=[r.liver_lab("Observation/alt", "alt", 20, r.ago(days))])
    assert indicator(liver.liver_tests_missing, rec) == expected


@pytest.mark.parametrize(("days", "expected"), [(14, "critical"), (15, None)])
def test_positive_urine_screen_lookback(days: int, expected: str | None) -> None:
    rec = r.record(labs=[r.urine_screen("Observation/u", True, r.ago(days))])
    assert indicator(urine.urine_screen_positive, rec) == expected


@pytest.mark.parametrize(("days", "expected"), [(7, None), (8, "warning")])
def test_negative_urine_screen_lookback(days: int, expected: str | None) -> None:
    rec = r.record(conditions=OUD, labs=[r.urine_screen("Observation/u", False, r.ago(days))])
    assert indicator(urine.urine_screen_needed, rec) == expected


def test_urine_needed_beside_a_positive_screen_is_site_policy() -> None:
    rec = r.record(conditions=OUD, labs=[r.urine_screen("Observation/u", True, r.ago(2))])
    assert indicator(urine.urine_screen_needed, rec) is None
    config = NaltrexoneConfig(urine_needed_silent_when_positive=False)
    assert indicator(urine.urine_screen_needed, rec, config=config) == "warning"


@pytest.mark.parametrize("key", [k.MEDICATION_REQUESTS, k.MEDICATION_STATEMENTS])
def test_overdose_risk_is_silent_when_medication_data_is_unavailable(key: str) -> None:
    assert indicator(overdose.overdose_risk, r.record(conditions=OUD)) == "warning"
    rec = r.record(conditions=OUD, unavailable={key: "timed out"})
    assert indicator(overdose.overdose_risk, rec) is None


def test_unavailable_is_keyed_by_prefetch_key_not_by_wording(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rewording a category (what the clinician reads) changes no verdict."""
    monkeypatch.setitem(k.CATEGORIES, k.URINE_SCREENS, ("urine toxicology", ("Observation",)))
    monkeypatch.setitem(k.CATEGORIES, k.MEDICATION_REQUESTS, ("prescriptions", ("MedicationRequest",)))
    rec = r.record(conditions=OUD, unavailable={k.URINE_SCREENS: "denied", k.MEDICATION_REQUESTS: "denied"})
    assert indicator(urine.urine_screen_needed, rec) is None
    assert indicator(overdose.overdose_risk, rec) is None
    from cds_service.rules.engine import evaluate, order_checks
    from cds_service.rules.naltrexone.pack import NaltrexonePack

    pack = NaltrexonePack()
    findings = evaluate(pack, rec, order_checks(pack, "order-sign", [r.naltrexone_draft()]), rec.patient_id,
                        None).findings
    incomplete = [f for f in findings if f.rule_id == "data-incomplete"]
    assert "**urine toxicology** could not be obtained: denied" in incomplete[0].detail
    assert not {"overdose-risk", "urine-screen-needed"} & {f.rule_id for f in findings}
