"""Reads and checks the envelope of a hook call; every defect is a 400 that names the field."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cds_service.errors import BadRequest
from cds_service.fhir.read import as_list, bundle_resources, resource_key, text

MAX_ID = 256


@dataclass(frozen=True, slots=True)
class HookCall:
    hook: str
    hook_instance: str
    patient_id: str
    user_id: str | None
    encounter_id: str | None
    context: dict[str, Any]
    draft_orders: list[dict]  # every resource in context.draftOrders
    selections: tuple[str, ...] | None  # order-select: "Type/id" of the orders to check (order-sign: all)
    fhir_server: str | None
    access_token: str | None
    prefetch: Any
    # why the access token must not be used (fhirAuthorization for another patient, expired): every FHIR
    # query then fails with this reason, shown on the data-incomplete card or in the 412
    token_refusal: str | None = None
    token_expires_at: float | None = None  # time.monotonic() after which the token is no longer sent


def _required_str(obj: dict, name: str, where: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"`{where}` is required and must be a non-empty string.", expression=[where])
    if len(value) > MAX_ID:
        raise BadRequest(f"`{where}` is longer than {MAX_ID} characters.", expression=[where])
    return value


def _unique(resources: Iterable[dict]) -> list[dict]:
    """Resources with a repeated Type/id kept once (the first): a duplicated draft order is one order."""
    seen: set[str] = set()
    out: list[dict] = []
    for r in resources:
        key = resource_key(r)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        out.append(r)
    return out


def _check_medication_elements(draft: dict) -> None:
    """A draft order's medication[x] of the wrong JSON type is a 400 naming it: read as "no medicine" it would
    make the order look unrelated (a silent all-clear). FHIR R4: medicationCodeableConcept is a CodeableConcept,
    medicationReference a Reference (an object, its `reference` a string)."""
    for i, entry in enumerate(as_list(draft.get("entry"))):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        where = f"context.draftOrders.entry[{i}].resource"
        name = resource_key(resource) or str(resource.get("resourceType"))[:64]
        concept = resource.get("medicationCodeableConcept")
        if concept is not None and (not isinstance(concept, dict) or not isinstance(
                concept.get("coding", []), (list, dict))):
            raise BadRequest(f"Draft order {name} ({where}.medicationCodeableConcept): medicationCodeableConcept "
                             "must be a FHIR CodeableConcept (an object with `coding` and/or `text`).",
                             expression=[f"{where}.medicationCodeableConcept"])
        pointer = resource.get("medicationReference")
        if pointer is not None and (not isinstance(pointer, dict) or not isinstance(
                pointer.get("reference", ""), str) or not isinstance(pointer.get("display", ""), str)):
            raise BadRequest(f"Draft order {name} ({where}.medicationReference): medicationReference must be a "
                             "FHIR Reference (an object with a string `reference`).",
                             expression=[f"{where}.medicationReference"])


def parse_hook_call(data: Any, *, expected_hook: str, service_id: str) -> HookCall:
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object (a CDS Hooks service call).")
    hook = _required_str(data, "hook", "hook")
    if hook != expected_hook:
        raise BadRequest(
            f"Service '{service_id}' answers the '{expected_hook}' hook, but this request is for '{hook}'. "
            f"Call the service registered for '{hook}' (see GET /cds-services).",
            expression=["hook"],
        )
    hook_instance = _required_str(data, "hookInstance", "hookInstance")
    context = data.get("context")
    if not isinstance(context, dict):
        raise BadRequest("`context` is required and must be an object.", expression=["context"])
    patient_id = _required_str(context, "patientId", "context.patientId")
    user_id = context.get("userId") if isinstance(context.get("userId"), str) else None
    encounter_id = context.get("encounterId") if isinstance(context.get("encounterId"), str) else None

    draft = context.get("draftOrders")
    if draft is None:
        raise BadRequest("`context.draftOrders` is required (a FHIR Bundle of the unsigned orders).",
                         expression=["context.draftOrders"])
    if not isinstance(draft, dict) or draft.get("resourceType") != "Bundle":
        raise BadRequest("`context.draftOrders` must be a FHIR Bundle (resourceType 'Bundle').",
                         expression=["context.draftOrders"])
    if "entry" in draft and not isinstance(draft["entry"], (list, dict)):
        raise BadRequest("`context.draftOrders.entry` must be an array.", expression=["context.draftOrders.entry"])
    _check_medication_elements(draft)
    draft_orders = _unique(bundle_resources(draft))

    selections: tuple[str, ...] | None = None
    if hook == "order-select":
        raw = context.get("selections")
        if not isinstance(raw, list) or not raw or not all(isinstance(s, str) and s for s in raw):
            raise BadRequest("`context.selections` is required for order-select: a non-empty array of "
                             "'Type/id' references into draftOrders.", expression=["context.selections"])
        selections = tuple(raw)

    fhir_server = data.get("fhirServer")
    if fhir_server is not None and (not isinstance(fhir_server, str) or not fhir_server.strip()):
        raise BadRequest("`fhirServer` must be a URL string.", expression=["fhirServer"])
    auth = data.get("fhirAuthorization")
    access_token = None
    token_refusal: str | None = None
    token_expires_at: float | None = None
    received = time.monotonic()  # expires_in counts from about now (the EHR issued the token for this call)
    if auth is not None:
        if not isinstance(auth, dict) or not text(auth.get("access_token")):
            raise BadRequest("`fhirAuthorization.access_token` is required when fhirAuthorization is sent.",
                             expression=["fhirAuthorization.access_token"])
        if not fhir_server:
            raise BadRequest("`fhirServer` is required when `fhirAuthorization` is sent.", expression=["fhirServer"])
        token_type = auth.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise BadRequest("`fhirAuthorization.token_type` must be 'Bearer'.",
                             expression=["fhirAuthorization.token_type"])
        access_token = auth["access_token"]
        token_patient = auth.get("patient")
        if token_patient is not None and token_patient != patient_id:
            # the token is scoped to another patient: using it would read (or be refused) the wrong chart
            token_refusal = ("the FHIR access token is for another patient than the hook's patient "
                             "(fhirAuthorization.patient differs from context.patientId): not used")
        expires_in = auth.get("expires_in")
        if expires_in is not None:
            if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or expires_in != expires_in:
                raise BadRequest("`fhirAuthorization.expires_in` must be a number of seconds.",
                                 expression=["fhirAuthorization.expires_in"])
            if expires_in <= 0:
                token_refusal = token_refusal or (f"the FHIR access token had already expired (expires_in "
                                                  f"{expires_in:g} s): not used")
            else:
                token_expires_at = received + float(min(expires_in, 10 ** 9))

    prefetch = data.get("prefetch")
    if prefetch is not None and not isinstance(prefetch, dict):
        raise BadRequest("`prefetch` must be an object.", expression=["prefetch"])
    # unknown fields and `extension` are tolerated: CDS Hooks 2.0 says ignore what you do not understand
    return HookCall(
        hook=hook,
        hook_instance=hook_instance,
        patient_id=patient_id,
        user_id=user_id,
        encounter_id=encounter_id,
        context=context,
        draft_orders=draft_orders,
        selections=selections,
        fhir_server=fhir_server.rstrip("/") if isinstance(fhir_server, str) else None,
        access_token=access_token,
        prefetch=prefetch,
        token_refusal=token_refusal,
        token_expires_at=token_expires_at,
    )
