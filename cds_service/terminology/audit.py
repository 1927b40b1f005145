"""Know what you don't know: which codes in a site's data the terminology cannot classify (`terminology audit`).

Input: a patient Bundle, a CDS Hooks request (prefetch and draft orders), one FHIR resource, an NDJSON file, or a
directory of them (Bulk Data export; `fhir_fixtures/`). Every medication, condition and observation coding is
looked up as the service would, and the ones it cannot classify are ranked by how often they occur, with their
display: those are the codes a site maps in its ConceptMap (`CDS_SITE_CONCEPTMAP`).

Three outcomes per coding:
- classified: the code itself, or another coding of the same concept, is known (a class, or known not to be
  relevant: a non-opioid in ATC, say);
- text only: the code is unknown, but the concept's text names something the pack knows ("recognised from the
  text" on a card): worth mapping, so the card can cite a code;
- unclassified: neither. The service treats the record as unrelated to every rule.
A site ConceptMap entry with equivalence `unmatched` marks a code as reviewed (listed apart).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cds_service.terminology.loader import Terminology
from cds_service.terminology.systems import canonical_or_self

MEDICATION_TYPES = {"MedicationRequest", "MedicationStatement", "MedicationDispense", "MedicationAdministration"}
KINDS = {"Condition": "condition", "Observation": "observation", "Medication": "medication",
         **{t: "medication" for t in MEDICATION_TYPES}}


class AuditInputError(ValueError):
    """The path cannot be read as FHIR data; the message says which file and why."""


@dataclass
class Finding:
    kind: str  # medication | condition | observation
    system: str
    code: str
    display: str
    count: int = 0
    outcome: str = "unclassified"  # unclassified | text-only | reviewed
    note: str = ""


@dataclass
class AuditReport:
    path: str
    files: int = 0
    resources: int = 0
    codings: int = 0
    classified: int = 0
    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)
    uncoded: Counter = field(default_factory=Counter)  # (kind, text, outcome) of concepts without any code

    def ranked(self, outcome: str) -> list[Finding]:
        found = [f for f in self.findings.values() if f.outcome == outcome]
        return sorted(found, key=lambda f: (-f.count, f.kind, f.system, f.code))

    def as_json(self) -> dict[str, Any]:
        def rows(outcome: str) -> list[dict]:
            return [{"kind": f.kind, "system": f.system, "code": f.code, "display": f.display, "count": f.count,
                     **({"note": f.note} if f.note else {})} for f in self.ranked(outcome)]
        return {
            "path": self.path, "files": self.files, "resources": self.resources, "codings": self.codings,
            "classified": self.classified,
            "unclassified": rows("unclassified"),
            "text_only": rows("text-only"),
            "reviewed": rows("reviewed"),
            "uncoded": [{"kind": k, "text": t, "outcome": o, "count": n}
                        for (k, t, o), n in sorted(self.uncoded.items(), key=lambda kv: (-kv[1], kv[0]))],
        }


# ---- reading the input
def _resources(obj: Any) -> Iterator[dict]:
    """Every resource in a Bundle / hook request / resource, depth-first (Bundles in prefetch, contained)."""
    if not isinstance(obj, dict):
        return
    if "hook" in obj and "context" in obj:  # a CDS Hooks request
        for value in (obj.get("prefetch") or {}).values():
            yield from _resources(value)
        context = obj.get("context") or {}
        yield from _resources(context.get("draftOrders"))
        return
    rtype = obj.get("resourceType")
    if rtype == "Bundle":
        for entry in obj.get("entry") or ():
            if isinstance(entry, dict):
                yield from _resources(entry.get("resource"))
        return
    if isinstance(rtype, str):
        yield obj
        for contained in obj.get("contained") or ():
            yield from _resources(contained)


def _read_file(path: Path) -> Iterator[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise AuditInputError(f"{path}: cannot be read ({err})") from None
    if path.suffix == ".ndjson":
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                yield from _resources(json.loads(line))
            except json.JSONDecodeError as err:
                raise AuditInputError(f"{path}:{n}: not JSON ({err.msg})") from None
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise AuditInputError(f"{path}: not JSON ({err.msg} at line {err.lineno})") from None
    if isinstance(data, list):  # e.g. fhir_fixtures/index.json: not FHIR, nothing to read
        return
    yield from _resources(data)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".json", ".ndjson"))
    if path.is_file():
        return [path]
    raise AuditInputError(f"{path}: no such file or directory")


# ---- classifying
def _concepts(resource: dict) -> Iterator[tuple[str, dict]]:
    rtype = resource.get("resourceType")
    kind = KINDS.get(rtype)
    if kind is None:
        return
    if rtype in MEDICATION_TYPES:
        concept = resource.get("medicationCodeableConcept")
        if isinstance(concept, dict):
            yield kind, concept
        return
    if isinstance(resource.get("code"), dict):
        yield kind, resource["code"]
    if rtype == "Medication":
        for item in resource.get("ingredient") or ():
            if isinstance(item, dict) and isinstance(item.get("itemCodeableConcept"), dict):
                yield kind, item["itemCodeableConcept"]


def _codings(concept: dict) -> list[tuple[str, str, str]]:
    out = []
    for c in concept.get("coding") or ():
        if isinstance(c, dict) and isinstance(c.get("code"), str) and c["code"].strip():
            system = c.get("system") if isinstance(c.get("system"), str) else ""
            display = c.get("display") if isinstance(c.get("display"), str) else ""
            out.append((canonical_or_self(system) or "(no system)", c["code"].strip(), display))
    return out


def _known(t: Terminology, kind: str, system: str, code: str) -> bool:
    if kind == "medication":
        return t.medication([(system, code, None)]) is not None
    if kind == "condition":
        return bool(t.condition_classes(system, code))
    return bool(t.observation_classes(system, code))


def _text_known(t: Terminology, kind: str, words: str) -> bool:
    if not words:
        return False
    if kind == "medication":
        return t.medication_from_text(words) is not None
    if kind == "condition":
        return bool(t.condition_from_text(words))
    return False  # lab results are classified by code only (LOINC or the site's map)


def audit(path: str | Path, terminology: Terminology) -> AuditReport:
    root = Path(path)
    report = AuditReport(str(root))
    for file in _files(root):
        report.files += 1
        for resource in _read_file(file):
            report.resources += 1
            for kind, concept in _concepts(resource):
                _audit_concept(report, terminology, kind, concept)
    return report


def _audit_concept(report: AuditReport, t: Terminology, kind: str, concept: dict) -> None:
    coded = _codings(concept)
    words = " ".join(w for w in [concept.get("text")] + [d for _s, _c, d in coded] if isinstance(w, str) and w)
    if not coded:
        if words:
            report.uncoded[(kind, words[:120], "text-only" if _text_known(t, kind, words) else "unclassified")] += 1
        return
    if any(_known(t, kind, system, code) for system, code, _d in coded):
        # one recognised coding classifies the concept (an ATC code beside a PZN): its siblings need no map
        report.codings += len(coded)
        report.classified += len(coded)
        return
    by_text = None
    for system, code, display in coded:
        report.codings += 1
        site = t.site_map.target(system, code) if t.site_map is not None else None
        if site is not None and site[0] is None:
            outcome, note = "reviewed", site[2]
        else:
            if by_text is None:
                by_text = _text_known(t, kind, words)
            outcome, note = ("text-only", "recognised from the text") if by_text else ("unclassified", "")
        key = (kind, system, code)
        finding = report.findings.get(key)
        if finding is None:
            finding = report.findings[key] = Finding(kind, system, code, display or (concept.get("text") or ""),
                                                     outcome=outcome, note=note)
        finding.count += 1


def render(report: AuditReport) -> str:
    """The report for a terminal: counts, then each list ranked by occurrences."""
    lines = [f"{report.path}: {report.files} file(s), {report.resources} resources, {report.codings} codings, "
             f"{report.classified} classified"]
    titles = {"unclassified": "Unclassified (no rule can use them: map them in CDS_SITE_CONCEPTMAP or review them)",
              "text-only": "Recognised from the text only (the card says so; map the code to cite it)",
              "reviewed": "Reviewed as not relevant (site ConceptMap: unmatched)"}
    for outcome, title in titles.items():
        rows = report.ranked(outcome)
        lines.append("")
        lines.append(f"{title}: {len(rows)}")
        for f in rows:
            lines.append(f"  {f.count:>5}  {f.kind:<11} {f.system}|{f.code}  {f.display[:70]}")
    uncoded = sorted(report.uncoded.items(), key=lambda kv: (-kv[1], kv[0]))
    if uncoded:
        lines.append("")
        lines.append(f"Concepts without any code: {len(uncoded)}")
        for (kind, text, outcome), n in uncoded:
            lines.append(f"  {n:>5}  {kind:<11} {outcome:<12} {text[:70]}")
    return "\n".join(lines)
