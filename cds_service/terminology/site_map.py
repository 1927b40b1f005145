"""A site's own codes: a FHIR ConceptMap (`CDS_SITE_CONCEPTMAP`) from local codes to codes the pack classifies.

Why: a hospital's formulary and laboratory send local codes (`urn:oid:1.2.3.4|OXY5`, `http://lab.example.org|ALT`)
that no public value set can know. The site maps each to a standard code (RxNorm, ATC, NDC, SNOMED CT, ICD-10,
LOINC), to an ingredient by name (`urn:cds-naltrexone:ingredient|oxycodone`), or to a class of the pack
(`urn:cds-naltrexone:class|alt`). A target whose equivalence is `unmatched` / `disjoint` (R5 relationship
`not-related-to`) records "reviewed: not relevant to any rule", so the audit stops listing it.

The map is read once at start-up and checked strictly: a malformed map, or a target the pack does not classify
(a typo would otherwise silently drop a local opioid), stops start-up with an error that names the element.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cds_service.terminology.loader import INGREDIENT_SYSTEM, Terminology, _system, ndc_product
from cds_service.terminology.systems import ATC, ICD10CM, LOINC, NDC, RXNORM, SNOMED, canonical_or_self

CLASS_SYSTEM = "urn:cds-naltrexone:class"
NOT_RELEVANT = {"unmatched", "disjoint", "not-related-to"}
MAPPED = {"equivalent", "equal", "wider", "subsumes", "narrower", "specializes", "relatedto", "inexact",
          "related-to", "source-is-narrower-than-target", "source-is-broader-than-target"}
TARGETS = (RXNORM, ATC, NDC, SNOMED, ICD10CM, LOINC, INGREDIENT_SYSTEM, CLASS_SYSTEM)


class SiteMapError(ValueError):
    """The site ConceptMap is malformed; the message names the element (`group[0].element[2].target[0].code`)."""


@dataclass
class SiteMap:
    path: str
    # (source system as sent, canonical where known; code) -> (target system or None, target code, how)
    entries: dict[tuple[str, str], tuple[str | None, str, str]] = field(default_factory=dict)

    def target(self, system: str | None, code: str) -> tuple[str | None, str, str] | None:
        return self.entries.get((canonical_or_self(system) or "", code.strip()))

    def __len__(self) -> int:
        return len(self.entries)


def _fail(where: str, why: str) -> SiteMapError:
    return SiteMapError(f"CDS_SITE_CONCEPTMAP: {where}: {why}")


def _str(obj: dict, key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"{where}.{key}", "missing or not a string")
    return value.strip()


def _known(terminology: Terminology, system: str, code: str) -> bool:
    """Does the pack classify this target? (A typo in a map must not silently drop a local opioid.)"""
    if system == CLASS_SYSTEM:
        return code in _all_classes(terminology)
    if system == INGREDIENT_SYSTEM:
        return code in terminology._ingredients_by_name
    if system == NDC:
        return bool(ndc_product(code)) and terminology.medication([(NDC, code, None)]) is not None
    if system in (RXNORM, ATC):
        return terminology.medication([(system, code, None)]) is not None
    if system == SNOMED and terminology.medication([(system, code, None)]) is not None:
        return True  # a shipped SNOMED CT substance or medicinal product (else: a condition code)
    return bool(terminology._lookup(system, code))


def _all_classes(terminology: Terminology) -> set[str]:
    classes = set(terminology._class_codes)
    for table in terminology._prefixes.values():
        for cls in table.values():
            classes |= cls
    return classes


def _objects(value: object, where: str, missing: str = "missing or empty") -> Iterator[tuple[str, dict]]:
    """The items of a non-empty list of objects, each with its place (`group[0].element[2]`) for the errors."""
    if not isinstance(value, list) or not value:
        raise _fail(where, missing)
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _fail(f"{where}[{i}]", "not an object")
        yield f"{where}[{i}]", item


def parse_site_map(data: object, terminology: Terminology, path: str = "(inline)") -> SiteMap:
    """Validate a ConceptMap (R4 `equivalence` or R5 `relationship`) and index it."""
    if not isinstance(data, dict) or data.get("resourceType") != "ConceptMap":
        raise _fail("resourceType", f"{path} is not a FHIR ConceptMap")
    site = SiteMap(path)
    for gw, group in _objects(data.get("group"), "group",
                              "missing or empty (one group per source system and target system)"):
        source = canonical_or_self(_str(group, "source", gw)) or ""
        target_system = _system(_str(group, "target", gw)) or _str(group, "target", gw)
        if target_system not in TARGETS:
            raise _fail(f"{gw}.target", f"{group['target']!r} is not a code system the pack classifies "
                        "(RxNorm, ATC, NDC, SNOMED CT, ICD-10, LOINC, urn:cds-naltrexone:ingredient, "
                        "urn:cds-naltrexone:class)")
        for ew, element in _objects(group.get("element"), f"{gw}.element"):
            code = _str(element, "code", ew)
            for tw, target in _objects(element.get("target"), f"{ew}.target"):
                relation = target.get("equivalence", target.get("relationship"))
                if not isinstance(relation, str) or relation not in NOT_RELEVANT | MAPPED:
                    raise _fail(f"{tw}.equivalence", f"{relation!r} is not a ConceptMap equivalence")
                key = (source, code)
                if relation in NOT_RELEVANT:
                    site.entries.setdefault(key, (None, "", f"site ConceptMap {path} {ew}: reviewed, "
                                                            "not relevant to any rule"))
                    continue
                t_code = _str(target, "code", tw)
                if not _known(terminology, target_system, t_code):
                    raise _fail(f"{tw}.code", f"{target_system}|{t_code} is not a code the pack classifies")
                if key in site.entries and site.entries[key][0] is not None:
                    continue  # the first mapped target wins
                site.entries[key] = (target_system, t_code, f"site ConceptMap {path} {ew} -> {target_system}|{t_code}")
    return site


def load_site_map(path: str | Path, terminology: Terminology) -> SiteMap:
    """Read and validate the ConceptMap file; every failure is a SiteMapError naming the file and element."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise _fail(str(p), f"cannot be read ({err.strerror or err})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _fail(str(p), f"is not JSON ({err})") from None
    return parse_site_map(data, terminology, str(p))


def terminology_for(path: str | Path | None) -> Terminology:
    """The process's terminology, with the site's ConceptMap applied when one is configured."""
    from cds_service.terminology.loader import get_terminology

    base = get_terminology()
    if not path:
        return base
    return base.with_site_map(load_site_map(path, base))
