"""Builds the PatientRecord from gathered resources: one code path for prefetched and fetched data."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

from cds_service.bounded import OutOfRange
from cds_service.fhir.read import OTHER_PATIENT, date_span, resource_key
from cds_service.record.clinical import Unreadable, allergy_entry, condition_entry, lab_result
from cds_service.record.medications import MedicationIndex, medication_use
from cds_service.record.model import MedicationUse, PatientRecord
from cds_service.terminology import Terminology

log = logging.getLogger(__name__)

DEADLINE_EVERY = 256  # resources read between two looks at the clock
MEDICATION_TYPES = {"MedicationRequest", "MedicationStatement", "MedicationDispense", "MedicationAdministration"}


def medication_index(resources: Iterable[dict]) -> MedicationIndex:
    return MedicationIndex({
        f"Medication/{r['id']}": r
        for r in resources
        if r.get("resourceType") == "Medication" and isinstance(r.get("id"), str)
    })


def draft_uses(draft_orders: list[dict], index: MedicationIndex, terminology: Terminology,
               today: date, patient_id: str) -> list[MedicationUse]:
    """The session's draft medication orders (cheap: the only resources read before deciding to evaluate)."""
    uses = []
    for r in draft_orders:
        if r.get("resourceType") != "MedicationRequest":
            continue
        subject = r.get("subject")
        if isinstance(subject, dict) and isinstance(subject.get("reference"), str) \
                and not subject["reference"].endswith(f"Patient/{patient_id}"):
            log.warning("ignored draft %s: it is for another patient", resource_key(r))
            continue
        try:
            use = medication_use(r, index, terminology, today, draft=True)
        except (TypeError, ValueError, AttributeError, KeyError, ArithmeticError, RecursionError):
            log.warning("draft %s could not be read", resource_key(r))
            continue
        if use is not None:
            uses.append(use)
    return uses


def build_record(patient_id: str, resources: list[dict], drafts: list[MedicationUse], today: date,
                 terminology: Terminology, unavailable: dict[str, str] | None = None,
                 index: MedicationIndex | None = None, history_days: int | None = None,
                 dropped: Iterable[tuple[str, str]] | None = None, deadline: float | None = None,
                 categories: Mapping[str, Sequence[str]] | None = None) -> PatientRecord:
    """`history_days`: labs and past medication use older than this are left out (the pack says how far its
    rules look back). `dropped`: (ref, reason) of resources gathering left out (another patient's), for the
    data-incomplete card.

    A resource that cannot be read (malformed, or a number or date out of range) is skipped and counted,
    never allowed to fail the call: the log gets one aggregated line, not one line per resource.

    `deadline` (time.monotonic()): reading stops there, and the categories (`categories`: resource type ->
    category names) of the resources not read become unavailable: a FHIR server that sends 100,000 records
    cannot hold the call past its deadline, and what was not read is reported, never taken as absent."""
    not_before = today - timedelta(days=history_days) if history_days is not None else None
    record = PatientRecord(patient_id=patient_id, today=today, drafts=drafts, unavailable=dict(unavailable or {}))
    skipped = record.skipped_resources
    for draft in drafts:
        for problem in draft.problems:
            skipped.add(draft.ref, f"draft order: {problem}")
    for ref, reason in dropped or ():
        skipped.add(ref, reason)
    draft_refs = {d.ref for d in drafts}
    draft_ids = {ref.partition("/")[2] for ref in draft_refs}  # a cheap first test (most records are no draft)
    index = index if index is not None else medication_index(resources)
    for n, r in enumerate(resources):
        if deadline is not None and n % DEADLINE_EVERY == 0 and n and time.monotonic() > deadline:
            _out_of_time(record, resources[n:], categories or {})
            break
        rtype = r.get("resourceType")
        try:
            if rtype == "Patient":
                if r.get("id") != patient_id:  # gathering drops them; a record never reads another's age
                    skipped.add(resource_key(r) or "Patient", OTHER_PATIENT)
                    continue
                born = date_span(r.get("birthDate"))  # a partial birthDate: the youngest the patient can be
                record.birth_date = born.latest if born is not None else None
            elif rtype in MEDICATION_TYPES:
                rid = r.get("id")
                if r.get("status") == "draft" or (isinstance(rid, str) and rid in draft_ids
                                                  and f"{rtype}/{rid}" in draft_refs):
                    continue  # drafts of this session come from draftOrders; others' drafts do not count
                use = medication_use(r, index, terminology, today, not_before=not_before)
                if use is not None:
                    if use.matched_by == "none" and use.display.startswith("unresolved"):
                        skipped.add(use.ref, f"its medication ({use.display[11:80]}) could not be read")
                    record.medications.append(use)
            elif rtype == "Condition":
                entry = condition_entry(r, terminology)
                if entry is not None:
                    record.conditions.append(entry)
            elif rtype == "Observation":
                lab = lab_result(r, terminology, not_before, today)
                if lab is not None:
                    record.labs.append(lab)
            elif rtype == "AllergyIntolerance":
                allergy = allergy_entry(r, terminology)
                if allergy is not None:
                    record.allergies.append(allergy)
        except Unreadable as err:
            ref, _, why = str(err).partition(": ")
            skipped.add(ref, why or "could not be read")
        except OutOfRange as err:
            skipped.add(resource_key(r) or _type_name(rtype), f"a value is out of range ({err})")
        except (TypeError, ValueError, AttributeError, KeyError, ArithmeticError, RecursionError) as err:
            skipped.add(resource_key(r) or _type_name(rtype), f"could not be read ({type(err).__name__})")
    if skipped:
        log.warning("record: %d resources skipped: %s", len(skipped), skipped.log_summary())
    return record


def _out_of_time(record: PatientRecord, unread: Sequence[dict], categories: Mapping[str, Sequence[str]]) -> None:
    types = {r.get("resourceType") for r in unread}
    reason = f"too much data to read within the deadline ({len(unread)} records not read)"
    for rtype in sorted(t for t in types if isinstance(t, str)):
        for category in categories.get(rtype, ()):
            record.unavailable.setdefault(category, reason)
    log.warning("record: deadline reached, %d resources not read", len(unread))


def _type_name(rtype: object) -> str:
    return rtype[:64] if isinstance(rtype, str) else "resource"
