"""What the rule packs read, said in export terms: resource types, Observation codes, and each resource's
patient. Derived from the packs' own prefetch templates, so a pack that reads more (a new template, a new
code) is replayed with it, and nothing here knows which drug a pack is about.

Also here: "known by the order": a resource belongs to the record as of an order only when none of its
clinical dates and not its `meta.lastUpdated` are after the order's `authoredOn`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cds_service.fhir.read import PATIENT_ELEMENT, as_list, reference_id
from cds_service.hooks.prefetch import PrefetchTemplate
from cds_service.rules.base import RulePack
from cds_service.terminology.systems import LOINC

SHARED_TYPES = frozenset({"Medication"})  # not about one patient: kept for every patient that references them
# read even when no pack template names them yet (issue 11: administrations join the record)
ALWAYS_READ = frozenset({"Patient", "Medication", "MedicationRequest", "MedicationAdministration"})

# the clinical dates of each resource type (R4): a record is "known by" an order when none is after it
DATE_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Condition": (("onsetDateTime",), ("onsetPeriod", "start"), ("onsetPeriod", "end"), ("abatementDateTime",),
                  ("abatementPeriod", "start"), ("abatementPeriod", "end"), ("recordedDate",)),
    "MedicationRequest": (("authoredOn",), ("dispenseRequest", "validityPeriod", "start")),
    "MedicationStatement": (("effectiveDateTime",), ("effectivePeriod", "start"), ("effectivePeriod", "end"),
                            ("dateAsserted",)),
    "MedicationDispense": (("whenPrepared",), ("whenHandedOver",)),
    "MedicationAdministration": (("effectiveDateTime",), ("effectivePeriod", "start"), ("effectivePeriod", "end")),
    "Observation": (("effectiveDateTime",), ("effectiveInstant",), ("effectivePeriod", "start"),
                    ("effectivePeriod", "end"), ("issued",)),
    "AllergyIntolerance": (("onsetDateTime",), ("onsetPeriod", "start"), ("recordedDate",), ("lastOccurrence",)),
}


@dataclass(frozen=True, slots=True)
class CodeFilter:
    """The `code=` of a template's search: a resource matches when one of its codings is listed, or (with a
    site ConceptMap) when the site maps one of its local codes into a class the listed codes stand for: an
    EHR answers the search with its own lab codes, and the service reads them through the map."""

    codes: frozenset[str]  # bare codes (`code=123`)
    system_codes: frozenset[tuple[str, str]]  # `code=system|123`
    classes: frozenset[str] = frozenset()  # observation classes of the listed codes (only with a site map)
    terminology: Any = field(default=None, compare=False)  # the pack's, with the site map

    def matches(self, resource: dict) -> bool:
        concept = resource.get("code")
        codings = [c for c in as_list(concept.get("coding")) if isinstance(c, dict)] \
            if isinstance(concept, dict) else []
        for coding in codings:
            code = coding.get("code")
            if code in self.codes or (coding.get("system"), code) in self.system_codes:
                return True
        if self.terminology is not None and self.classes:
            return any(self.terminology.observation_classes(c.get("system"), c.get("code")) & self.classes
                       for c in codings if isinstance(c.get("code"), str))
        return False


@dataclass(frozen=True, slots=True)
class TemplateNeed:
    """One prefetch template in export terms: which resources of the patient fill its key."""

    template: PrefetchTemplate
    search_type: str  # the resource type the query searches
    code_filter: CodeFilter | None

    def takes(self, resource: dict) -> bool:
        rtype = resource.get("resourceType")
        if rtype == self.search_type:
            return self.code_filter is None or self.code_filter.matches(resource)
        return rtype in self.template.resource_types and rtype != "Patient"


def template_need(template: PrefetchTemplate, terminology: Any = None) -> TemplateNeed:
    """`terminology`: the pack's; when it carries a site ConceptMap, local codes mapped into the classes of
    the template's codes match too."""
    path, _, query = template.query.partition("?")
    search_type = urlsplit(path).path.split("/", 1)[0]
    code_filter = None
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "code":
            bare, pairs = set(), set()
            for token in value.split(","):
                system, bar, code = token.rpartition("|")
                if bar:
                    pairs.add((system, code))
                else:
                    bare.add(code)
            code_filter = CodeFilter(frozenset(bare), frozenset(pairs))
    if code_filter is not None and terminology is not None and getattr(terminology, "site_map", None) is not None:
        # a bare code of an Observation search is read as LOINC (the observation code system of the packs)
        listed = [*code_filter.system_codes, *((LOINC, code) for code in code_filter.codes)]
        classes = frozenset().union(*(terminology.observation_classes(system, code) for system, code in listed))
        code_filter = CodeFilter(code_filter.codes, code_filter.system_codes, classes, terminology)
    return TemplateNeed(template, search_type, code_filter)


