"""Gathering: prefetch first, the EHR's FHIR server for what is missing, one result for the record builder.

Whatever path the data took, the record builder sees the same thing: the patient's resources (de-duplicated,
other patients' dropped), the Medications they reference, and the keys that could not be obtained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cds_service.errors import PreconditionFailed
from cds_service.fhir.gather import Fetcher, merge
from cds_service.fhir.read import reference_id, resource_key
from cds_service.hooks.prefetch import PrefetchTemplate, fill_tokens, read_prefetch
from cds_service.hooks.request import HookCall


@dataclass(slots=True)
class Gathered:
    patient_id: str
    resources: list[dict] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # prefetch key -> reason
    by_key: dict[str, str] = field(default_factory=dict)  # how each key was obtained: prefetch|fhir|failed

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
                f"Prefetch did not include {names}, and the request has no fhirServer with fhirAuthorization "
                "to fetch them from. Send these prefetch keys (see GET /cds-services) or FHIR access.",
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

    resources = merge(call.patient_id, list(got.values()))
    if fetcher is not None:
        resources = await _resolve_medications(resources, fetcher, call.patient_id)
    return Gathered(patient_id=call.patient_id, resources=resources, unavailable=dict(failed), by_key=by_key)


async def _resolve_medications(resources: list[dict], fetcher: Fetcher, patient_id: str) -> list[dict]:
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
    return merge(patient_id, [resources, list(found.values())])
