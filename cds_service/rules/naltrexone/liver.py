"""Liver rules: naltrexone is hepatotoxic at high doses and contraindicated in severe liver disease."""

from __future__ import annotations

from datetime import date, timedelta

from cds_service.record.model import LabResult
from cds_service.rules.base import ActionSpec, Finding, Rule, RuleContext, SuggestionSpec, rule
from cds_service.rules.naltrexone import wording as w
from cds_service.rules.naltrexone.data import LIVER_TESTS

LIVER_SOURCE = (
    f"{w.SOURCE_DOC}: \"administration of naltrexone is contraindicated in severe liver disease, such as "
    "cirrhosis\" and \"even in patients without preexisting liver damage, liver transaminases may increase\"; "
    "naltrexone tablet labeling (acute hepatitis or liver failure; hepatotoxicity)."
)


@rule(
    id="liver-disease", title="Naltrexone in severe liver disease", indicators=("critical",),
    trigger="An active (not entered-in-error/refuted/resolved) severe liver disease as hepatologists mean it: "
    "cirrhosis of any cause and its decompensation (portal hypertension, varices, hepatorenal syndrome, SBP), "
    "hepatic failure and its manifestations (encephalopathy), acute hepatitis of any cause (viral, alcoholic, "
    "toxic, ischaemic); coded in ICD-10-CM/WHO/GM or SNOMED CT, or named in the text (EN/DE/FR/ES/IT/NL; the card "
    "says 'recognised from the text'). Chronic viral hepatitis without these does not count.",
    suggestions="Remove the naltrexone draft; hepatology review.",
    source="Source document (contraindicated in severe liver disease such as cirrhosis); tablet labeling "
    "(acute hepatitis or liver failure).",
)
def liver_disease(ctx: RuleContext) -> Finding | None:
    """Active acute hepatitis, hepatic failure or cirrhosis."""
    record, order = ctx.record, ctx.order
    found = record.active_conditions("severe-liver-disease")
    if not found:
        return None
    name, short = w.drug_name(order), w.short_name(order)
    first = found[0]
    detail = w.detail(
        f"The patient has active **{first.display}** and **{name}** is ordered.",
        "At high doses naltrexone is toxic to the liver, and it is contraindicated in severe liver disease such "
        "as cirrhosis, acute hepatitis or liver failure. Only entered-in-error, refuted and resolved diagnoses "
        "are left out here.",
        [w.condition_line(c) for c in found],
        LIVER_SOURCE,
    )
    return Finding(
        rule_id="liver-disease", title="Naltrexone in severe liver disease", indicator="critical",
        summary=f"Do not start {short}: active {first.display[:60].lower()} (severe liver disease)",
        detail=detail, order_ref=order.ref, evidence=tuple(c.ref for c in found),
        suggestions=(w.remove_draft(ctx), SuggestionSpec("Request hepatology review before any naltrexone")),
        override_reasons=(w.HEPATOLOGY, w.RECORD_WRONG, w.BENEFIT), links=(w.LABEL_LINK,),
        source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
    )


def _uln(ctx: RuleContext, lab: LabResult) -> tuple[float, str]:
    if lab.uln:
        return lab.uln, "referenceRange"
    default = ctx.config.alt_default_uln if "alt" in lab.classes else ctx.config.ast_default_uln
    return default, "default"


def repeat_liver_tests(ctx: RuleContext) -> SuggestionSpec:
    return SuggestionSpec(
        "Order hepatic function panel (ALT, AST, bilirubin)",
        (ActionSpec("create", "Create a draft order for a hepatic function panel",
                    resource=liver_panel_request(ctx)),),
    )


def liver_panel_request(ctx: RuleContext) -> dict:
    from cds_service.rules.naltrexone.orders import hepatic_panel_request

    return hepatic_panel_request(ctx.patient_id, ctx.encounter_id)


