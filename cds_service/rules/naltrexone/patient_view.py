"""Service `naltrexone-patient-view` (hook patient-view): monitoring a patient whose naltrexone therapy is
current, with no order on the table.

The scope's therapy (`current_therapy`) is decided from the medication keys alone: a patient not on naltrexone
gets `{"cards": []}` without the labs, conditions or allergies ever being read. When part of those medication
records could not be read and none read shows naltrexone, `monitoring_unchecked` says so instead. The rules
here are about the therapy (`ctx.order` is the naltrexone record the cards are about), not about a draft:

- liver-monitoring-due (info): no ALT/AST since the start and the first follow-up is due, or the last result is
  older than the monitoring interval;
- liver-enzymes-on-naltrexone (warning ≥ warning multiple of ULN or ≥ baseline multiple of the pre-treatment
  value; critical ≥ critical multiple of ULN, with a stop-naltrexone suggestion);
- xr-naltrexone-due (info from the notice day of the interval; warning once the interval has run out);
- overdose-risk (same id as at order time) and opioid-on-naltrexone (critical).
"""

from __future__ import annotations

from datetime import date, timedelta

from cds_service.record.model import LabResult, MedicationUse, PatientRecord
from cds_service.rules.base import ActionSpec, Finding, Rule, Scope, SuggestionSpec, rule
from cds_service.rules.naltrexone import prefetch as k
from cds_service.rules.naltrexone import wording as w
from cds_service.rules.naltrexone.config import NaltrexoneConfig, NaltrexoneContext
from cds_service.rules.naltrexone.exposure import (
    ANTAGONIST,
    antagonist_exposures,
    last_injection,
    last_injection_at_the_earliest,
)
from cds_service.rules.naltrexone.liver import LIVER_SOURCE, monitoring_schedule, repeat_liver_tests
from cds_service.rules.naltrexone.orders import naloxone_request, urine_screen_request
from cds_service.rules.naltrexone.overdose import opioid_use_disorders
from cds_service.rules.naltrexone.scopes import ON_NALTREXONE, THERAPY_UNCHECKED
from cds_service.rules.naltrexone.washout import is_systemic_opioid


def current_therapy(record: PatientRecord, cfg: NaltrexoneConfig) -> list[MedicationUse]:
    """Naltrexone therapy that is current today, most relevant first, read with the pack's one exposure model
    (`exposure.py`: every record type, partial dates at their safe bound): a current order, statement or covering
    dispense; the last extended-release injection while its interval and the lapse window after it (when overdose
    risk peaks) last; an oral course whose blockade (`oral_naltrexone_block_hours`) may still last."""
    today = record.today
    exposures = [e for e in antagonist_exposures(record, cfg) if e.use.has(ANTAGONIST)]
    out = [e.use for e in exposures if e.current]
    last = last_injection(record)
    if last is not None and last[0].has(ANTAGONIST) and last[0] not in out \
            and (today - last[1]).days <= cfg.xr_naltrexone_days + cfg.xr_lapse_notice_days:
        out.append(last[0])
    out += [e.use for e in exposures if not e.extended_release and not e.current and e.blocks_on(today)
            and e.use not in out]
    return out


def therapy_scope(cfg: NaltrexoneConfig) -> Scope:
    return Scope(ON_NALTREXONE, "patient view (naltrexone current)", ("patient-view",),
                 therapy=lambda record: current_therapy(record, cfg), therapy_needs=k.MEDICATION_KEYS,
                 unchecked=THERAPY_UNCHECKED)


def therapy_start(ctx: NaltrexoneContext) -> date | None:
    """When the current course started: the earliest start among the current therapy records."""
    starts = [m.start for m in current_therapy(ctx.record, ctx.config) if m.start is not None]
    return min(starts) if starts else None


def _therapy_lines(ctx: NaltrexoneContext) -> list[str]:
    return [w.medication_line(m, ctx.record.today) for m in current_therapy(ctx.record, ctx.config)]


def _liver_labs(record: PatientRecord, days: int) -> list[LabResult]:
    return [lab for lab in record.labs_within("alt", days) + record.labs_within("ast", days)
            if lab.value is not None]


def _name(ctx: NaltrexoneContext) -> str:
    return w.short_name(ctx.order)


