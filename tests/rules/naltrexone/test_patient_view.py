"""naltrexone-patient-view: every fixture scenario through HTTP, the cheap path for a patient not on naltrexone,
and the rules on hand-built records at their threshold boundaries."""

from __future__ import annotations

import json

import pytest

from cds_service.rules.base import OrderCheck
from cds_service.rules.engine import evaluate, patient_scope
from cds_service.rules.naltrexone import patient_view as pv
from cds_service.rules.naltrexone.config import NaltrexoneConfig
from cds_service.rules.naltrexone.pack import NaltrexonePack
from tests.conftest import FIXTURES, Client
from tests.rules.naltrexone import records as r
from tests.rules.test_scenarios import check_expectations

PV = FIXTURES / "patient-view"
SERVICE = "naltrexone-patient-view"


def scenario_ids() -> list[str]:
    return json.loads((PV / "index.json").read_text())


def load(scenario: str, name: str) -> dict:
    return json.loads((PV / scenario / name).read_text())


@pytest.mark.parametrize("scenario", scenario_ids())
def test_scenario(client: Client, scenario: str) -> None:
    response = client.post(f"/cds-services/{SERVICE}", json=load(scenario, "patient-view.json"))
    assert response.status_code == 200, response.text
    check_expectations(response.json(), load(scenario, "expected.json")["patient-view"], scenario)


def _medication_only(request: dict) -> dict:
    request["prefetch"] = {k: v for k, v in request["prefetch"].items() if k.startswith("medication")}
    request.pop("fhirServer", None)
    return request


def test_not_on_naltrexone_answers_without_reading_labs(client: Client) -> None:
    """Only the medication keys are sent (no labs, no conditions, no FHIR access): no cards, not a 412."""
    request = _medication_only(load("pv-not-on-naltrexone", "patient-view.json"))
    response = client.post(f"/cds-services/{SERVICE}", json=request)
    assert response.status_code == 200 and response.json() == {"cards": []}


def test_on_naltrexone_the_rest_is_read(client: Client) -> None:
    request = _medication_only(load("pv-oral-monitoring-due", "patient-view.json"))
    response = client.post(f"/cds-services/{SERVICE}", json=request)
    assert response.status_code == 412
    assert "conditions, liverTests" in response.json()["issue"][0]["diagnostics"]


def test_discovery_advertises_only_what_patient_view_reads(client: Client) -> None:
    services = {s["id"]: s for s in client.get("/cds-services").json()["services"]}
    assert services[SERVICE]["hook"] == "patient-view"
    assert list(services[SERVICE]["prefetch"]) == ["conditions", "medicationRequests", "medicationStatements",
                                                   "medicationDispenses", "medicationAdministrations", "liverTests"]


def test_an_injection_with_a_partial_date_counts_from_its_earliest_day(client: Client) -> None:
    """`2026-09` (month only) may mean any day of September: the lapse is counted from 1 September (day 85 on
    25 November: the overdose-risk warning), the card stays while 30 September (day 56) is within the lapse
    window, and it says the date was imprecise and how it was counted."""
    request = load("pv-xr-lapsed", "patient-view.json")
    [entry] = request["prefetch"]["medicationAdministrations"]["entry"]
    entry["resource"]["effectiveDateTime"] = "2026-09"
    body = client.post(f"/cds-services/{SERVICE}", json=request).json()
    [due] = [c for c in body["cards"] if c["source"]["topic"]["code"] == "xr-naltrexone-due"]
    assert due["indicator"] == "warning"
    assert "injection 2026-09-01, **85 days ago**" in due["detail"]
    assert "(2026-09-01 to 2026-09-30): the interval is counted from 2026-09-01" in due["detail"]
    assert "**imprecise date**: effectiveDateTime recorded as `2026-09`" in due["detail"]


def test_an_imprecise_injection_date_never_postpones_the_lapse_warning(client: Client) -> None:
    """`2026-10`, on 25 November: if it was given on 31 October it is day 25 (nothing due yet), but if on
    1 October the interval ran out on 31 October (day 55): the overdose-risk warning, not silence."""
    request = load("pv-xr-lapsed", "patient-view.json")
    [entry] = request["prefetch"]["medicationAdministrations"]["entry"]
    entry["resource"]["effectiveDateTime"] = "2026-10"
    body = client.post(f"/cds-services/{SERVICE}", json=request).json()
    [due] = [c for c in body["cards"] if c["source"]["topic"]["code"] == "xr-naltrexone-due"]
    assert due["indicator"] == "warning"
    assert due["summary"].startswith("Naltrexone injection overdue (55 days)")
    assert "the 30-day interval ended 2026-10-31" in due["detail"]


def test_lab_failure_after_the_gate_is_reported_not_a_412(client: Client) -> None:
    request = load("pv-oral-monitoring-due", "patient-view.json")
    request["prefetch"]["liverTests"] = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "timeout", "diagnostics": "lab system down"}]}
    body = client.post(f"/cds-services/{SERVICE}", json=request).json()
    assert [(c["source"]["topic"]["code"], c["indicator"]) for c in body["cards"]] == [("data-incomplete", "warning")]
    assert "`liver-monitoring-due`" in body["cards"][0]["detail"]


