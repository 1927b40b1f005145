"""Tolerant readers for FHIR R4 JSON as it arrives (dicts), shared by every step that reads resources.

EHRs send slightly wrong FHIR (an object where an array belongs, a missing Bundle.type). Reading the few
elements the rules need from dicts, with type checks, keeps one malformed element from hiding the rest and
costs a fraction of validating whole resources with fhir.resources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cds_service.bounded import OutOfRange, checked_date, finite_number
from cds_service.memo import remember

Codings = list[tuple[str | None, str | None, str | None]]


def as_list(value: Any) -> list:
    """An R4 array element, tolerating a lone object where an array belongs (the Sandbox's `category`)."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def codings(concept: Any) -> Codings:
    """(system, code, display) of a CodeableConcept (or a lone Coding)."""
    # the hottest reader (profiled): `as_list` and `text` are inlined here, same results
    out: Codings = []
    if not isinstance(concept, dict):
        return out
    items = concept.get("coding", concept)  # (a `coding` of null is no coding: not a list, nothing read)
    if items.__class__ is not list:
        if isinstance(items, dict):
            items = (items,)
        elif not isinstance(items, list):
            return out
    for c in items:
        if c.__class__ is dict or isinstance(c, dict):
            system, code, display = c.get("system"), c.get("code"), c.get("display")
            if code.__class__ is not str:  # a number where a code belongs is read as its text
                code = str(code) if isinstance(code, (int, float)) and not isinstance(code, bool) else None
            out.append((system if system.__class__ is str and system else None,
                        code or None,
                        display if display.__class__ is str and display else None))
    return out


MAX_DISPLAY = 200  # what a card shows of a name; a 1 MB display must not become a 1 MB card


def _short(value: str) -> str:
    return value if len(value) <= MAX_DISPLAY else value[: MAX_DISPLAY - 1] + "…"


def concept_display(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    t = text(concept.get("text"))
    if t:
        return _short(t)
    for _system, code, display in codings(concept):
        if display:
            return _short(display)
        if code:
            return _short(code)
    return None


def status_code(concept: Any) -> str | None:
    """The code of a status CodeableConcept (Condition.clinicalStatus, ...)."""
    for _system, code, _display in codings(concept):
        if code:
            return code.lower()
    return None


def reference(value: Any) -> str | None:
    if isinstance(value, dict):
        return text(value.get("reference"))
    return None


def reference_id(value: Any, resource_type: str) -> str | None:
    """`Patient/123` (or an absolute URL ending in it) -> `123`."""
    ref = reference(value)
    if not ref:
        return None
    parts = ref.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == resource_type:
        return parts[-1]
    if len(parts) >= 4 and parts[-2] == "_history" and parts[-4] == resource_type:
        return parts[-3]
    return None


def _parse_date(value: str) -> date | OutOfRange | None:
    # FHIR date / dateTime / instant: YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm:ss(.s)(Z|+hh:mm)
    try:
        if len(value) == 4:
            found = date(int(value), 1, 1)
        elif len(value) == 7:
            found = date(int(value[:4]), int(value[5:7]), 1)
        elif len(value) == 10:
            found = date.fromisoformat(value)
        elif len(value) > 10 and value[10] == "T":
            found = datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        else:
            return None
    except ValueError:
        return None
    try:
        return checked_date(found)
    except OutOfRange as err:
        return err


_DATES: dict[str, date | OutOfRange | None] = {}  # the same dates recur in every call about a patient
_UNKNOWN = object()


def _remembered(memo: dict, value: Any, parse: Any) -> Any:
    """A FHIR date string read once per process (memoised), or None; a well-formed date outside the bounded
    range is remembered as such and raises `OutOfRange` every time it is read."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    found = memo.get(value, _UNKNOWN)
    if found is _UNKNOWN:
        found = remember(memo, value, parse(value), 8192)
    if isinstance(found, OutOfRange):
        raise OutOfRange(f"date {value[:12]!r} out of range")
    return found


def parse_date(value: Any) -> date | None:
    """The calendar date of a FHIR date/dateTime/instant (its local date as written), or None.

    A partial date ("2026", "2026-11") reads as its first day: use `date_span` wherever the difference can
    matter clinically (an exposure's end, a result's date). A well-formed date outside the bounded range
    (year 1, year 9999) raises `OutOfRange`: the resource carrying it is unreadable, and date arithmetic on
    what is returned cannot overflow."""
    return _remembered(_DATES, value, _parse_date)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class DateSpan:
    """The days a FHIR date/dateTime can mean: "2026-11" is any day from 2026-11-01 to 2026-11-30.

    `precision` is "day", "month" or "year"; "zone" for a dateTime whose day differs between the time zone it
    was written in and UTC (the service's "today" has no zone, so both days are possible).
    """

    earliest: date
    latest: date
    precision: str

    @property
    def precise(self) -> bool:
        return self.earliest == self.latest

    def clipped(self, today: date) -> DateSpan:
        """An imprecise span that reaches past today ends today: a recorded event did not happen tomorrow."""
        if self.latest <= today or self.earliest > today or self.earliest == self.latest:  # the usual case first
            return self
        return DateSpan(self.earliest, today, self.precision)


def _span(value: str) -> DateSpan | OutOfRange | None:
    try:
        if len(value) == 4:
            year = int(value)
            span = DateSpan(date(year, 1, 1), date(year, 12, 31), "year")
        elif len(value) == 7 and value[4] == "-":
            year, month = int(value[:4]), int(value[5:7])
            first = date(year, month, 1)
            if year >= 9999 and month == 12:
                return OutOfRange("date out of range")
            nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
            span = DateSpan(first, nxt - timedelta(days=1), "month")
        elif len(value) == 10:
            day = date.fromisoformat(value)
            span = DateSpan(day, day, "day")
        elif len(value) > 10 and value[10] == "T":
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            local = moment.date()
            checked_date(local)  # before astimezone: year 1 with an offset falls off the calendar
            if moment.tzinfo is None:
                span = DateSpan(local, local, "day")
            else:
                utc = moment.astimezone(UTC).date()
                span = (DateSpan(local, local, "day") if utc == local
                        else DateSpan(min(local, utc), max(local, utc), "zone"))
        else:
            return None
        checked_date(span.earliest)
        checked_date(span.latest)
        return span
    except OutOfRange as err:
        return err
    except (ValueError, OverflowError):
        return None


_SPANS: dict[str, DateSpan | OutOfRange | None] = {}


def date_span(value: Any) -> DateSpan | None:
    """Every day a FHIR date/dateTime/instant may mean (partial dates keep their precision), or None;
    `OutOfRange` (like `parse_date`) for a well-formed date outside the bounded range."""
    # profiled (every dated resource of every call): a date seen before is one lookup; a string over 40
    # characters is never in the memo, so a hit needs no length test
    found = _SPANS.get(value) if value.__class__ is str else None
    if found.__class__ is DateSpan:
        return found  # type: ignore[return-value]
    return _remembered(_SPANS, value, _span)  # type: ignore[return-value]


def period_bounds(value: Any) -> tuple[date | None, date | None]:
    if not isinstance(value, dict):
        return None, None
    return parse_date(value.get("start")), parse_date(value.get("end"))


def period_spans(value: Any) -> tuple[DateSpan | None, DateSpan | None]:
    if not isinstance(value, dict):
        return None, None
    return date_span(value.get("start")), date_span(value.get("end"))


def number(value: Any) -> float | None:
    """A FHIR decimal/integer as a float; None when it is not a number; `OutOfRange` when it is infinite,
    NaN or beyond the bounded range (`cds_service.bounded`)."""
    return finite_number(value)


def outcome_text(resource: Any) -> str | None:
    """What an OperationOutcome says (its first issue's diagnostics or details.text, on one line, at most 200
    characters); "" when it says nothing; None when it is not an OperationOutcome."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "OperationOutcome":
        return None
    for issue in as_list(resource.get("issue")):
        if isinstance(issue, dict):
            details = issue.get("details")
            detail = text(issue.get("diagnostics")) or (text(details.get("text")) if isinstance(details, dict)
                                                        else None)
            if detail:
                return " ".join(detail.split())[:200]
    return ""


# where a resource type names its patient (Patient: its own id; Medication and other shared types: nobody's),
# for gathering (keep only the context patient's resources) and the replay (group an export by patient)
PATIENT_ELEMENT = {
    "Condition": "subject",
    "MedicationRequest": "subject",
    "MedicationStatement": "subject",
    "MedicationDispense": "subject",
    "MedicationAdministration": "subject",
    "Observation": "subject",
    "AllergyIntolerance": "patient",
    "Encounter": "subject",
    "Procedure": "subject",
}

# why a resource of another patient than `context.patientId` was left out (gathering, record, card)
OTHER_PATIENT = "it belongs to another patient than the hook's patient"

# FHIR `id` syntax (R4 §2.24.0.1): what a reference or an `update` action may carry
FHIR_ID = r"[A-Za-z0-9\-.]{1,64}"
_FHIR_ID = re.compile(FHIR_ID)


def is_fhir_id(value: object) -> bool:
    """A FHIR id that is safe in a URL path: the id syntax, and not `.` or `..` (which the syntax allows but
    which would walk the path: `Patient/..` is the server's base)."""
    return isinstance(value, str) and _FHIR_ID.fullmatch(value) is not None and value.strip(".") != ""


def bundle_resources(bundle: Any) -> list[dict]:
    """Resources in a Bundle's entries (any Bundle.type, `type` missing too)."""
    if not isinstance(bundle, dict):
        return []
    return [entry["resource"] for entry in as_list(bundle.get("entry"))
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict)]


PROBLEM_SEVERITIES = frozenset({"error", "fatal"})


def search_matches(bundle: Any) -> tuple[list[dict], str | None]:
    """A searchset's resources without its OperationOutcome entries, and the problem those report (or None).

    Servers put notes about a search into the Bundle as OperationOutcome entries (`search.mode: "outcome"`).
    Epic answers an empty search with `total: 0` and one such entry, "Resource request returns no results"
    (severity warning/information): that is a known empty result, not data and not an error. An entry with
    severity `error` or `fatal` means the search failed: the category could not be checked.
    """
    entries = as_list(bundle.get("entry")) if isinstance(bundle, dict) else []
    # profiled (every entry of every prefetched Bundle): the matches in one comprehension, each element read
    # once, `x.__class__ is dict` before isinstance; the entries are looked at again only when some were left
    # out (an outcome, or no resource)
    matches: list[dict] = [
        resource for entry in entries
        if (entry.__class__ is dict or isinstance(entry, dict))
        and ((resource := entry.get("resource")).__class__ is dict or isinstance(resource, dict))
        and resource.get("resourceType") != "OperationOutcome"
        and ((search := entry.get("search")) is None
             or not (search.__class__ is dict or isinstance(search, dict)) or search.get("mode") != "outcome")]
    if len(matches) == len(entries):
        return matches, None
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
            for issue in as_list(resource.get("issue")):
                if isinstance(issue, dict) and issue.get("severity") in PROBLEM_SEVERITIES:
                    return matches, outcome_text(resource) or "the search reported an error (OperationOutcome)"
    return matches, None


def resource_key(resource: dict) -> str | None:
    rtype, rid = resource.get("resourceType"), resource.get("id")
    if isinstance(rtype, str) and isinstance(rid, str) and rid:
        return f"{rtype}/{rid}"
    return None


def pruned(value: Any) -> Any:
    """A copy without nulls and empty strings/arrays/objects (FHIR JSON allows none of them)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if v.__class__ is str:  # most values (profiled): a string is kept unless empty
                if v:
                    out[k] = v
            elif isinstance(v, (dict, list)):
                v = pruned(v)
                if v:
                    out[k] = v
            elif v is not None and v != "":
                out[k] = v
        return out
    if isinstance(value, list):
        items = []
        for v in value:
            if isinstance(v, (dict, list)):
                v = pruned(v)
                if v:
                    items.append(v)
            elif v is not None and v != "":
                items.append(v)
        return items
    return value