@rule(
    id="liver-monitoring-due", title="Liver tests due on naltrexone", indicators=("info",),
    trigger="Naltrexone current and no ALT/AST result since the start once `liver_monitoring_first_days` have "
    "passed, or the last result is `liver_monitoring_interval_days` old or older; with no start date known, no "
    "result within the interval. Silent when liver tests could not be obtained (data-incomplete reports that).",
    suggestions="Order a hepatic function panel (create ServiceRequest, LOINC 24325-3).",
    source="CFP AUD guideline (liver tests at baseline, about 4 weeks, then every 3 months); naltrexone labeling "
    "(hepatotoxicity).",
    applies_to=(ON_NALTREXONE,), needs=(*k.MEDICATION_KEYS, k.LIVER_TESTS), requires=(k.LIVER_TESTS,),
    thresholds=("liver_monitoring_first_days", "liver_monitoring_interval_days"),
)
def liver_monitoring_due(ctx: NaltrexoneContext) -> Finding | None:
    """The next liver test of the monitoring schedule is due."""
    record, cfg = ctx.record, ctx.config
    today, start = record.today, therapy_start(ctx)
    labs = sorted(_liver_labs(record, cfg.history_days), key=lambda lab: lab.when or date.min, reverse=True)
    since_start = [lab for lab in labs if start is not None and lab.when is not None and lab.when >= start]
    if start is not None and not since_start:
        due = start + timedelta(days=cfg.liver_monitoring_first_days)
        why = (f"No ALT or AST result since naltrexone started ({start.isoformat()}); the first follow-up is due "
               f"{cfg.liver_monitoring_first_days} days after the start ({due.isoformat()}).")
    else:
        last = since_start[0] if since_start else (labs[0] if labs else None)
        last_day = last.when if last is not None else None
        due = last_day + timedelta(days=cfg.liver_monitoring_interval_days) if last_day else today
        why = (f"The last ALT/AST result is from {last_day.isoformat()}; on naltrexone they are repeated every "
               f"{cfg.liver_monitoring_interval_days} days (next due {due.isoformat()})." if last_day else
               "No ALT or AST result is on record for this patient on naltrexone.")
    if today < due:
        return None
    name = _name(ctx)
    lines = _therapy_lines(ctx) + [w.lab_line(lab) for lab in labs[:2]]
    detail = w.detail(
        f"Liver tests are due for a patient on **{w.drug_name(ctx.order)}**. {why}",
        "Naltrexone can raise liver transaminases even without preexisting liver damage; it is monitored with a "
        f"hepatic function panel ({monitoring_schedule(cfg)}, site policy). Stop naltrexone if the "
        "transaminases rise markedly, or with signs of hepatitis (abdominal pain, dark urine, jaundice).",
        lines,
        LIVER_SOURCE + " CFP AUD medication table (liver tests at baseline, about 4 weeks, then every 3 months).",
    )
    return Finding(
        rule_id="liver-monitoring-due", title="Liver tests due on naltrexone", indicator="info",
        summary=f"Liver tests due on {name}: order a hepatic function panel (due {due.isoformat()})",
        detail=detail, order_ref=ctx.order.ref,
        evidence=tuple(m.ref for m in current_therapy(record, cfg)) + tuple(lab.ref for lab in labs[:2]),
        suggestions=(repeat_liver_tests(ctx),), links=(w.LABEL_LINK,), source_label=w.SOURCE_LABEL,
        source_url=w.LABEL_URL,
    )


def _uln(cfg: NaltrexoneConfig, lab: LabResult) -> tuple[float, str]:
    if lab.uln:
        return lab.uln, "referenceRange"
    return (cfg.alt_default_uln if "alt" in lab.classes else cfg.ast_default_uln), "default"


def _baseline(record: PatientRecord, lab: LabResult, start: date | None) -> LabResult | None:
    """The pre-treatment value of the same analyte: the latest result before the therapy started."""
    if start is None or lab.when is None or lab.when < start:
        return None
    before = [b for b in record.labs if b.code == lab.code and b.value and b.when is not None and b.when < start]
    return max(before, key=lambda b: b.when or date.min) if before else None