# --- rules on hand-built records ------------------------------------------------------------------------------

def _run(rule, rec, config=None):
    pack = NaltrexonePack(config)
    check = patient_scope(pack, "patient-view")
    assert check is not None and check.therapy is not None
    therapy = check.therapy(rec)
    if not therapy:
        return None
    found = evaluate(pack, rec, [OrderCheck(therapy[0], (rule,), rule.info.needs)], rec.patient_id, None).findings
    return found[0].indicator if found else None


def _xr(days_ago: int):
    return r.use("MedicationStatement/xr", r.VIVITROL, status="completed", start=r.ago(days_ago),
                 end=r.ago(days_ago))


@pytest.mark.parametrize(("days", "expected"), [(25, None), (26, "info"), (29, "info"), (30, "warning"),
                                                 (60, "warning"), (61, None)])
def test_xr_due_boundaries(days: int, expected: str | None) -> None:
    assert _run(pv.xr_naltrexone_due, r.record(medications=[_xr(days)])) == expected


def test_xr_due_follows_the_config() -> None:
    config = NaltrexoneConfig(xr_next_dose_from_day=20, xr_naltrexone_days=28, xr_lapse_notice_days=7)
    assert _run(pv.xr_naltrexone_due, r.record(medications=[_xr(20)]), config) == "info"
    assert _run(pv.xr_naltrexone_due, r.record(medications=[_xr(28)]), config) == "warning"
    assert _run(pv.xr_naltrexone_due, r.record(medications=[_xr(36)]), config) is None


def _oral(started: int):
    return r.use("MedicationRequest/ntx", r.NALTREXONE_50, current=True, start=r.ago(started))


@pytest.mark.parametrize(("started", "expected"), [(27, None), (28, "info")])
def test_first_follow_up_due_28_days_after_the_start(started: int, expected: str | None) -> None:
    rec = r.record(medications=[_oral(started)], labs=[r.liver_lab("Observation/b", "alt", 20, r.ago(started + 2))])
    assert _run(pv.liver_monitoring_due, rec) == expected


@pytest.mark.parametrize(("last", "expected"), [(89, None), (90, "info")])
def test_then_every_90_days(last: int, expected: str | None) -> None:
    rec = r.record(medications=[_oral(200)], labs=[r.liver_lab("Observation/l", "alt", 20, r.ago(last))])
    assert _run(pv.liver_monitoring_due, rec) == expected


@pytest.mark.parametrize(("value", "expected"), [(119, None), (120, "warning"), (199, "warning"),
                                                  (200, "critical")])
def test_liver_enzymes_on_naltrexone_uln_boundaries(value: float, expected: str | None) -> None:
    rec = r.record(medications=[_oral(60)], labs=[r.liver_lab("Observation/l", "alt", value, r.ago(2))])
    assert _run(pv.liver_enzymes_on_naltrexone, rec) == expected


@pytest.mark.parametrize(("value", "expected"), [(59, None), (60, "warning")])
def test_liver_enzymes_against_the_pre_treatment_baseline(value: float, expected: str | None) -> None:
    labs = [r.liver_lab("Observation/base", "alt", 20, r.ago(70)), r.liver_lab("Observation/l", "alt", value,
                                                                               r.ago(2))]
    rec = r.record(medications=[_oral(60)], labs=labs)
    assert _run(pv.liver_enzymes_on_naltrexone, rec) == expected


def test_a_critical_result_suggests_stopping_naltrexone() -> None:
    rec = r.record(medications=[_oral(60)], labs=[r.liver_lab("Observation/l", "alt", 250, r.ago(2))])
    finding = pv.liver_enzymes_on_naltrexone(r.context(rec, _oral(60)))
    assert finding is not None and finding.indicator == "critical"
    assert finding.suggestions[-1].label.startswith("Order hepatic function panel")


def test_oral_naltrexone_blocks_for_about_72_hours() -> None:
    ended = r.use("MedicationRequest/ntx", r.NALTREXONE_50, status="completed", start=r.ago(40), end=r.ago(3))
    opioid = r.use("MedicationRequest/oxy", r.OXYCODONE, current=True, start=r.ago(1))
    assert _run(pv.opioid_on_naltrexone, r.record(medications=[ended, opioid])) == "critical"
    ended = r.use("MedicationRequest/ntx", r.NALTREXONE_50, status="completed", start=r.ago(40), end=r.ago(4))
    assert _run(pv.opioid_on_naltrexone, r.record(medications=[ended, opioid])) is None


def test_peripheral_opioid_only_is_a_warning() -> None:
    loperamide = r.use("MedicationStatement/lop", r.LOPERAMIDE, current=True)
    assert _run(pv.opioid_on_naltrexone, r.record(medications=[_oral(30), loperamide])) == "warning"
