"""Data rule: say so when a check could not run, instead of staying silent as if all were well.

It runs last, so it also sees checks that crashed on this order (the engine adds them to `record.skipped`).
"""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.fhir.read import OTHER_PATIENT
from cds_service.rules.base import Finding, OverrideReasonSpec, Rule, RuleContext, rule
from cds_service.rules.naltrexone import wording as w

# The data categories as the pack's prefetch templates name them (`pack.prefetch_templates`).
PATIENT = "patient demographics (age)"
CONDITIONS = "conditions (diagnoses)"
MEDICATION_ORDERS = "medication orders"
MEDICATION_STATEMENTS = "medication statements (including over-the-counter use)"
MEDICATION_DISPENSES = "medication dispenses"
MEDICATION_ADMINISTRATIONS = "medication administrations (doses and injections given)"
LIVER_TESTS = "liver tests (ALT, AST)"
URINE_SCREENS = "urine drug screens"
ALLERGIES = "allergies"

_MEDICATION_CHECKS = ("opioid-concurrent", "opioid-washout", "urine-screen-needed", "duplicate-antagonist",
                      "overdose-risk")
# category -> the checks of a naltrexone order that read it
NALTREXONE_CHECKS: dict[str, tuple[str, ...]] = {
    PATIENT: ("young-patient",),
    CONDITIONS: ("opioid-concurrent", "liver-disease", "indication-off-label", "indication-missing",
                 "overdose-risk", "urine-screen-needed"),
    MEDICATION_ORDERS: _MEDICATION_CHECKS,
    MEDICATION_STATEMENTS: _MEDICATION_CHECKS,
    MEDICATION_DISPENSES: ("opioid-washout", "urine-screen-needed", "duplicate-antagonist"),
    MEDICATION_ADMINISTRATIONS: ("opioid-washout", "urine-screen-needed", "duplicate-antagonist"),
    LIVER_TESTS: ("liver-enzymes", "liver-tests-missing"),
    URINE_SCREENS: ("urine-screen-positive", "urine-screen-needed"),
    ALLERGIES: ("allergy",),
}
# category -> the checks of an opioid order that read it (only medication categories are gathered for those)
OPIOID_ORDER_CHECKS: dict[str, tuple[str, ...]] = {
    MEDICATION_ORDERS: ("naltrexone-blocks-opioid",),
    MEDICATION_STATEMENTS: ("naltrexone-blocks-opioid",),
    MEDICATION_DISPENSES: ("naltrexone-blocks-opioid",),
    MEDICATION_ADMINISTRATIONS: ("naltrexone-blocks-opioid",),
}

# resource type -> the categories it belongs to (for a resource skipped as unreadable)
TYPE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Patient": (PATIENT,),
    "Condition": (CONDITIONS,),
    "MedicationRequest": (MEDICATION_ORDERS,),
    "MedicationStatement": (MEDICATION_STATEMENTS,),
    "MedicationDispense": (MEDICATION_DISPENSES,),
    "MedicationAdministration": (MEDICATION_ADMINISTRATIONS,),
    "Medication": (MEDICATION_ORDERS, MEDICATION_STATEMENTS, MEDICATION_DISPENSES, MEDICATION_ADMINISTRATIONS),
    "Observation": (LIVER_TESTS, URINE_SCREENS),
    "AllergyIntolerance": (ALLERGIES,),
}

TITLE = "Naltrexone check incomplete"
DATA_REVIEWED = OverrideReasonSpec("data-reviewed", "Reviewed the missing data in the chart; no concern found")