@rule(
    id="liver-enzymes-on-naltrexone", title="Raised liver transaminases on naltrexone",
    indicators=("critical", "warning"),
    trigger="Naltrexone current and the latest ALT or AST within `liver_test_lookback_days`: ≥ "
    "`liver_critical_uln_multiple` × ULN → critical; ≥ `liver_warning_uln_multiple` × ULN, or a result since the "
    "start ≥ `liver_baseline_multiple` × the pre-treatment value of the same test → warning.",
    suggestions="Critical: stop naltrexone (update the current order/statement to stopped); repeat the hepatic "
    "function panel. Warning: repeat the panel.",
    source="Naltrexone tablet labeling (hepatotoxicity: stop with signs of acute hepatitis); CFP AUD guideline "
    "(>3× ULN or baseline); COMBINE (>5× ULN).",
    applies_to=(ON_NALTREXONE,), needs=(*k.MEDICATION_KEYS, k.LIVER_TESTS),
    thresholds=("liver_test_lookback_days", "liver_warning_uln_multiple", "liver_critical_uln_multiple",
                "liver_baseline_multiple", "alt_default_uln", "ast_default_uln"),
)
def liver_enzymes_on_naltrexone(ctx: NaltrexoneContext) -> Finding | None:
    """Transaminases risen on naltrexone, against ULN or the patient's own pre-treatment value."""
    record, cfg = ctx.record, ctx.config
    start = therapy_start(ctx)
    rated = []
    for lab_class in ("alt", "ast"):
        lab = record.latest_lab(lab_class, cfg.liver_test_lookback_days)
        if lab is None or lab.value is None:
            continue
        uln, uln_source = _uln(cfg, lab)
        baseline = _baseline(record, lab, start)
        over_baseline = lab.value / baseline.value if baseline is not None and baseline.value else None
        rated.append((lab.value / uln, over_baseline, lab, uln, uln_source, baseline))
    if not rated:
        return None
    rated.sort(key=lambda r: r[0], reverse=True)
    worst = rated[0]
    by_baseline = max((r for r in rated if r[1] is not None), key=lambda r: r[1] or 0.0, default=None)
    name = _name(ctx)
    if worst[0] >= cfg.liver_critical_uln_multiple:
        indicator = "critical"
        lab = worst[2]
        value = f"{lab.value:g} U/L = {worst[0]:.1f}× ULN"
        summary = f"Stop {name}? {_analyte(lab)} {value} (≥{cfg.liver_critical_uln_multiple:g}× ULN)"
        advice = (f"Transaminases at or above {cfg.liver_critical_uln_multiple:g}× ULN on naltrexone suggest "
                  "drug-induced liver injury: stop naltrexone, evaluate the liver injury and repeat the tests.")
    elif worst[0] >= cfg.liver_warning_uln_multiple:
        indicator = "warning"
        lab = worst[2]
        value = f"{lab.value:g} U/L = {worst[0]:.1f}× ULN"
        summary = f"{_analyte(lab)} {value} on {name}: repeat liver tests, consider stopping"
        advice = (f"Transaminases at or above {cfg.liver_warning_uln_multiple:g}× ULN on naltrexone: repeat the "
                  "liver tests soon and look for another cause; stop naltrexone if they keep rising or with signs "
                  "of hepatitis.")
    elif by_baseline is not None and (by_baseline[1] or 0.0) >= cfg.liver_baseline_multiple:
        indicator = "warning"
        lab, baseline = by_baseline[2], by_baseline[5]
        assert baseline is not None
        value = f"{lab.value:g} U/L = {by_baseline[1]:.1f}× the pre-treatment {baseline.value:g} U/L"
        summary = f"{_analyte(lab)} {value} on {name}: repeat liver tests"
        advice = (f"A rise to {cfg.liver_baseline_multiple:g}× the patient's own pre-treatment value or more, even "
                  "within the reference range of ULN multiples, is a signal of liver injury on naltrexone: repeat "
                  "the liver tests and stop naltrexone if the rise persists.")
    else:
        return None
    lines = _therapy_lines(ctx) + [w.lab_line(r[2], r[3], r[4]) for r in rated]
    lines += [w.lab_line(r[5]) + " (pre-treatment value)" for r in rated if r[5] is not None]
    suggestions: list[SuggestionSpec] = []
    if indicator == "critical":
        for m in current_therapy(record, cfg)[:2]:
            stop = w.stop_medication(m, f"Stop {m.display}")
            if stop is not None:
                suggestions.append(stop)
    suggestions.append(repeat_liver_tests(ctx))
    detail = w.detail(
        f"On **{w.drug_name(ctx.order)}**, the latest {_analyte(lab)} is {value}.",
        advice + " Values in µkat/L are converted to U/L (×60).",
        lines,
        LIVER_SOURCE + " Thresholds (site policy, configurable): warning at "
        f"{cfg.liver_warning_uln_multiple:g}× ULN or {cfg.liver_baseline_multiple:g}× the pre-treatment value, "
        f"critical at {cfg.liver_critical_uln_multiple:g}× ULN.",
    )
    evidence = tuple(m.ref for m in current_therapy(record, cfg)) + tuple(r[2].ref for r in rated)
    evidence += tuple(r[5].ref for r in rated if r[5] is not None)
    return Finding(
        rule_id="liver-enzymes-on-naltrexone", title="Raised liver transaminases on naltrexone",
        indicator="critical" if indicator == "critical" else "warning", summary=summary, detail=detail,
        order_ref=ctx.order.ref, evidence=evidence, suggestions=tuple(suggestions),
        override_reasons=(w.HEPATOLOGY, w.RECORD_WRONG, w.BENEFIT), links=(w.LABEL_LINK,),
        source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
    )