@rule(
    id="liver-enzymes", title="Raised liver transaminases", indicators=("critical", "warning", "info"),
    trigger="Latest final ALT or AST within the look-back: ≥ critical multiple of ULN → critical, ≥ warning "
    "multiple → warning, above ULN → info. Every serum/plasma/blood ALT and AST LOINC (with and without P-5'-P). "
    "ULN from referenceRange.high, else the site default; U/L = IU/L, µkat/L and µmol/(s·L) ×60, nkat/L ×0.06.",
    suggestions="Remove the draft (critical); order a hepatic function panel (create ServiceRequest).",
    source="Source document (transaminases may increase); CFP AUD guideline (>3× ULN); COMBINE (>5× ULN).",
    thresholds=("liver_test_lookback_days", "liver_warning_uln_multiple", "liver_critical_uln_multiple",
                "alt_default_uln", "ast_default_uln"),
)
def liver_enzymes(ctx: RuleContext) -> Finding | None:
    """Latest ALT/AST in the look-back: ≥5x ULN critical, ≥3x warning, above ULN info."""
    record, order, cfg = ctx.record, ctx.order, ctx.config
    latest = [lab for lab in (record.latest_lab("alt", cfg.liver_test_lookback_days),
                              record.latest_lab("ast", cfg.liver_test_lookback_days)) if lab and lab.value is not None]
    if not latest:
        return None
    rated = []
    for lab in latest:
        uln, source = _uln(ctx, lab)
        rated.append((lab.value / uln, lab, uln, source))  # type: ignore[operator]
    rated.sort(key=lambda r: r[0], reverse=True)
    worst, lab, _uln_value, _source = rated[0]
    if worst <= 1.0:
        return None
    name, short = w.drug_name(order), w.short_name(order)
    analyte = "ALT" if "alt" in lab.classes else "AST"
    value = f"{lab.value:g} U/L = {worst:.1f}× ULN"
    lines = [w.lab_line(r[1], r[2], r[3]) for r in rated]
    if worst >= cfg.liver_critical_uln_multiple:
        indicator = "critical"
        summary = f"Do not start {short}: {analyte} {value} (≥{cfg.liver_critical_uln_multiple:g}× ULN)"
        advice = ("Transaminases this high suggest active liver injury: naltrexone should not be started. "
                  "Evaluate the liver injury and repeat the tests.")
        suggestions = (w.remove_draft(ctx), repeat_liver_tests(ctx))
    elif worst >= cfg.liver_warning_uln_multiple:
        indicator, summary = "warning", f"{analyte} {value} before {short}: repeat liver tests before the first dose"
        advice = (f"Transaminases at or above {cfg.liver_warning_uln_multiple:g}× ULN: guidelines treat this as a "
                  "contraindication until explained. Repeat the liver tests before starting.")
        suggestions = (repeat_liver_tests(ctx),)
    else:
        indicator, summary = "info", f"{analyte} mildly raised ({value}): monitor liver tests on {short}"
        advice = ("Mildly raised transaminases do not prevent starting naltrexone; monitor liver tests (baseline, "
                  "about 4 weeks, then every 3 months) and stop if they rise above 3× baseline.")
        suggestions = (repeat_liver_tests(ctx),)
    detail = w.detail(
        f"The most recent {analyte} before **{name}** is {value}.",
        advice + " Values in µkat/L are converted to U/L (×60).",
        lines,
        LIVER_SOURCE + " Thresholds (site policy, configurable): warning at "
        f"{cfg.liver_warning_uln_multiple:g}× ULN, critical at {cfg.liver_critical_uln_multiple:g}× ULN.",
    )
    return Finding(
        rule_id="liver-enzymes", title="Raised liver transaminases", indicator=indicator,  # type: ignore[arg-type]
        summary=summary, detail=detail, order_ref=order.ref, evidence=tuple(r[1].ref for r in rated),
        suggestions=suggestions, override_reasons=(w.HEPATOLOGY, w.RECORD_WRONG, w.BENEFIT),
        links=(w.LABEL_LINK,), source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
    )


@rule(
    id="liver-tests-missing", title="No recent liver tests", indicators=("info",),
    trigger="No ALT and no AST result within the look-back (silent when liver tests could not be obtained: "
    "data-incomplete reports that).",
    suggestions="Order a hepatic function panel (create ServiceRequest, LOINC 24325-3).",
    source="CFP AUD guideline (liver tests at baseline, 4 weeks, then every 3 months); LabWisely (do not delay "
    "a standard-dose start for the results when liver disease is not suspected).",
    thresholds=("liver_test_lookback_days",),
)
def liver_tests_missing(ctx: RuleContext) -> Finding | None:
    """No ALT and no AST in the look-back: baseline liver tests are recommended."""
    record, order, cfg = ctx.record, ctx.order, ctx.config
    days = cfg.liver_test_lookback_days
    if LIVER_TESTS in record.unavailable:
        return None
    if record.labs_within("alt", days) or record.labs_within("ast", days):
        return None
    name, short = w.drug_name(order), w.short_name(order)
    since = record.today - timedelta(days=days)
    older = sorted((lab for lab in record.labs if lab.classes & {"alt", "ast"} and lab.when is not None),
                   key=lambda lab: lab.when or date.min, reverse=True)[:2]
    lines = [f"- No ALT (LOINC 1742-6) or AST (LOINC 1920-8) result since {since.isoformat()} "
             f"(the last {days} days)"]
    lines += [w.lab_line(lab) + " (older than the look-back, not used)" for lab in older]
    detail = w.detail(
        f"**{name}** is ordered and no ALT or AST result from the last {days} days is on record.",
        "Naltrexone can raise liver transaminases even without preexisting liver damage, and it is "
        "contraindicated in severe liver disease, so a **baseline** hepatic function panel is recommended "
        "(then about 4 weeks, then every 3 months). When liver disease is not suspected, the results **need not "
        "delay** a standard-dose start.",
        lines,
        f"{w.SOURCE_DOC}: \"even in patients without preexisting liver damage, liver transaminases may "
        "increase\"; CFP AUD medication table (liver tests at baseline, 4 weeks, then every 3 months); "
        f"LabWisely (do not delay standard-dose naltrexone for liver test results). Look-back (site policy, "
        f"configurable): {days} days.",
    )
    return Finding(
        rule_id="liver-tests-missing", title="No recent liver tests", indicator="info",
        summary=f"No ALT/AST in the last {days} days: order baseline liver tests for {short}",
        detail=detail, order_ref=order.ref, evidence=tuple(lab.ref for lab in older),
        suggestions=(repeat_liver_tests(ctx),), links=(w.LABEL_LINK,),
        source_label=w.SOURCE_LABEL, source_url=w.LABEL_URL,
    )


RULES: tuple[Rule, ...] = (liver_disease, liver_enzymes, liver_tests_missing)