@rule(
    id="data-incomplete", title=TITLE, indicators=("warning",),
    trigger="A data category the checks need could not be obtained (prefetch error or FHIR server failure) while "
    "others could, or a resource was unreadable, or a check failed; only when a check of this order is affected. "
    "Also any draft order whose medicationReference could be read neither from the request nor from the FHIR "
    "server: it may be naltrexone or an opioid, so it is reported as not checked (never a silent all-clear).",
    suggestions="None; the detail lists each missing category with its reason, the checks that could not run, and "
    "skipped resources summarised by type and reason (counts and the first few ids).",
    source="Service design: a check that could not run must not look like a check that passed.",
)
def data_incomplete(ctx: RuleContext) -> Finding | None:
    """Data the checks need is missing or unreadable: list what, why, and which checks could not run."""
    record, order = ctx.record, ctx.order
    if order.unresolved_reference:
        return _order_not_checked(ctx)
    if not record.unavailable and not record.skipped and not record.skipped_resources:
        return None
    naltrexone_order = order.has("opioid-antagonist-therapy")
    checks_by_category = NALTREXONE_CHECKS if naltrexone_order else OPIOID_ORDER_CHECKS
    short = w.short_name(order)

    lines: list[str] = []
    affected: list[str] = []
    for category, reason in record.unavailable.items():
        checks = checks_by_category.get(category, ())
        affected += [c for c in checks if c not in affected]
        lines.append(f"- **{category}** could not be obtained: {reason}. Checks that could not run: {_ids(checks)}")
    crashed = list(record.skipped)
    skipped = record.skipped_resources
    for group in skipped.groups():  # summarised: counts per type and reason, the first few ids
        categories = TYPE_CATEGORIES.get(group.resource_type, ())
        checks = tuple(dict.fromkeys(c for cat in categories for c in checks_by_category.get(cat, ())))
        affected += [c for c in checks if c not in affected]
        refs = ", ".join(f"`{_code(r)}`" for r in group.first_refs)
        more = f" and {group.count - len(group.first_refs)} more" if group.count > len(group.first_refs) else ""
        plural = "s" if group.count > 1 else ""
        lines.append(f"- Skipped: {group.count} {_code(group.resource_type)} record{plural} ({group.reason}): "
                     f"{refs}{more}. Checks that may be affected: {_ids(checks)}")
    for item in crashed:
        check = item.split("'")[1] if item.count("'") >= 2 else None
        if check and check not in affected:
            affected.append(check)
        lines.append(f"- Not completed: {item}")

    problems = [f"{_join(list(record.unavailable))} could not be read"] if record.unavailable else []
    foreign = sum(g.count for g in skipped.groups() if g.reason == OTHER_PATIENT)
    unreadable = skipped.total - foreign
    if unreadable:
        problems.append(f"{unreadable} unreadable record{'s' if unreadable > 1 else ''} skipped")
    if foreign:
        problems.append(f"{foreign} record{'s' if foreign > 1 else ''} of another patient left out")
    if crashed:
        problems.append(f"{len(crashed)} check{'s' if len(crashed) > 1 else ''} failed")
    subject = f"{short[:1].upper()}{short[1:]} check" if naltrexone_order else f"Naltrexone check of {short}"
    summary = f"{subject} incomplete: {'; '.join(problems)}"
    if len(summary) >= 140:
        summary = f"{subject} incomplete: part of the patient data could not be read"

    if not affected:
        return None  # nothing this order's checks read is missing: no card to earn
    lead = (f"Some naltrexone checks could **not** run completely for this order: {_ids(affected)}. No card from "
            "them does **not** mean they passed.")
    detail = w.detail(
        lead,
        "The other checks ran on the data that could be obtained. Review the missing or unreadable data in the "
        "chart (or retry once the EHR's FHIR server answers) before relying on the silence of the affected checks.",
        lines,
        "service design (cds-naltrexone): a check that could not run is reported, never silently treated as "
        "passed.",
    )
    return Finding(
        rule_id="data-incomplete", title=TITLE, indicator="warning", summary=summary, detail=detail,
        order_ref=order.ref, override_reasons=(DATA_REVIEWED, w.ALREADY_DONE, w.BENEFIT),
        source_label=w.SOURCE_LABEL,
    )


def _code(value: str) -> str:
    """A resource reference or type as shown inside `code` marks (no backticks or line breaks of its own)."""
    return " ".join(value.replace("`", "'").split())[:140]


def _order_not_checked(ctx: RuleContext) -> Finding:
    """A draft whose medicine is unknown: say that no check ran on it, and why."""
    order = ctx.order
    ref = order.unresolved_reference or "?"
    why = ctx.record.unresolved_orders.get(order.ref, "it could not be read")
    detail = w.detail(
        f"The draft order `{order.ref}` could **not** be checked: its medication is a reference "
        f"(`{ref[:80]}`) that could not be read, so the service cannot tell whether it is naltrexone, an opioid or "
        "neither. No naltrexone or opioid check ran on it.",
        "If the order is naltrexone or an opioid, review the opioid, urine-screen, liver and naltrexone history "
        "yourself before signing; otherwise the order is unaffected. Ask the EHR team to send the referenced "
        "Medication with the order (draftOrders), or FHIR access to read it.",
        [f"- Why: {why}."],
        "service design (cds-naltrexone): an order that could not be classified is reported, never silently "
        "treated as unrelated.",
    )
    return Finding(
        rule_id="data-incomplete", title=TITLE, indicator="warning",
        summary="Order not checked: its medication could not be read (it may be naltrexone or an opioid)",
        detail=detail, order_ref=order.ref, override_reasons=(DATA_REVIEWED, w.ALREADY_DONE, w.BENEFIT),
        source_label=w.SOURCE_LABEL,
    )


def _ids(checks: Sequence[str]) -> str:
    return ", ".join(f"`{c}`" for c in checks) if checks else "none of this order's checks"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


RULES: tuple[Rule, ...] = (data_incomplete,)
OPIOID_ORDER_RULES: tuple[Rule, ...] = (data_incomplete,)
