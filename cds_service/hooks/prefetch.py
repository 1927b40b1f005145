"""Prefetch templates and how to read what a client put under each key (CDS Hooks 2.0 §prefetch).

| the client sent            | meaning                      | here                         |
| key absent                 | not supplied                 | `missing` (fetch it or 412)  |
| `null`                     | known empty                  | no resources                 |
| OperationOutcome           | the client hit an error      | `failed` (data-incomplete)   |
| Bundle / resource          | data                         | resources                    |
| searchset with an error    | the search failed            | `failed` (data-incomplete)   |
|   OperationOutcome entry   |                              |                              |

OperationOutcome entries of a searchset (`search.mode: "outcome"`) are never data: one with severity
information/warning (Epic's "no results") leaves the key known-empty, one with error/fatal fails it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cds_service.errors import BadRequest
from cds_service.fhir.read import as_list, is_fhir_id, outcome_text, search_matches, text

_TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


@dataclass(frozen=True, slots=True)
class PrefetchTemplate:
    """One prefetch key: the FHIR query (2.0 tokens only) and the data category it stands for."""

    key: str
    query: str
    category: str  # what a clinician calls it in "could not be checked: ..."
    resource_types: tuple[str, ...]


def fill_tokens(query: str, context: Mapping[str, Any]) -> str:
    """Substitute `{{context.x}}` (root-level primitives) and `{{userPractitionerId}}`-style tokens."""

    def value(match: re.Match[str]) -> str:
        token = match.group(1)
        if token.startswith("context."):
            v = context.get(token.removeprefix("context."))
        elif token in _USER_TOKENS:
            user = context.get("userId")
            prefix = _USER_TOKENS[token] + "/"
            v = user.removeprefix(prefix) if isinstance(user, str) and user.startswith(prefix) else None
        else:
            v = None
        if not isinstance(v, (str, int)) or isinstance(v, bool):
            raise BadRequest(f"Prefetch token {{{{{token}}}}} has no value in this request's context.",
                             expression=[f"context.{token.removeprefix('context.')}"])
        # every token is an id (patientId, encounterId, a practitioner id): validated as a FHIR id before it
        # goes into a URL that carries the bearer token; `../` or `?` would move the request elsewhere
        if not is_fhir_id(str(v)):
            raise BadRequest(f"`context.{token.removeprefix('context.')}` is not a FHIR id (1-64 letters, digits, "
                             "'-' and '.'), so no FHIR query can be built from it.",
                             expression=[f"context.{token.removeprefix('context.')}"])
        return quote(str(v), safe="")

    return _TOKEN.sub(value, query)


@dataclass(slots=True)
class PrefetchRead:
    """What the prefetch held for the templates asked about."""

    resources: dict[str, list[dict]] = field(default_factory=dict)  # key -> resources (supplied keys)
    missing: list[str] = field(default_factory=list)  # absent keys: fetch from the FHIR server or 412
    failed: dict[str, str] = field(default_factory=dict)  # key -> why the client could not supply it
    next_links: dict[str, str] = field(default_factory=dict)  # key -> `next` page the client did not follow


def _outcome_reason(outcome: dict) -> str:
    said = outcome_text(outcome)
    return f"the EHR reported an error: {said}" if said else "the EHR reported an error (OperationOutcome)"


def read_prefetch(prefetch: Any, templates: Sequence[PrefetchTemplate]) -> PrefetchRead:
    if prefetch is not None and not isinstance(prefetch, dict):
        raise BadRequest("`prefetch` must be a JSON object of key -> FHIR resource, Bundle or null.",
                         expression=["prefetch"])
    supplied = prefetch or {}
    out = PrefetchRead()
    for t in templates:
        if t.key not in supplied:
            out.missing.append(t.key)
            continue
        value = supplied[t.key]
        if value is None:
            out.resources[t.key] = []
            continue
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise BadRequest(
                f"prefetch.{t.key} must be a FHIR resource, a Bundle or null; got {type(value).__name__}.",
                expression=[f"prefetch.{t.key}"],
            )
        rtype = value["resourceType"]
        if rtype == "OperationOutcome":
            out.failed[t.key] = _outcome_reason(value)
        elif rtype == "Bundle":
            matches, problem = search_matches(value)
            if problem is not None:
                out.failed[t.key] = f"the EHR's search reported an error: {problem}"
                continue
            out.resources[t.key] = matches
            for link in as_list(value.get("link")):
                if isinstance(link, dict) and link.get("relation") == "next" and text(link.get("url")):
                    out.next_links[t.key] = link["url"]
        else:
            out.resources[t.key] = [value]
    return out
