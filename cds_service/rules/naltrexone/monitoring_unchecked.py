"""patient-view: the medication records that decide whether naltrexone therapy is current could not all be
read, and none of those read shows it. Saying nothing would read as "not on naltrexone, nothing to monitor".

The clinical decision (what a CDS committee and an addiction-medicine reviewer would accept at chart opening,
where every card competes for attention):

- one **info** card, not a warning: nothing is known to be wrong, and most patients are not on naltrexone; but
  the clinician learns that the liver-test, injection, naloxone and opioid checks did not run, which records
  could not be read and why, so that a patient on a monthly injection given elsewhere is not passed over;
- no suggestions (there is nothing to order on an unknown therapy) and no override reasons (info);
- only when the therapy-deciding data failed (a medication query or prefetch key, or an unreadable medication
  record of this patient; another patient's records left out do not count): a patient whose medications were
  read and show no naltrexone still gets `{"cards": []}` without any lab being read; nothing else (labs,
  conditions) is read for this card either;
- when none of the medication data could be had at all, the service answers 412 as CDS Hooks requires
  (`gather`), naming the keys: that is not a silent all-clear.
"""

from __future__ import annotations

from cds_service.fhir.read import OTHER_PATIENT
from cds_service.rules.base import Finding, Rule, rule
from cds_service.rules.naltrexone import prefetch as k
from cds_service.rules.naltrexone import wording as w
from cds_service.rules.naltrexone.config import NaltrexoneContext
from cds_service.rules.naltrexone.data import join_and, skipped_line
from cds_service.rules.naltrexone.scopes import THERAPY_UNCHECKED

RULE_ID = "naltrexone-monitoring-unchecked"
TITLE = "Naltrexone monitoring could not be checked"


def _short(key: str) -> str:
    """A key's category without its explanation in brackets ("medication administrations")."""
    return k.category(key).split(" (")[0]


@rule(
    id=RULE_ID, title=TITLE, indicators=("info",),
    trigger="Patient view: a medication query or prefetch key that decides whether naltrexone therapy is current "
    "failed, or one of its records was unreadable, and none of the medication records read shows current "
    "naltrexone (a patient whose medications were all read and show none gets no card). When no medication data "
    "at all could be obtained, the answer is 412.",
    suggestions="None; the detail names each record category that could not be read with the reason, the "
    "unreadable records, and what was read.",
    source="Service design: a check that could not run must not look like a check that passed.",
    applies_to=(THERAPY_UNCHECKED,), needs=k.MEDICATION_KEYS,
)
def naltrexone_monitoring_unchecked(ctx: NaltrexoneContext) -> Finding | None:
    """Whether naltrexone is current could not be checked: say which records could not be read, and why."""
    record = ctx.record
    failed = {key: reason for key, reason in record.unavailable.items() if key in k.MEDICATION_KEYS}
    unreadable = [g for g in record.skipped_resources.groups() if g.reason != OTHER_PATIENT]
    if not failed and not unreadable:
        return None
    problems = [f"{join_and([_short(key) for key in failed])} could not be read"] if failed else []
    count = sum(g.count for g in unreadable)
    if count:
        problems.append(f"{count} medication record{'s' if count > 1 else ''} unreadable")
    summary = f"{TITLE}: {'; '.join(problems)}"
    if len(summary) >= 140:
        summary = f"{TITLE}: part of the medication records could not be read"
    lines = [f"- **{k.category(key)}** could not be obtained: {reason}." for key, reason in failed.items()]
    lines += [skipped_line(g) for g in unreadable]
    read = [_short(key) for key in k.MEDICATION_KEYS if key not in failed]
    if read:
        lines.append(f"- Read, and showing no current naltrexone: {join_and(read)}.")
    detail = w.detail(
        "Whether this patient is on **naltrexone** could **not** be checked: part of the medication records that "
        "show it could not be read, and none of those read shows current naltrexone. No card about liver tests, "
        "the next extended-release injection, rescue naloxone or an opioid on record does **not** mean there is "
        "nothing to monitor.",
        "If the patient takes naltrexone (tablets, or a monthly extended-release injection, perhaps given at "
        "another clinic), check in the chart when the liver tests and the next injection are due, whether the "
        "patient has rescue naloxone, and whether an opioid is on record. The checks run again once the records "
        "can be read (ask the EHR team about the failed query if this card keeps coming back).",
        lines,
        "service design (cds-naltrexone): a check that could not run is reported, never silently treated as "
        "passed.",
    )
    return Finding(
        rule_id=RULE_ID, title=TITLE, indicator="info", summary=summary, detail=detail, order_ref=ctx.order.ref,
        evidence=tuple(ref for g in unreadable for ref in g.first_refs), source_label=w.SOURCE_LABEL,
    )


RULES: tuple[Rule, ...] = (naltrexone_monitoring_unchecked,)
