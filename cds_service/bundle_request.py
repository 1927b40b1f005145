"""A complete hook request built from a patient Bundle and a draft order (CLI `evaluate --order`, preview).

The Bundle's resources are split into the rule pack's prefetch keys the way an EHR would answer the prefetch
templates, so the request goes through exactly the pipeline an EHR's request goes through.
"""

from __future__ import annotations

from typing import Any

from cds_service.fhir.read import bundle_resources, codings
from cds_service.rules.base import RulePack

# which Observation classes each Observation prefetch key carries (the templates filter by LOINC code)
OBSERVATION_KEYS = {"liverTests": {"alt", "ast"}, "urineDrugScreens": {"urine-opioid-screen", "urine-naltrexone"}}


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


def request_from_bundle(bundle: Any, order: Any, hook: str, pack: RulePack,
                        hook_instance: str = "bundle-request") -> dict[str, Any]:
    """A hook request whose prefetch is the patient `bundle`, split into `pack`'s prefetch keys.

    Raises ValueError (with a message for the user) when the bundle is not a Bundle or has no Patient.
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ValueError("the patient data must be a FHIR Bundle")
    resources = [r for r in bundle_resources(bundle) if isinstance(r, dict)]
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), None)
    if patient is None or not isinstance(patient.get("id"), str):
        raise ValueError("the patient Bundle has no Patient (with an id)")
    orders = draft_orders(order)
    terminology = pack.terminology  # type: ignore[attr-defined]
    prefetch: dict[str, Any] = {}
    for template in pack.prefetch:
        if template.key == "patient":
            prefetch["patient"] = patient
            continue
        chosen = [r for r in resources if r.get("resourceType") in template.resource_types]
        if template.resource_types == ("Observation",):
            classes = OBSERVATION_KEYS.get(template.key, set())
            chosen = [r for r in chosen if any(terminology.observation_classes(s, c) & classes
                                               for s, c, _d in codings(r.get("code")))]
        prefetch[template.key] = {"resourceType": "Bundle", "type": "searchset", "total": len(chosen),
                                  "entry": [{"resource": r} for r in chosen]}
    request: dict[str, Any] = {
        "hook": hook, "hookInstance": hook_instance,
        "context": {"patientId": patient["id"], "userId": "Practitioner/cli",
                    "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                    "entry": [{"resource": r} for r in orders]}},
        "prefetch": prefetch,
    }
    if hook == "order-select":
        request["context"]["selections"] = [f"{r.get('resourceType')}/{r.get('id')}" for r in orders]
    return request