@dataclass(frozen=True, slots=True)
class Needs:
    """Everything the engines filter on, for a set of packs."""

    templates: tuple[TemplateNeed, ...]
    resource_types: frozenset[str]

    def keeps(self, resource: dict) -> bool:
        """Whether any template of any pack reads this resource (Observations: only the codes asked for)."""
        rtype = resource.get("resourceType")
        if rtype in ALWAYS_READ:
            return True
        return any(t.takes(resource) for t in self.templates)


def needs_of(packs: Sequence[RulePack]) -> Needs:
    templates = tuple(template_need(t, getattr(pack, "terminology", None)) for pack in packs for t in pack.prefetch)
    types = set(ALWAYS_READ)
    for t in templates:
        types.update(t.template.resource_types)
        types.add(t.search_type)
    return Needs(templates, frozenset(types))


def patient_of(resource: dict) -> str | None:
    """The patient id a resource is about (None: shared, or names no patient)."""
    rtype = resource.get("resourceType")
    if rtype == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) and rid else None
    element = PATIENT_ELEMENT.get(rtype)  # type: ignore[arg-type]
    if element is None:
        return None
    return reference_id(resource.get(element), "Patient")


# --- as of the order -------------------------------------------------------------------------------

_PARTIAL_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?", re.ASCII)


def _moment(value: str) -> tuple[int, str, datetime | None] | None:
    """(precision, date part, instant if it has a time) of a FHIR date/dateTime/instant; None if unreadable."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    if len(value) > 10 and value[10] == "T":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return 3, value[:10], moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not _PARTIAL_DATE.fullmatch(value):
        return None
    return {4: 0, 7: 1, 10: 2}[len(value)], value, None


def after(value: Any, order: str) -> bool:
    """Whether a date is after the order's `authoredOn`, at the precision both have: two instants compare
    as instants; otherwise their dates as written compare at the coarser precision (a result dated the
    order's day is not after an order of that day)."""
    a, b = _moment(value), _moment(order)
    if a is None or b is None:
        return False  # an unreadable date says nothing (the record builder reports unreadable resources)
    if a[2] is not None and b[2] is not None:
        return a[2] > b[2]
    width = {0: 4, 1: 7, 2: 10, 3: 10}[min(a[0], b[0])]
    return a[1][:width] > b[1][:width]


def _values(resource: dict, path: tuple[str, ...]) -> Iterable[Any]:
    value: Any = resource
    for step in path:
        if not isinstance(value, dict):
            return ()
        value = value.get(step)
    return (value,) if value is not None else ()


def known_by(resource: dict, order: str) -> bool:
    """Whether the resource, as exported, was known when the order was signed: no clinical date of it and
    not its `meta.lastUpdated` after the order (a resource changed later is left out: the export holds
    only its latest version). The Patient is the exception: demographics are kept up to date long after
    an order, and what the rules read of them (the birth date) does not change."""
    if resource.get("resourceType") == "Patient":
        return True
    meta = resource.get("meta")
    if isinstance(meta, dict) and after(meta.get("lastUpdated"), order):
        return False
    for path in DATE_PATHS.get(resource.get("resourceType"), ()):  # type: ignore[arg-type]
        for value in _values(resource, path):
            if after(value, order):
                return False
    return True
