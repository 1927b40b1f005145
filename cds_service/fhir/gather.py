"""Gathering: prefetch first, the EHR's FHIR server for what is missing, one result for the record builder.

Whatever path the data took, the record builder sees the same thing: the patient's resources (de-duplicated,
other patients' dropped), the Medications they reference, and the categories that could not be obtained.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cds_service.errors import PreconditionFailed
from cds_service.fhir.read import OTHER_PATIENT, bundle_resources, reference_id, resource_key
from cds_service.hooks.prefetch import PrefetchTemplate, fill_tokens, read_prefetch
from cds_service.hooks.request import HookCall

log = logging.getLogger(__name__)

# where each resource type names its patient
_PATIENT_ELEMENT = {
    "Condition": "subject",
    "MedicationRequest": "subject",
    "MedicationStatement": "subject",
    "MedicationDispense": "subject",
    "MedicationAdministration": "subject",
    "Observation": "subject",
    "AllergyIntolerance": "patient",
}


class FetchError(Exception):
    """A category could not be fetched; `reason` is shown to the clinician (no secrets)."""

    def __init__(self, reason: str, kind: str = "bad-answer") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # the metrics' outcome class: bad-answer, http-status, timeout, refused


@dataclass(frozen=True, slots=True)
class FetchResult:
    resources: dict[str, list[dict]]  # key -> resources
    failed: dict[str, str]  # key -> reason


class Fetcher(Protocol):
    """Gets what prefetch did not bring from the EHR's FHIR server (implemented in `fhir.client`)."""

    async def fetch(self, queries: dict[str, str], continue_from: dict[str, str]) -> FetchResult:
        """Run the queries (key -> relative URL) and follow `next` pages from `continue_from`, concurrently."""
        ...

    async def read_many(self, refs: Sequence[str]) -> dict[str, dict]:
        """Read resources by relative reference (e.g. Medications a MedicationRequest points to); the ones it
        could not read are in `failed_reads` (reference -> reason)."""
        ...

    failed_reads: dict[str, str]


@dataclass(slots=True)
class Gathered:
    patient_id: str
    resources: list[dict] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # category -> reason
    by_key: dict[str, str] = field(default_factory=dict)  # how each key was obtained: prefetch|fhir|failed
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (ref, reason) left out: another patient's
    deadline: float | None = None  # time.monotonic() of the FHIR deadline when the FHIR server was used

    def of_type(self, resource_type: str) -> list[dict]:
        return [r for r in self.resources if r.get("resourceType") == resource_type]


def _belongs_to(resource: dict, patient_id: str) -> bool:
    rtype = resource.get("resourceType")
    if rtype == "Patient":
        return resource.get("id") == patient_id
    element = _PATIENT_ELEMENT.get(rtype)  # type: ignore[arg-type]
    if element is None or element not in resource:
        return True  # Medication and friends have no patient; a missing subject is not another patient
    owner = reference_id(resource.get(element), "Patient")
    return owner is None or owner == patient_id


def merge(patient_id: str, groups: Sequence[list[dict]],
          dropped: list[tuple[str, str]] | None = None) -> list[dict]:
    """De-duplicate by Type/id and keep only the context patient's resources, `Patient` included.

    Another patient's resources (a Patient whose id is not `context.patientId`, a Condition whose subject is
    someone else) are left out and appended to `dropped` as (ref, reason), so the card can say so; the log
    gets one line with their count."""
    seen: set[tuple[str, str]] = set()
    out: list[dict] = []
    own = f"Patient/{patient_id}"  # the usual spelling: accepted without parsing the reference (profiled)
    foreign = 0
    for group in groups:
        for r in group:
            rtype = r.get("resourceType")
            if not isinstance(rtype, str):
                continue  # not a FHIR resource (e.g. `resourceType: ["Condition"]`): nothing can read it
            rid = r.get("id")
            if isinstance(rid, str) and rid:
                if (rtype, rid) in seen:
                    continue
                seen.add((rtype, rid))
            if rtype == "Patient":
                mine = rid == patient_id
            else:
                element = _PATIENT_ELEMENT.get(rtype)
                owner = r.get(element) if element is not None else None
                mine = owner is None or (isinstance(owner, dict) and owner.get("reference") == own) \
                    or _belongs_to(r, patient_id)
            if not mine:
                foreign += 1
                if dropped is not None:
                    dropped.append((resource_key(r) or rtype[:64], OTHER_PATIENT))
                continue
            out.append(r)
    if foreign:
        log.warning("ignored %d resources of another patient than the hook's patient", foreign)
    return out