def _analyte(lab: LabResult) -> str:
    return "ALT" if "alt" in lab.classes else "AST"


@rule(
    id="xr-naltrexone-due", title="Extended-release naltrexone injection due", indicators=("warning", "info"),
    trigger="The last extended-release naltrexone injection was `xr_next_dose_from_day` days ago or more → info "
    "(next injection due); `xr_naltrexone_days` or more (up to `xr_lapse_notice_days` after) → warning: the "
    "interval has run out, opioid tolerance is gone and the blockade is fading.",
    suggestions="Schedule the next injection; after a lapse, order a urine opioid screen before it (create "
    "ServiceRequest) and prescribe naloxone (create MedicationRequest).",
    source="Vivitrol labeling (every 4 weeks or once a month; W&P 5.1 vulnerability to overdose at the end of the "
    "dosing interval or after a missed dose).",
    applies_to=(ON_NALTREXONE,), needs=k.MEDICATION_KEYS,
    thresholds=("xr_next_dose_from_day", "xr_naltrexone_days", "xr_lapse_notice_days"),
)
def xr_naltrexone_due(ctx: NaltrexoneContext) -> Finding | None:
    """The monthly injection is due, or overdue (the riskiest moment of XR naltrexone)."""
    record, cfg = ctx.record, ctx.config
    # an imprecise injection date counts from its earliest possible day (the reminder and the lapse warning come
    # no later than the truth allows) and stays shown while its latest possible day is in the window
    last = last_injection_at_the_earliest(record)
    if last is None:
        return None
    injection, day, latest = last
    days = (record.today - day).days
    if days < cfg.xr_next_dose_from_day or (record.today - latest).days > cfg.xr_naltrexone_days + \
            cfg.xr_lapse_notice_days:
        return None
    ends = day + timedelta(days=cfg.xr_naltrexone_days)
    lines = [w.medication_line(injection, record.today) + f"; injection {day.isoformat()}, **{days} days ago**"]
    if day != latest:
        lines.append(f"The injection date is imprecise ({day.isoformat()} to {latest.isoformat()}): the interval is "
                     f"counted from {day.isoformat()}, the earliest day it allows, so that neither the reminder "
                     "nor the lapse warning comes later than it may be due.")
    if days < cfg.xr_naltrexone_days:
        return Finding(
            rule_id="xr-naltrexone-due", title="Extended-release naltrexone injection due", indicator="info",
            summary=f"Next naltrexone injection due: day {days} of the {cfg.xr_naltrexone_days}-day interval "
            f"(ends {ends.isoformat()})",
            detail=w.detail(
                f"The last extended-release naltrexone injection was on {day.isoformat()}, **{days} days ago**.",
                f"One injection blocks opioids for {w.LABEL_XR_BLOCKADE}; this site counts "
                f"{cfg.xr_naltrexone_days} days and reminds from day {cfg.xr_next_dose_from_day}. Schedule the "
                "next injection before the interval runs out: as the blockade fades, the patient is vulnerable to "
                "opioid overdose.",
                lines,
                "Vivitrol labeling (dosing every 4 weeks or once a month; W&P 5.1).",
            ),
            order_ref=injection.ref, evidence=(injection.ref,),
            suggestions=(SuggestionSpec("Schedule the next extended-release naltrexone injection"),),
            links=(w.VIVITROL_LINK,), source_label=w.SOURCE_LABEL, source_url=w.VIVITROL_URL,
        )
    return Finding(
        rule_id="xr-naltrexone-due", title="Extended-release naltrexone injection due", indicator="warning",
        summary=f"Naltrexone injection overdue ({days} days): blockade fading, overdose risk; re-check before "
        "the next dose",
        detail=w.detail(
            f"The last extended-release naltrexone injection was on {day.isoformat()}, **{days} days ago**: the "
            f"{cfg.xr_naltrexone_days}-day interval ended {ends.isoformat()}.",
            "The patient's opioid tolerance is gone and the blockade is fading: this is when the labeling warns of "
            "**opioid overdose** (a dose they used to take, or an attempt to overcome a fading blockade, can be "
            "fatal). Contact the patient, make sure rescue naloxone is at hand, and before the next injection "
            "confirm they are opioid-free (urine opioid screen; naloxone challenge if in doubt), since an "
            "injection after opioid use precipitates withdrawal.",
            lines,
            "Vivitrol labeling W&P 5.1 (vulnerability to opioid overdose at the end of a dosing interval, after a "
            "missed dose or after stopping) and W&P 5.3 (precipitated withdrawal).",
        ),
        order_ref=injection.ref, evidence=(injection.ref,),
        suggestions=(
            SuggestionSpec("Order a urine opioid screen before the next injection",
                           (ActionSpec("create", "Create a draft order for a urine opioid screen",
                                       resource=urine_screen_request(ctx.patient_id, ctx.encounter_id)),),
                           recommended=True),
            SuggestionSpec("Prescribe naloxone 4 mg nasal spray",
                           (ActionSpec("create", "Create a draft order for naloxone 4 mg nasal spray",
                                       resource=naloxone_request(ctx.patient_id, ctx.encounter_id)),)),
        ),
        override_reasons=(w.ALREADY_DONE, w.RECORD_WRONG, w.SPECIALIST), links=(w.VIVITROL_LINK,),
        source_label=w.SOURCE_LABEL, source_url=w.VIVITROL_URL,
    )


