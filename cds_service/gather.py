"""Gathering: prefetch first, the EHR's FHIR server for what is missing, one result for the record builder.

Whatever path the data took, the record builder sees the same thing: the patient's resources (de-duplicated,
other patients' dropped), the Medications they reference, and the keys that could not be obtained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cds_service.errors import PreconditionFailed
from cds_service.fhir.gather import Fetcher, merge
from cds_service.fhir.read import bundle_resources, reference_id, resource_key
from cds_service.hooks.prefetch import PrefetchTemplate, fill_tokens, read_prefetch
from cds_service.hooks.request import HookCall


@dataclass(slots=True)
class Gathered:
    patient_id: str
    resources: list[dict] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # prefetch key -> reason
    by_key: dict[str, str] = field(default_factory=dict)  # how each key was obtained: prefetch|fhir|failed
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (ref, reason) left out: another patient's
    deadline: float | None = None  # time.monotonic() of the FHIR deadline when the FHIR server was used

    def of_type(self, resource_type: str) -> list[dict]:
        return [r for r in self.resources if r.get("resourceType") == resource_type]


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
    return Gathered(patient_id=call.patient_id, resources=resources, unavailable=dict(failed), by_key=by_key,
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
