"""Shared clinical wording, sources, evidence lines and suggestions of the naltrexone pack."""

from __future__ import annotations

import re
from datetime import date

from cds_service.fhir.read import FHIR_ID, pruned
from cds_service.record.model import ConditionEntry, LabResult, MedicationUse
from cds_service.rules.base import ActionSpec, LinkSpec, OverrideReasonSpec, RuleContext, SuggestionSpec

SOURCE_LABEL = "Naltrexone safety checks (cds-naltrexone)"
LABEL_URL = "https://dailymed.nlm.nih.gov/dailymed/search.cfm?labeltype=all&query=naltrexone"
VIVITROL_URL = "https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=cd11c435-b0f0-4bb9-ae78-60f101f3703f"
LABEL_LINK = LinkSpec("Naltrexone labeling (DailyMed)", LABEL_URL)
VIVITROL_LINK = LinkSpec("Vivitrol (naltrexone extended-release) labeling", VIVITROL_URL)


def label_links(*meds: MedicationUse) -> tuple[LinkSpec, ...]:
    """The labeling to link: naltrexone's, plus Vivitrol's when an extended-release injection is involved."""
    if any("extended-release-injection" in m.product_classes for m in meds):
        return (LABEL_LINK, VIVITROL_LINK)
    return (LABEL_LINK,)

SOURCE_DOC = "product source document (Naltrexone: Effects, Uses & Risks)"

BENEFIT = OverrideReasonSpec("benefit-outweighs-risk", "Benefit outweighs risk; patient will be monitored")
RECORD_WRONG = OverrideReasonSpec("record-incorrect", "The record is wrong or out of date for this patient")
SPECIALIST = OverrideReasonSpec("specialist-supervised", "Started under addiction-medicine or specialist supervision")
# offered with the HL7 non-adherence reason code that fits it (CDS Hooks 3.0 ballot; see cds_service/store/
# non-adherence-reasons.json), so analytics across services can compare it; the others have no fitting code
ALREADY_DONE = OverrideReasonSpec("action-completed", "Already addressed (e.g. opioid stopped, test done)",
                                  system="http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes")
HEPATOLOGY = OverrideReasonSpec("hepatology-approved", "Hepatology reviewed and approved naltrexone")

DEFAULT_REASONS = (BENEFIT, RECORD_WRONG, SPECIALIST, ALREADY_DONE)


def drug_name(order: MedicationUse) -> str:
    """How the detail names the ordered drug: the EHR's own display, kept readable."""
    name = order.display
    return name if len(name) <= 80 else name[:77].rstrip() + "..."


def short_name(order: MedicationUse) -> str:
    """How a summary (< 140 characters) names the drug: its display if short, else its ingredients."""
    if len(order.display) <= 32:
        return order.display
    names = order.ingredient_names("opioid-antagonist-therapy") or order.ingredient_names()
    return "/".join(names) if names else order.display[:32]


def days_ago(day: date, today: date) -> int:
    return (today - day).days


def when(day: date | None) -> str:
    return day.isoformat() if day else "date unknown"


def medication_line(m: MedicationUse, today: date) -> str:
    """Evidence line of a medication; a draft of this session has no past exposure to show."""
    if m.is_draft:
        parts = [f"**{m.display}** (`{m.ref}`): {m.resource_type} draft, ordered in this ordering session"]
    else:
        parts = [f"**{m.display}** (`{m.ref}`): {m.resource_type} {m.status}"]
        if m.start:
            parts.append(f"started {m.start.isoformat()}")
    if not m.is_current and not m.is_draft and m.end:
        parts.append(f"last exposure {m.end.isoformat()} ({days_ago(m.end, today)} days ago)")
    elif m.is_current:
        parts.append("current")
    if m.matched_by == "text":
        parts.append("recognised from its name in the text (no recognised code): please verify")
    if m.date_note and not m.is_draft:
        parts.append(f"**imprecise date**: {m.date_note}")
    return "- " + ", ".join(parts)


def condition_line(c: ConditionEntry) -> str:
    codes = ", ".join(code for _s, code in c.codes[:3])
    status = c.clinical_status or "status unknown"
    if c.verification_status:
        status += f", {c.verification_status}"
    onset = f", onset {c.onset.isoformat()}" if c.onset else ""
    where = f"`{c.ref}`, {codes}" if codes else f"`{c.ref}`"
    text = (", recognised from the text (no recognised code): please verify" if c.matched_by == "text" else "")
    return f"- **{c.display}** ({where}): {status}{onset}{text}"


def lab_line(lab: LabResult, uln: float | None = None, uln_source: str | None = None) -> str:
    value = f"{lab.value:g} {lab.unit}" if lab.value is not None else (lab.original or "no value")
    if lab.original and lab.value is not None and lab.unit and lab.original.split()[-1:] != [lab.unit]:
        value += f" (reported as {lab.original})"
    on = when(lab.when) if lab.first_day == lab.when else f"{when(lab.first_day)}..{when(lab.when)}"
    line = f"- **{lab.display}** (`{lab.ref}`) on {on}: {value}"
    if lab.reference_text:
        line += f", reference range {lab.reference_text}"
    if uln is not None and lab.value is not None:
        source = "from the result's reference range" if uln_source == "referenceRange" else "site default ULN"
        line += f"; ULN {uln:g} U/L ({source}) → **{lab.value / uln:.1f}× ULN**"
    elif lab.positive is not None:
        line += f" → **{'positive' if lab.positive else 'negative'}**"
    if lab.date_note:
        line += f"; **imprecise date**: {lab.date_note}"
    return line


def detail(lead: str, why: str, evidence: list[str], source: str) -> str:
    return f"{lead}\n\n{why}\n\n**Evidence**\n" + "\n".join(evidence) + f"\n\n**Source**: {source}"


def remove_draft(ctx: RuleContext, label: str | None = None, recommended: bool = True) -> SuggestionSpec:
    order = ctx.order
    return SuggestionSpec(
        label=label or f"Remove the {drug_name(order)} order",
        actions=(ActionSpec("delete", f"Remove the draft order {order.ref}", resource_id=order.ref),),
        recommended=recommended,
    )


_FHIR_ID = re.compile(FHIR_ID)


def updatable(resource: dict | None) -> bool:
    """Whether an `update` action can carry this resource: it needs a valid FHIR id to say what it replaces."""
    return isinstance(resource, dict) and isinstance(resource.get("id"), str) \
        and _FHIR_ID.fullmatch(resource["id"]) is not None


def stop_medication(m: MedicationUse, label: str) -> SuggestionSpec | None:
    """Stop a current medication: delete it if it is a draft, else update it to status stopped."""
    if m.is_draft:
        return SuggestionSpec(label, (ActionSpec("delete", f"Remove the draft order {m.ref}", resource_id=m.ref),))
    if not updatable(m.raw) or m.resource_type not in {"MedicationRequest", "MedicationStatement"}:
        return None
    updated = pruned(m.raw)
    updated["status"] = "stopped"
    return SuggestionSpec(label, (ActionSpec("update", f"Set {m.ref} to status 'stopped'", resource=updated),))