@rule(
    id="overdose-risk", title="Opioid overdose risk: rescue naloxone", indicators=("warning",),
    trigger="Naltrexone current, an opioid use disorder diagnosis (active or in remission) and no current rescue "
    "naloxone (order, statement or covering dispense; the naloxone inside buprenorphine/naloxone does not count). "
    "Silent when medication orders or statements could not be obtained.",
    suggestions="Prescribe naloxone 4 mg nasal spray (create MedicationRequest, RxNorm 1725059).",
    source="Vivitrol labeling W&P 5.1 (vulnerability to opioid overdose after stopping, a missed dose, or at the "
    "end of the dosing interval).",
    applies_to=(ON_NALTREXONE,), needs=(k.CONDITIONS, *k.MEDICATION_KEYS),
    requires=(k.MEDICATION_REQUESTS, k.MEDICATION_STATEMENTS),
)
def overdose_risk_on_naltrexone(ctx: NaltrexoneContext) -> Finding | None:
    """On naltrexone with opioid use disorder and no rescue naloxone."""
    record = ctx.record
    disorders = opioid_use_disorders(record)
    if not disorders or record.current_medications_with("naloxone-rescue"):
        return None
    name = _name(ctx)
    detail = w.detail(
        f"The patient is on **{w.drug_name(ctx.order)}**, has opioid use disorder and no current rescue naloxone "
        "on record.",
        "Naltrexone removes opioid tolerance: after stopping it, after a missed dose or toward the end of an "
        "injection's interval, a dose the patient used to take can be fatal, and trying to overcome the blockade "
        "can cause overdose too. Prescribe rescue naloxone and teach the patient and family how to use it. (The "
        "naloxone inside buprenorphine/naloxone products is not rescue naloxone.)",
        _therapy_lines(ctx) + [w.condition_line(c) for c in disorders],
        "Vivitrol labeling W&P 5.1, vulnerability to opioid overdose; naltrexone tablet labeling (\"serious "
        "consequences of trying to overcome the opiate blockade\").",
    )
    return Finding(
        rule_id="overdose-risk", title="Opioid overdose risk: rescue naloxone", indicator="warning",
        summary=f"On {name} with opioid use disorder and no rescue naloxone: prescribe naloxone (overdose risk)",
        detail=detail, order_ref=ctx.order.ref,
        evidence=tuple(m.ref for m in current_therapy(record, ctx.config)) + tuple(c.ref for c in disorders),
        suggestions=(SuggestionSpec(
            "Prescribe naloxone 4 mg nasal spray",
            (ActionSpec("create", "Create a draft order for naloxone 4 mg nasal spray",
                        resource=naloxone_request(ctx.patient_id, ctx.encounter_id)),),
            recommended=True),),
        override_reasons=(w.ALREADY_DONE, w.RECORD_WRONG, w.BENEFIT), links=w.label_links(ctx.order),
        source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
    )


