"""What gathering needs from the FHIR side: the fetcher's interface and its results, and the merge of resource
groups (de-duplicated, other patients' dropped). The gathering itself, which reads the hook call's prefetch,
lives beside the pipeline (`cds_service.gather`): nothing in `fhir` imports the CDS Hooks layer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cds_service.fhir.read import OTHER_PATIENT, PATIENT_ELEMENT, reference_id, resource_key

log = logging.getLogger(__name__)



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


def _belongs_to(resource: dict, patient_id: str) -> bool:
    rtype = resource.get("resourceType")
    if rtype == "Patient":
        return resource.get("id") == patient_id
    element = PATIENT_ELEMENT.get(rtype)  # type: ignore[arg-type]
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
    # profiled (every resource of every call): the ids seen are kept per resource type, and the type's set and
    # patient element are looked up when the type changes (a Bundle holds one type), not per resource; a set
    # of (type, id) tuples cost a tuple and its hash per resource
    seen: dict[str, set[str]] = {}
    out: list[dict] = []
    own = f"Patient/{patient_id}"  # the usual spelling: accepted without parsing the reference (profiled)
    foreign = 0
    last_type: str | None = None
    ids: set[str] = set()
    element: str | None = None
    for group in groups:
        for r in group:
            rtype = r.get("resourceType")
            if rtype.__class__ is not str and not isinstance(rtype, str):
                continue  # not a FHIR resource (e.g. `resourceType: ["Condition"]`): nothing can read it
            if rtype != last_type:
                last_type = rtype
                ids = seen.setdefault(rtype, set())
                element = PATIENT_ELEMENT.get(rtype)
            rid = r.get("id")
            if rid and (rid.__class__ is str or isinstance(rid, str)):
                if rid in ids:
                    continue
                ids.add(rid)
            if element is not None:
                owner = r.get(element)
                mine = owner is None or (owner.__class__ is dict and owner.get("reference") == own) \
                    or _belongs_to(r, patient_id)
            else:  # the Patient itself, or a type no patient owns (Medication)
                mine = rtype != "Patient" or rid == patient_id
            if not mine:
                foreign += 1
                if dropped is not None:
                    dropped.append((resource_key(r) or rtype[:64], OTHER_PATIENT))
                continue
            out.append(r)
    if foreign:
        log.warning("ignored %d resources of another patient than the hook's patient", foreign)
    return out