async def gather(call: HookCall, templates: Sequence[PrefetchTemplate], fetcher: Fetcher | None) -> Gathered:
    """Collect the patient data the templates describe, or raise 412 when none of it can be had."""
    pre = read_prefetch(call.prefetch, templates)
    by_name = {t.key: t for t in templates}
    got: dict[str, list[dict]] = dict(pre.resources)
    failed: dict[str, str] = dict(pre.failed)
    by_key = dict.fromkeys(got, "prefetch")

    needs_fetch = pre.missing or pre.next_links
    if needs_fetch and fetcher is None:
        if pre.missing:
            names = ", ".join(pre.missing)
            raise PreconditionFailed(
                f"Prefetch did not include {names}, and the request has no fhirServer to fetch them from. Send "
                "these prefetch keys (see GET /cds-services) or a fhirServer (with fhirAuthorization unless it is "
                "open).",
                expression=[f"prefetch.{k}" for k in pre.missing],
            )
        for key in pre.next_links:
            failed[key] = "only the first page was sent and there is no FHIR access to read the rest"
    elif needs_fetch and fetcher is not None:
        queries = {k: fill_tokens(by_name[k].query, call.context) for k in pre.missing}
        result = await fetcher.fetch(queries, dict(pre.next_links))
        for key, resources in result.resources.items():
            got[key] = got.get(key, []) + resources
            by_key.setdefault(key, "fhir")
        failed.update(result.failed)

    for key in failed:
        got.pop(key, None)
        by_key[key] = "failed"
    if not got:
        reasons = "; ".join(f"{k}: {v}" for k, v in failed.items())
        raise PreconditionFailed(f"None of the patient data could be obtained ({reasons}).",
                                 expression=[f"prefetch.{k}" for k in failed])

    dropped: list[tuple[str, str]] = []
    # in the templates' order, whichever way each key arrived: the cards list evidence in the same order
    resources = merge(call.patient_id, [got[t.key] for t in templates if t.key in got], dropped)
    if fetcher is not None:
        resources = await _resolve_medications(resources, fetcher, call.patient_id, dropped)
    unavailable = {by_name[k].category: reason for k, reason in failed.items()}
    return Gathered(patient_id=call.patient_id, resources=resources, unavailable=unavailable, by_key=by_key,
                    dropped=dropped, deadline=getattr(fetcher, "deadline", None) if needs_fetch else None)


async def _resolve_medications(resources: list[dict], fetcher: Fetcher, patient_id: str,
                               dropped: list[tuple[str, str]]) -> list[dict]:
    """Read `Medication/x` references that point outside the request (one batch, concurrently)."""
    have = {resource_key(r) for r in resources}
    wanted: list[str] = []
    for r in resources:
        ref = r.get("medicationReference")
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            target = ref["reference"]
            mid = reference_id(ref, "Medication")
            if mid and not target.startswith("#") and f"Medication/{mid}" not in have:
                wanted.append(f"Medication/{mid}")
    if not wanted:
        return resources
    found = await fetcher.read_many(sorted(set(wanted)))
    return merge(patient_id, [resources, list(found.values())], dropped)


async def resolve_draft_medications(call: HookCall, drafts: Sequence[object], fetcher: Fetcher | None
                                    ) -> tuple[list[dict], dict[str, str]]:
    """Medications that drafts reference but the draftOrders do not carry: from the prefetch (an `_include`d
    entry under any key), else read from the FHIR server. Returns (found, reference -> why it is missing)."""
    wanted = [ref for d in drafts if (ref := getattr(d, "unresolved_reference", None))]
    if not wanted:
        return [], {}
    prefetched = {}
    if isinstance(call.prefetch, dict):
        for value in call.prefetch.values():
            for r in bundle_resources(value) if isinstance(value, dict) else ():
                if r.get("resourceType") == "Medication" and isinstance(r.get("id"), str):
                    prefetched[f"Medication/{r['id']}"] = r
    found: list[dict] = []
    reasons: dict[str, str] = {}
    to_read: dict[str, str] = {}  # Medication/id -> the reference as written
    for ref in dict.fromkeys(wanted):
        if ref.startswith("#"):
            reasons[ref] = f"the order's contained Medication '{ref[:64]}' is not in the order"
            continue
        mid = reference_id({"reference": ref}, "Medication")
        if mid is None:
            reasons[ref] = f"its medicationReference '{ref[:80]}' is not a reference to a Medication"
        elif f"Medication/{mid}" in prefetched:
            found.append(prefetched[f"Medication/{mid}"])
        else:
            to_read[f"Medication/{mid}"] = ref
    if to_read and fetcher is None:
        for ref in to_read.values():
            reasons[ref] = (f"the Medication '{ref[:80]}' is neither in the request nor readable: the request has "
                            "no fhirServer to read it from")
    elif to_read and fetcher is not None:
        read = await fetcher.read_many(list(to_read))
        found.extend(read.values())
        failures = getattr(fetcher, "failed_reads", {})
        for key, ref in to_read.items():
            if key not in read:
                why = failures.get(key, "it was not found")
                reasons[ref] = f"the Medication '{ref[:80]}' is not in the request, and the FHIR server could not " \
                               f"supply it: {why}"
    return found, reasons
