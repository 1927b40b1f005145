"""Card text reads every threshold from the config: changing any threshold changes every sentence naming it.

Every rule that declares thresholds is run, on a hand-built record, with the default config (A) and with every
threshold moved (B) to a value that keeps the same verdict. In B's text no default value may be left where a
threshold is named, and each place A names a threshold, B names the new value. What the labeling itself says
(`wording.LABEL_FACTS`) is a fact of the source, not site policy, and is left out of the comparison.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from cds_service.record.model import MedicationUse, PatientRecord
from cds_service.rules.base import Finding, rule_info
from cds_service.rules.naltrexone import wording as w
from cds_service.rules.naltrexone.config import NaltrexoneConfig
from cds_service.rules.naltrexone.pack import RULES as PACK_RULES
from tests.rules.naltrexone import records as r

# citations that name a fixed number of their source, not a site threshold: the ASAM guideline, and the source
# document's own age (which the default minimum age copies)
CITED_FACTS = (*w.LABEL_FACTS, "extended-release naltrexone 30 days before planned opioid use",
               "stop oral naltrexone 72 hours", "younger than 20")

B = NaltrexoneConfig(
    opioid_free_days=9, opioid_free_full_days=11, maintenance_free_days=17, urine_positive_lookback_days=16,
    urine_negative_lookback_days=6, opioid_history_lookback_days=95, liver_test_lookback_days=85,
    liver_warning_uln_multiple=2.5, liver_critical_uln_multiple=4.5, liver_baseline_multiple=3.5,
    liver_monitoring_first_days=35, liver_monitoring_interval_days=100, alt_default_uln=45, ast_default_uln=45,
    minimum_age=22, low_dose_max_mg=6, xr_naltrexone_days=33, history_days=400, xr_next_dose_from_day=24,
    xr_lapse_notice_days=35, oral_naltrexone_block_hours=96,
)


def _days(v: float) -> str:
    return rf"(?<![\d.]){v:g}(?=(?:-\d+)?[- ](?:opioid-free )?days?\b(?! ago))"


KINDS: dict[str, Callable[[float], str]] = {
    "days": _days,
    "multiple": lambda v: rf"(?<![\d.]){v:g}×",
    "uln": lambda v: rf"ULN {v:g} U/L",
    "age": lambda v: rf"(?<![\d.\-]){v:g}(?![\d.])",
    "mg": lambda v: rf"(?<![\d.]){v:g} mg/day",
    "day": lambda v: rf"\bday {v:g}\b",
    "hours": lambda v: rf"(?<![\d.]){v:g} hours",
}
# how each threshold is written in a card (None: it changes verdicts, never words)
KIND = {
    "opioid_free_days": "days", "opioid_free_full_days": "days", "maintenance_free_days": "days",
    "urine_positive_lookback_days": "days", "urine_negative_lookback_days": "days",
    "opioid_history_lookback_days": "days", "liver_test_lookback_days": "days",
    "liver_monitoring_first_days": "days", "liver_monitoring_interval_days": "days", "xr_naltrexone_days": "days",
    "liver_warning_uln_multiple": "multiple", "liver_critical_uln_multiple": "multiple",
    "liver_baseline_multiple": "multiple", "alt_default_uln": "uln", "ast_default_uln": "uln",
    "minimum_age": "age", "low_dose_max_mg": "mg", "urine_needed_silent_when_positive": None,
    "history_days": None, "xr_next_dose_from_day": "day", "xr_lapse_notice_days": "days",
    "oral_naltrexone_block_hours": "hours",
}


@dataclass(frozen=True)
class Case:
    rule_id: str
    name: str
    record: Callable[[], PatientRecord]
    order: Callable[[], MedicationUse]
    indicator: str


NTX = r.naltrexone_draft
OXY_DRAFT = lambda: r.use("MedicationRequest/oxy-draft", r.OXYCODONE, draft=True)  # noqa: E731


def _oud() -> list:
    return [r.condition("Condition/oud", "opioid-use-disorder")]


def _ended(days: int, rxcui: str = r.OXYCODONE, ref: str = "MedicationRequest/old") -> MedicationUse:
    return r.use(ref, rxcui, status="stopped", start=r.ago(days + 30), end=r.ago(days))


CASES = [
    Case("opioid-concurrent", "current oxycodone",
         lambda: r.record(medications=[r.use("MedicationRequest/oxy", r.OXYCODONE, current=True)]), NTX, "critical"),
    Case("opioid-washout", "ended 3 days ago", lambda: r.record(medications=[_ended(3)]), NTX, "critical"),
    Case("opioid-washout", "ended 10 days ago", lambda: r.record(medications=[_ended(10)]), NTX, "warning"),
    Case("opioid-washout", "buprenorphine ended 12 days ago",
         lambda: r.record(medications=[_ended(12, r.BUPRENORPHINE_NALOXONE)]), NTX, "warning"),
    Case("urine-screen-positive", "positive 3 days ago",
         lambda: r.record(labs=[r.urine_screen("Observation/u", True, r.ago(3))]), NTX, "critical"),
    Case("urine-screen-needed", "OUD and oxycodone 20 days ago",
         lambda: r.record(conditions=_oud(), medications=[_ended(20)]), NTX, "warning"),
    Case("liver-enzymes", "ALT 6.2x", lambda: r.record(labs=[r.liver_lab("Observation/alt", "alt", 217, r.ago(5),
                                                                       uln=35)]), NTX, "critical"),
    Case("liver-enzymes", "AST 6.5x of the default ULN",
         lambda: r.record(labs=[r.liver_lab("Observation/ast", "ast", 260, r.ago(5), uln=None)]), NTX, "critical"),
    Case("liver-enzymes", "ALT 3.7x", lambda: r.record(labs=[r.liver_lab("Observation/alt", "alt", 130, r.ago(5),
                                                                       uln=35)]), NTX, "warning"),
    Case("liver-enzymes", "ALT 1.6x", lambda: r.record(labs=[r.liver_lab("Observation/alt", "alt", 56, r.ago(5),
                                                                       uln=35)]), NTX, "info"),
    Case("liver-tests-missing", "no labs", lambda: r.record(), NTX, "info"),
    Case("young-patient", "17 years old", lambda: r.record(birth_date=r.ago(17 * 365 + 30)), NTX, "warning"),
    Case("low-dose", "4.5 mg a day", lambda: r.record(), lambda: r.naltrexone_draft(daily_mg=4.5), "info"),
    Case("naltrexone-blocks-opioid", "current naltrexone",
         lambda: r.record(medications=[r.use("MedicationRequest/ntx", r.NALTREXONE_50, current=True)],
                          drafts=[OXY_DRAFT()]), OXY_DRAFT, "critical"),
    Case("naltrexone-blocks-opioid", "injection 20 days ago",
         lambda: r.record(medications=[r.use("MedicationRequest/xr", r.VIVITROL, status="completed",
                                             start=r.ago(20), end=r.ago(20))], drafts=[OXY_DRAFT()]),
         OXY_DRAFT, "critical"),
    Case("naltrexone-blocks-opioid", "oral naltrexone stopped yesterday",
         lambda: r.record(medications=[r.use("MedicationRequest/ntx", r.NALTREXONE_50, status="stopped",
                                             start=r.ago(40), end=r.ago(1))], drafts=[OXY_DRAFT()]),
         OXY_DRAFT, "critical"),
    Case("duplicate-antagonist", "injection given 10 days ago",
         lambda: r.record(medications=[r.use("MedicationAdministration/xr", r.VIVITROL, status="completed",
                                             start=r.ago(10), end=r.ago(10))]),
         lambda: r.naltrexone_draft(rxcui=r.VIVITROL, daily_mg=None), "warning"),
]
RULES = {rule_info(fn).id: fn for fn in PACK_RULES}  # overdose-risk: the patient-view one (no thresholds)


def _on_ntx(started: int) -> MedicationUse:
    return r.use("MedicationRequest/ntx", r.NALTREXONE_50, current=True, start=r.ago(started))


def _xr(days: int) -> MedicationUse:
    return r.use("MedicationStatement/xr", r.VIVITROL, status="completed", start=r.ago(days), end=r.ago(days))


CASES += [
    Case("liver-monitoring-due", "started 40 days ago, baseline only",
         lambda: r.record(medications=[_on_ntx(40)], labs=[r.liver_lab("Observation/b", "alt", 20, r.ago(45),
                                                                         uln=35)]),
         lambda: _on_ntx(40), "info"),
    Case("liver-monitoring-due", "last result 120 days ago",
         lambda: r.record(medications=[_on_ntx(300)], labs=[r.liver_lab("Observation/l", "alt", 20, r.ago(120),
                                                                          uln=35)]),
         lambda: _on_ntx(300), "info"),
    Case("liver-enzymes-on-naltrexone", "ALT 6.2x", lambda: r.record(
        medications=[_on_ntx(60)], labs=[r.liver_lab("Observation/alt", "alt", 217, r.ago(2), uln=35)]),
        lambda: _on_ntx(60), "critical"),
    Case("liver-enzymes-on-naltrexone", "ALT 3.7x", lambda: r.record(
        medications=[_on_ntx(60)], labs=[r.liver_lab("Observation/alt", "alt", 130, r.ago(2), uln=35)]),
        lambda: _on_ntx(60), "warning"),
    Case("liver-enzymes-on-naltrexone", "3.5x the baseline", lambda: r.record(
        medications=[_on_ntx(60)], labs=[r.liver_lab("Observation/b", "alt", 16, r.ago(70), uln=35),
                                         r.liver_lab("Observation/alt", "alt", 60, r.ago(2), uln=35)]),
        lambda: _on_ntx(60), "warning"),
    Case("xr-naltrexone-due", "injection 27 days ago", lambda: r.record(medications=[_xr(27)]), lambda: _xr(27),
         "info"),
    Case("xr-naltrexone-due", "injection 40 days ago", lambda: r.record(medications=[_xr(40)]), lambda: _xr(40),
         "warning"),
]


def _text(finding: Finding) -> str:
    text = "\n".join([finding.summary, finding.detail, *(s.label for s in finding.suggestions)])
    for fact in CITED_FACTS:
        text = text.replace(fact, "")
    return text


def _run(case: Case, config: NaltrexoneConfig) -> Finding:
    rec, order = case.record(), case.order()
    if order.is_draft and order not in rec.drafts:
        rec.drafts.append(order)
    finding = RULES[case.rule_id](r.context(rec, order, config))
    assert finding is not None, f"{case.rule_id} ({case.name}) did not fire"
    assert finding.indicator == case.indicator, f"{case.rule_id} ({case.name}): {finding.indicator}"
    return finding


def test_every_threshold_has_a_way_of_being_written() -> None:
    assert set(KIND) == set(NaltrexoneConfig.model_fields)
    assert all(getattr(B, name) != getattr(NaltrexoneConfig(), name) for name, kind in KIND.items() if kind)


def test_every_rule_with_thresholds_has_a_case() -> None:
    with_thresholds = {rid for rid, fn in RULES.items() if rule_info(fn).thresholds}
    assert with_thresholds == {c.rule_id for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.rule_id}: {c.name}")
def test_changing_a_threshold_changes_every_sentence_that_names_it(case: Case) -> None:
    a_text, b_text = _text(_run(case, NaltrexoneConfig())), _text(_run(case, B))
    defaults = NaltrexoneConfig()
    groups: dict[tuple[str, float], list[float]] = {}
    for name in rule_info(RULES[case.rule_id]).thresholds:
        kind = KIND[name]
        if kind:
            moved = groups.setdefault((kind, getattr(defaults, name)), [])
            if getattr(B, name) not in moved:
                moved.append(getattr(B, name))
    named = 0
    for (kind, default), moved in groups.items():
        pattern = KINDS[kind]
        in_a = len(re.findall(pattern(default), a_text))
        in_b = sum(len(re.findall(pattern(v), b_text)) for v in moved)
        stale = re.findall(rf".{{0,60}}{pattern(default)}.{{0,30}}", b_text)
        assert not stale, f"{case.rule_id}: {kind} {default:g} still written with other thresholds: {stale}"
        assert in_a == in_b, f"{case.rule_id}: {kind} {default:g} named {in_a}× by default, new values {in_b}×"
        named += in_a
    assert named, f"{case.rule_id} ({case.name}) names none of its thresholds"


def test_a_site_threshold_is_never_attributed_to_the_labeling() -> None:
    for case in CASES:
        text = "\n".join([_run(case, B).summary, _run(case, B).detail])
        for sentence in re.split(r"(?<=[.;])\s", text):
            if "labeling says" in sentence or "labeling requires" in sentence:
                raise AssertionError(f"{case.rule_id}: {sentence}")
