"""`python -m cds_service validate PATH`: check a fixture file before using it.

A patient Bundle (or any FHIR resource) is validated against FHIR R4 with fhir.resources' R4B models in
strict mode: unknown elements, wrong types, bad codes and dates. A CDS Hooks request is checked against the
CDS Hooks request rules (the wire model, then the service's own parsing: the 400s the service would answer)
and every FHIR resource in it (`context.draftOrders`, the `prefetch` values) against FHIR R4. Each problem
comes with the JSON path where it is (`$.entry[3].resource.status`).

This is a developer's tool: the service itself does not validate whole resources per request (see the
README: it reads the few elements it needs, tolerantly).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class Problem:
    path: str  # JSONPath-like: $.context.draftOrders.entry[0].resource.status
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def json_path(base: str, loc: Iterable[Any]) -> str:
    out = base
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _from_validation_error(base: str, err: ValidationError) -> list[Problem]:
    problems = []
    for e in err.errors():
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            message = "not an element of this resource (unknown element, or misspelt)"
        problems.append(Problem(json_path(base, e["loc"]), message))
    return problems


def validate_resource(resource: Any, base: str = "$") -> list[Problem]:
    """FHIR R4 (fhir.resources R4B, strict) validation of one resource, with Bundle entries inside it."""
    from fhir.resources.R4B import get_fhir_model_class

    if not isinstance(resource, dict):
        return [Problem(base, "must be a FHIR resource (a JSON object)")]
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        return [Problem(f"{base}.resourceType", "missing: every FHIR resource names its resourceType")]
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError):
        return [Problem(f"{base}.resourceType", f"{kind!r} is not a FHIR R4 resource type")]
    try:
        model.model_validate(resource, strict=True)
    except ValidationError as err:
        return _from_validation_error(base, err)
    return []


def _service_for(hook: str) -> str | None:
    from cds_service.rules.registry import default_packs

    for pack in default_packs():
        for spec in pack.services:
            if spec.hook == hook:
                return spec.id
    return None


def validate_hook_request(data: dict) -> list[Problem]:
    """The CDS Hooks request rules, then FHIR R4 for the draft orders and every prefetched resource."""
    from cds_service.errors import ServiceError
    from cds_service.hooks.models import HookRequest
    from cds_service.hooks.request import parse_hook_call

    problems: list[Problem] = []
    try:
        HookRequest.model_validate(data)
    except ValidationError as err:
        problems += _from_validation_error("$", err)
    hook = data.get("hook")
    service_id = _service_for(hook) if isinstance(hook, str) else None
    if isinstance(hook, str) and service_id is None:
        problems.append(Problem("$.hook", f"no service of this project answers the {hook!r} hook"))
    elif service_id is not None and not problems:  # the service's own rules, once the shape is right
        try:
            parse_hook_call(data, expected_hook=hook, service_id=service_id)
        except ServiceError as err:
            where = [f"$.{e}" for e in err.expression] or ["$"]
            problems.append(Problem(where[0], err.message))
    context = data.get("context") if isinstance(data.get("context"), dict) else {}
    if isinstance(context.get("draftOrders"), dict):
        problems += validate_resource(context["draftOrders"], "$.context.draftOrders")
    prefetch = data.get("prefetch") if isinstance(data.get("prefetch"), dict) else {}
    for key, value in prefetch.items():
        if value is not None:  # null: known to be empty (CDS Hooks 2.0)
            problems += validate_resource(value, f"$.prefetch.{key}")
    return problems


def describe(data: Any) -> str:
    if isinstance(data, dict) and "hook" in data:
        return f"a CDS Hooks {data.get('hook')} request"
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        return f"a FHIR Bundle with {len(data.get('entry') or [])} entries"
    if isinstance(data, dict) and isinstance(data.get("resourceType"), str):
        return f"a FHIR {data['resourceType']}"
    return "JSON"


def validate_document(data: Any) -> list[Problem]:
    if isinstance(data, dict) and "hook" in data:
        return validate_hook_request(data)
    if isinstance(data, dict) and "resourceType" in data:
        return validate_resource(data)
    return [Problem("$", "neither a CDS Hooks request (no 'hook') nor a FHIR resource (no 'resourceType')")]


def validate_file(path: Path) -> tuple[str, Sequence[Problem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return "an unreadable file", [Problem("$", f"cannot read {path}: {getattr(err, 'strerror', None) or err}")]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return "not JSON", [Problem("$", f"not JSON: {err.msg} at line {err.lineno}, column {err.colno}")]
    return describe(data), validate_document(data)
