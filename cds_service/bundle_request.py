"""A complete hook request built from a patient Bundle and a draft order (CLI `evaluate --order`, preview).

The Bundle's resources are split into the rule pack's prefetch keys the way an EHR would answer the prefetch
templates, so the request goes through exactly the pipeline an EHR's request goes through.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from cds_service.fhir.read import bundle_resources, codings
from cds_service.hooks.prefetch import PrefetchTemplate
from cds_service.rules.base import RulePack
from cds_service.terminology import Terminology
from cds_service.terminology.systems import LOINC


def draft_orders(order: Any) -> list[dict]:
    """The draft order resources: one resource, or the entries of a Bundle of them."""
    if not isinstance(order, dict) or not isinstance(order.get("resourceType"), str):
        raise ValueError("the draft order must be a FHIR resource (e.g. a MedicationRequest) or a Bundle of them")
    if order["resourceType"] == "Bundle":
        resources = [r for r in bundle_resources(order) if isinstance(r, dict)]
        if not resources:
            raise ValueError("the draft-order Bundle has no resources")
        return resources
    return [order]


def _observation_classes(template: PrefetchTemplate, terminology: Terminology) -> frozenset[str] | None:
    """The Observation classes a template's search asks for (from its `code=a,b` LOINC codes), or None when it
    names no code: read from the template itself, so any pack's templates split the same way."""
    values = parse_qs(urlsplit(template.query).query).get("code")
    if not values:
        return None
    codes = {c.split("|")[-1] for v in values for c in v.split(",") if c}
    return frozenset().union(*(terminology.observation_classes(LOINC, c) for c in codes))


def request_from_bundle(bundle: Any, order: Any | None, hook: str, pack: RulePack,
                        hook_instance: str = "bundle-request") -> dict[str, Any]:
    """A hook request whose prefetch is the patient `bundle`, split into `pack`'s prefetch keys; `order` (a
    resource or a Bundle of them) becomes `draftOrders`, None for a hook without them (patient-view).

    Raises ValueError (with a message for the user) when the bundle is not a Bundle or has no Patient.
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ValueError("the patient data must be a FHIR Bundle")
    resources = [r for r in bundle_resources(bundle) if isinstance(r, dict)]
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), None)
    if patient is None or not isinstance(patient.get("id"), str):
        raise ValueError("the patient Bundle has no Patient (with an id)")
    orders = draft_orders(order) if order is not None else []
    terminology = pack.terminology
    prefetch: dict[str, Any] = {}
    for template in pack.prefetch:
        if template.resource_types == ("Patient",):
            prefetch[template.key] = patient
            continue
        chosen = [r for r in resources if r.get("resourceType") in template.resource_types]
        classes = _observation_classes(template, terminology) if "Observation" in template.resource_types else None
        if classes is not None:  # what the template's search would return: its codes' classes only
            chosen = [r for r in chosen if r.get("resourceType") != "Observation"
                      or any(terminology.observation_classes(s, c) & classes for s, c, _d in codings(r.get("code")))]
        prefetch[template.key] = {"resourceType": "Bundle", "type": "searchset", "total": len(chosen),
                                  "entry": [{"resource": r} for r in chosen]}
    context: dict[str, Any] = {"patientId": patient["id"], "userId": "Practitioner/cli"}
    if orders:
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": r} for r in orders]}
        if hook == "order-select":
            context["selections"] = [f"{r.get('resourceType')}/{r.get('id')}" for r in orders]
    return {"hook": hook, "hookInstance": hook_instance, "context": context, "prefetch": prefetch}
