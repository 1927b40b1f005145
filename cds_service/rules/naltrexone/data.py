"""Data rule: say so when a check could not run, instead of staying silent as if all were well.

It runs last, so it also sees the checks that crashed on this order (`ctx.failed`, kept per order by the engine:
one order's crash never shows on another order's card). A draft whose medication could not be read at all gets
this card alone (scope `unresolved-orders`): it may be naltrexone or an opioid, so it is never passed over.
"""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.fhir.read import OTHER_PATIENT
from cds_service.record.model import SkipGroup
from cds_service.rules.base import Finding, OverrideReasonSpec, Rule, rule
from cds_service.rules.naltrexone import prefetch as k
from cds_service.rules.naltrexone import wording as w
from cds_service.rules.naltrexone.config import NaltrexoneContext
from cds_service.rules.naltrexone.scopes import NALTREXONE_ORDERS, ON_NALTREXONE, OPIOID_ORDERS, UNRESOLVED_ORDERS


def _type_keys() -> dict[str, tuple[str, ...]]:
    """resource type -> the prefetch keys that bring it (for a resource skipped as unreadable)."""
    out: dict[str, list[str]] = {}
    for key, (_name, types) in k.CATEGORIES.items():
        for rtype in types:
            out.setdefault(rtype, []).append(key)
    return {rtype: tuple(keys) for rtype, keys in out.items()}


TYPE_KEYS = _type_keys()

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
    applies_to=(NALTREXONE_ORDERS, OPIOID_ORDERS, UNRESOLVED_ORDERS, ON_NALTREXONE),
)
def data_incomplete(ctx: NaltrexoneContext) -> Finding | None:
    """Data the checks need is missing or unreadable: list what, why, and which checks could not run."""
    record, order = ctx.record, ctx.order
    if order.unresolved_reference:
        return _order_not_checked(ctx)
    crashed = list(ctx.failed)
    skipped = record.skipped_resources
    if not record.unavailable and not skipped and not crashed:
        return None
    naltrexone_order = order.has("opioid-antagonist-therapy")
    checks_by_key = ctx.readers  # this order's checks that read each key (from the rules' `needs`)
    short = w.short_name(order)

    lines: list[str] = []
    affected: list[str] = []
    for key, reason in record.unavailable.items():
        checks = checks_by_key.get(key, ())
        affected += [c for c in checks if c not in affected]
        lines.append(f"- **{k.category(key)}** could not be obtained: {reason}. Checks that could not run: "
                     f"{_ids(checks)}")
    for group in skipped.groups():  # summarised: counts per type and reason, the first few ids
        keys = TYPE_KEYS.get(group.resource_type, ())
        checks = tuple(dict.fromkeys(c for key in keys for c in checks_by_key.get(key, ())))
        affected += [c for c in checks if c not in affected]
        lines.append(f"{skipped_line(group)} Checks that may be affected: {_ids(checks)}")
    for check in crashed:
        if check not in affected:
            affected.append(check)
        lines.append(f"- Not completed: check '{check}' could not be completed (internal error, logged)")

    problems = [f"{join_and([k.category(key) for key in record.unavailable])} could not be read"] \
        if record.unavailable else []
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
    about = "this order" if order.is_draft else "this patient's naltrexone therapy"
    lead = (f"Some naltrexone checks could **not** run completely for {about}: {_ids(affected)}. No card from "
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


def skipped_line(group: SkipGroup) -> str:
    """One evidence line for a group of skipped records: how many, of what type, why, the first few ids."""
    refs = ", ".join(f"`{_code(r)}`" for r in group.first_refs)
    more = f" and {group.count - len(group.first_refs)} more" if group.count > len(group.first_refs) else ""
    plural = "s" if group.count > 1 else ""
    return f"- Skipped: {group.count} {_code(group.resource_type)} record{plural} ({group.reason}): {refs}{more}."


def _code(value: str) -> str:
    """A resource reference or type as shown inside `code` marks (no backticks or line breaks of its own)."""
    return " ".join(value.replace("`", "'").split())[:140]


def _order_not_checked(ctx: NaltrexoneContext) -> Finding:
    """A draft whose medicine is unknown: say that no check ran on it, and why."""
    order = ctx.order
    ref = order.unresolved_reference or "?"
    why = ctx.record.unresolved_orders.get(order.ref, "it could not be read")
    detail = w.detail(
        f"The draft order `{order.ref}` could **not** be checked: its medication is a reference "
        f"(`{_code(ref)[:80]}`) that could not be read, so the service cannot tell whether it is naltrexone, an "
        "opioid or neither. No naltrexone or opioid check ran on it.",
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


def join_and(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


RULES: tuple[Rule, ...] = (data_incomplete,)