@rule(
    id="opioid-on-naltrexone", title="Opioid on record while naltrexone is current",
    indicators=("critical", "warning"),
    trigger="Naltrexone current and a current opioid on record (prescribed elsewhere, or started after "
    "naltrexone) → critical; only a peripheral opioid (loperamide, diphenoxylate, difenoxin) → warning.",
    suggestions="Stop the opioid (update to stopped); review analgesia with the prescriber.",
    source="Source document (opioid analgesics cannot exert their full effect; raising the dose risks serious "
    "complications); naltrexone labeling (contraindications); Vivitrol labeling W&P 5.6.",
    applies_to=(ON_NALTREXONE,), needs=k.MEDICATION_KEYS,
)
def opioid_on_naltrexone(ctx: NaltrexoneContext) -> Finding | None:
    """A current opioid while naltrexone blocks the receptors: no analgesia, overdose risk, withdrawal."""
    record = ctx.record
    opioids = [m for m in record.current_opioids() if not m.has(ANTAGONIST)]
    if not opioids:
        return None
    systemic = [m for m in opioids if is_systemic_opioid(m)]
    therapy = current_therapy(record, ctx.config)
    lines = [w.medication_line(m, record.today) for m in therapy + systemic + [m for m in opioids
                                                                                if m not in systemic]]
    evidence = tuple(m.ref for m in therapy) + tuple(m.ref for m in opioids)
    name = _name(ctx)
    first = (systemic or opioids)[0]
    agent = (first.ingredient_names("opioid") or ["an opioid"])[0]
    stops = [s for m in (systemic or opioids)[:2] if (s := w.stop_medication(m, f"Stop {m.display}")) is not None]
    if systemic:
        detail = w.detail(
            f"The patient is on **{w.drug_name(ctx.order)}** and **{first.display}** is current.",
            "Naltrexone occupies the opioid receptors: the opioid's **analgesia is blocked**, raising its dose to "
            "overcome the blockade can cause **respiratory depression and fatal overdose** as the blockade wears "
            "off, and naltrexone taken on top of opioid dependence precipitates **withdrawal**. Find out who "
            "prescribed the opioid and whether the patient takes it; stop one of the two, or treat pain with "
            "non-opioid or regional analgesia.",
            lines,
            REVERSE_SOURCE_SHORT,
        )
        return Finding(
            rule_id="opioid-on-naltrexone", title="Opioid on record while naltrexone is current",
            indicator="critical",
            summary=f"{agent.capitalize()} is current while on {name}: blocked analgesia, overdose risk",
            detail=detail, order_ref=ctx.order.ref, evidence=evidence,
            suggestions=(*stops, SuggestionSpec("Review analgesia with the opioid's prescriber")),
            override_reasons=w.DEFAULT_REASONS, links=w.label_links(*therapy), source_label=w.SOURCE_LABEL,
            source_url=w.LABEL_URL,
        )
    detail = w.detail(
        f"The patient is on **{w.drug_name(ctx.order)}** and takes **{first.display}**, an opioid antidiarrheal.",
        f"{agent.capitalize()} acts mainly in the gut; naltrexone blocks it, so it may not work, and the source "
        "document forbids opioid-containing drugs such as loperamide during naltrexone therapy. Use a non-opioid "
        "antidiarrheal.",
        lines,
        f"{w.SOURCE_DOC}: \"patients must not take any opiates and other opioid-containing drugs such as codeine "
        "or loperamide during therapy with naltrexone\".",
    )
    return Finding(
        rule_id="opioid-on-naltrexone", title="Opioid on record while naltrexone is current", indicator="warning",
        summary=f"{agent.capitalize()} (opioid antidiarrheal) is blocked by {name}: use a non-opioid alternative",
        detail=detail, order_ref=ctx.order.ref, evidence=evidence, suggestions=tuple(stops),
        override_reasons=w.DEFAULT_REASONS, links=(w.LABEL_LINK,), source_label=w.SOURCE_LABEL,
        source_url=w.LABEL_URL,
    )


REVERSE_SOURCE_SHORT = (
    f"{w.SOURCE_DOC}: \"during treatment with naltrexone, opioid analgesics cannot exert their full effect\" and "
    "\"If naltrexone is used concurrently with opiates, an overdose may occur\"; naltrexone labeling "
    "(contraindicated in patients receiving opioid analgesics); Vivitrol labeling W&P 5.6."
)

RULES: tuple[Rule, ...] = (opioid_on_naltrexone, liver_enzymes_on_naltrexone, liver_monitoring_due,
                           xr_naltrexone_due, overdose_risk_on_naltrexone)
