#!/usr/bin/env python3
"""Dev-time generator of `cds_service/terminology/data/*.json` (run by a developer, never by the service).

Sources (read-only, dev machine only):
- CDC Opioid CDS IG ValueSets, CC0 (cqframework/opioid-cds-r4 input/vocabulary/valueset), copied into
  `<reference>/valuesets/*.json` (default reference dir: /work/shared/reference, override with --reference).
- Small hand-authored lists below for codes that appear only in the research notes `naltrexone-knowledge.md`
  §2 "Code lists" (each list says where it comes from; UNVERIFIED codes are marked as such).

Outputs: one FHIR R4B ValueSet per terminology class (our own canonical `urn:cds-naltrexone:valueset/<id>`,
the classes it implies in `extension[url=urn:cds-naltrexone:class]`), and `medication-products.json`, a FHIR
Bundle of Medication resources (RxNorm IN/MIN/SCD/SBD) with ingredients, MG strengths and classes.

Usage:  .venv/bin/python scripts/build_terminology.py [--reference DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from collections import OrderedDict
from pathlib import Path

from cds_service.terminology.systems import ATC, ICD10, ICD10CM, ICD10GM, LOINC, NDC, RXNORM, SNOMED

ICD_FAMILY = (ICD10CM, ICD10, ICD10GM)
TEXT_SYSTEM = "urn:cds-naltrexone:condition-text"
TEXT_RULE_SYSTEM = "urn:cds-naltrexone:text-rule"
CLASS_EXT = "urn:cds-naltrexone:class"
CONCEPT_TYPE_EXT = "urn:cds-naltrexone:rxnorm-concept-type"
SOURCE_EXT = "urn:cds-naltrexone:source"
VS_BASE = "urn:cds-naltrexone:valueset/"
CDC = "CDC Opioid CDS IG (cqframework/opioid-cds-r4, CC0) ValueSet"
KB = "naltrexone-knowledge.md §2 (project research notes)"
DATE = "2025-01-01"

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "cds_service" / "terminology" / "data"
SOURCES = Path(__file__).resolve().parent / "terminology_sources"
ICD_SYSTEMS = {"icd10": ICD_FAMILY, "icd10cm": (ICD10CM,), "icd10who": (ICD10,), "icd10gm": (ICD10GM,),
               "snomed": (SNOMED,)}


def read_table(name: str) -> list[dict[str, str]]:
    """One source table (CSV with a header); every row must name its source."""
    with (SOURCES / name).open(encoding="utf-8", newline="") as f:
        rows = [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]
    for i, row in enumerate(rows, start=2):
        if not row.get("source"):
            raise SystemExit(f"{name}:{i}: no source")
    return rows

# ----------------------------------------------------------------------------------------------------
# Hand-authored knowledge ([KB] = naltrexone-knowledge.md §2 unless stated otherwise)
# ----------------------------------------------------------------------------------------------------

# Ingredient: canonical name -> (IN rxcui or None, intrinsic classes), from `terminology_sources/ingredients.csv`.
# Contextual classes (abuse-deterrent, opioid-antagonist-therapy, naloxone-rescue) are applied by the loader
# from the product's ingredient mix.
INGREDIENTS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    row["name"]: (row["rxcui"] or None, tuple(row["classes"].split()))
    for row in read_table("ingredients.csv")
}

# Salt / form words removed from RxNorm ingredient strings to get the canonical ingredient name.
SALT_WORDS = {
    "hydrochloride",
    "hcl",
    "sulfate",
    "bitartrate",
    "phosphate",
    "tartrate",
    "citrate",
    "maleate",
    "napsylate",
    "polistirex",
    "terephthalate",
    "liposomal",
    "hydrobromide",
    "mesylate",
    "acetate",
    "tincture",
    "anhydrous",
    "sodium",
    "potassium",
}
NAME_ALIASES = {"pethidine": "meperidine", "diamorphine": "heroin", "dextropropoxyphene": "propoxyphene"}

# Extra products not in the CDC medication value sets ([KB] §2 table and "Opioid ingredient RxCUIs").
EXTRA_PRODUCTS: list[tuple[str, str, str, str]] = [
    # (rxcui, display, tty, source)
    (
        "1483744",
        "naltrexone hydrochloride 50 MG Oral Tablet",
        "SCD",
        "[KB] [R3] VS …1003.1150; [R4] openFDA NDC",
    ),
    ("637213", "naltrexone 380 MG Injection", "SCD", "[KB] [R3] VS …1046.269 (MOUD)"),
    (
        "1551468",
        "12 HR bupropion hydrochloride 90 MG / naltrexone hydrochloride 8 MG Extended Release Oral Tablet",
        "SCD",
        "[KB] Contrave, [R3] VS 2.16.840.1.113883.3.526.3.1561",
    ),
    # Lybalvi: [KB] lists 2570392, 2570399, 2570402, 2570405 for olanzapine 5/10/15/20 MG; code-to-strength
    # pairing below assumes the listed order (UNVERIFIED); only samidorphan 10 MG matters to the rules.
    ("2570392", "olanzapine 5 MG / samidorphan 10 MG Oral Tablet", "SCD", "[KB] [R3] VS …1248.134"),
    ("2570399", "olanzapine 10 MG / samidorphan 10 MG Oral Tablet", "SCD", "[KB] [R3] VS …1248.134"),
    ("2570402", "olanzapine 15 MG / samidorphan 10 MG Oral Tablet", "SCD", "[KB] [R3] VS …1248.134"),
    ("2570405", "olanzapine 20 MG / samidorphan 10 MG Oral Tablet", "SCD", "[KB] [R3] VS …1248.134"),
    ("866331", "morphine / naltrexone", "MIN", "[KB] Embeda MIN, [R2]"),
    ("1806700", "naltrexone / oxycodone", "MIN", "[KB] [R2] define_rx.sql"),
    (
        "1190572",
        "atropine sulfate 0.025 MG / diphenoxylate hydrochloride 2.5 MG Oral Tablet",
        "SCD",
        "[KB] [R3] VS 2.16.840.1.113883.3.464.1003.1050",
    ),
    # 1190568: [KB] says "oral solution" only; strengths = Lomotil liquid (2.5 + 0.025 mg / 5 mL), UNVERIFIED
    (
        "1190568",
        "atropine sulfate 0.005 MG/ML / diphenoxylate hydrochloride 0.5 MG/ML Oral Solution",
        "SCD",
        "[KB] [R3] VS 2.16.840.1.113883.3.464.1003.1050 (display UNVERIFIED)",
    ),
    # 1190738: [KB] "Difenoxin 1190738 (same VS)"; term type and strengths not stated, so none are asserted
    (
        "1190738",
        "atropine / difenoxin",
        "SCD",
        "[KB] [R3] VS 2.16.840.1.113883.3.464.1003.1050 (display UNVERIFIED)",
    ),
]

CDC_MEDICATION_SETS = [
    "opioid-analgesics-with-ambulatory-misuse-potential",
    "non-synthetic-opioid-medications",
    "synthetic-opioid-medications",
    "fentanyl-type-medications",
    "oxycodone-medications",
    "buprenorphine-medications",
    "methadone-medications",
    "buprenorphine-and-methadone-medications",
    "naloxone-medications",
]

ANTITUSSIVE_PARTNERS = {
    "guaifenesin",
    "promethazine",
    "chlorpheniramine",
    "pseudoephedrine",
    "phenylephrine",
    "brompheniramine",
    "dexbrompheniramine",
    "dexchlorpheniramine",
    "chlorcyclizine",
    "bromodiphenhydramine",
    "pyrilamine",
    "triprolidine",
    "phenylpropanolamine",
    "homatropine",
}
ANALGESIC_PARTNERS = {"acetaminophen", "aspirin", "ibuprofen", "celecoxib", "butalbital", "carisoprodol"}
ANTITUSSIVE_OPIOIDS = {"codeine", "dihydrocodeine", "hydrocodone", "pholcodine"}

# Names seen in free text -> ingredients: INN spellings in six languages, synonyms, US/EU brand names
# (`terminology_sources/medication_names.csv`; SBD "[Brand]" names from the CDC data are added automatically).
NAMES = read_table("medication_names.csv")
BRANDS: dict[str, tuple[str, ...]] = {r["term"].lower(): tuple(r["ingredients"].split("+")) for r in NAMES}
BRAND_PRODUCT_CLASSES = {r["term"].lower(): tuple(r["product_classes"].split()) for r in NAMES if r["product_classes"]}
NAME_SOURCES = {r["term"].lower(): f"{r['source']} [{r['kind']}, {r['language']}]" for r in NAMES}

# ---- Conditions: severe liver disease codes (ICD-10 CM/WHO/GM, SNOMED CT) and text terms in six languages
CONDITIONS = read_table("conditions.csv")
CONDITION_TERMS = read_table("condition_terms.csv")
TEXT_RULES = read_table("text_rules.csv")
LABS = read_table("labs.csv")
ATC_ROWS = read_table("atc.csv")
NDC_ROWS = read_table("ndc.csv")
SNOMED_MED_ROWS = read_table("snomed_medications.csv")

# Off-label indications: id -> (title, SNOMED concepts, ICD concepts, ICD is-a prefixes, source note)
OFF_LABEL = {
    "multiple-sclerosis": (
        "Multiple sclerosis",
        [("24700007", "Multiple sclerosis")],
        [("G35", "Multiple sclerosis")],
        ["G35"],
        "[KB] [R7] [R8]; G35 sub-codes matched by prefix",
    ),
    "fibromyalgia": (
        "Fibromyalgia",
        [("203082005", "Fibromyalgia")],
        [("M79.7", "Fibromyalgia")],
        ["M79.7"],
        "[KB] UNVERIFIED codes",
    ),
    "amyotrophic-lateral-sclerosis": (
        "Amyotrophic lateral sclerosis",
        [("86044005", "Amyotrophic lateral sclerosis")],
        [("G12.21", "Amyotrophic lateral sclerosis")],
        [],
        "[KB] UNVERIFIED codes",
    ),
    "autism-developmental-disorder": (
        "Autism and pervasive developmental disorders",
        [("408856003", "Autistic disorder")],
        [("F84.0", "Autistic disorder")],
        ["F84"],
        "[KB] [R3] VS 2.16.840.1.113883.3.464.1003.105.12.1152; F84 category",
    ),
    "borderline-personality-disorder": (
        "Borderline personality disorder",
        [("20010003", "Borderline personality disorder")],
        [("F60.3", "Borderline personality disorder")],
        [],
        "[KB] [R3] VS 2.16.840.1.113883.3.67.1.101.1.246",
    ),
    "dissociative-disorder": (
        "Dissociative and conversion disorders",
        [],
        [],
        ["F44"],
        "[KB] [R8] F44 category (CM leaf codes and SNOMED UNVERIFIED)",
    ),
    "opioid-induced-constipation": (
        "Opioid-induced constipation",
        [],
        [("K59.03", "Drug induced constipation")],
        [],
        "[KB] UNVERIFIED code",
    ),
}
CANCER_ICD_PREFIXES = [f"C{n:02d}" for n in range(0, 97)] + ["C4A", "C7A", "C7B"]

URINE_PRIORITY = [
    "19295-5",
    "3879-4",
    "58379-9",
    "59673-4",
    "58359-1",
    "19550-3",
    "58430-0",
    "19642-8",
    "19321-9",
]
CDC_URINE_SETS = [
    "opioid-urine-drug-screening",
    "general-opiate-urine-drug-screening-tests",
    "opiate-specific-urine-drug-screening-tests",
    "heroin-urine-drug-screening-tests",
    "fentanyl-type-urine-drug-screening-tests",
    "oxycodone-urine-drug-screening-tests",
    "buprenorphine-urine-drug-screening-tests",
    "methadone-urine-drug-screening-tests",
    "synthetic-opioid-urine-drug-screening-tests",
]
# ----------------------------------------------------------------------------------------------------


def load_cdc(ref: Path, name: str) -> dict:
    return json.loads((ref / "valuesets" / f"{name}.json").read_text(encoding="utf-8"))


def expansion(vs: dict, system: str | None = None) -> list[tuple[str, str, str]]:
    return [
        (c["system"], c["code"], c.get("display", ""))
        for c in vs.get("expansion", {}).get("contains", [])
        if system is None or c["system"] == system
    ]


def _src(text: str) -> list[dict]:
    return [{"url": SOURCE_EXT, "valueString": text}]


def valueset(
    vid: str,
    title: str,
    classes: list[str],
    description: str,
    concepts: dict[str, list[tuple[str, ...]]],
    prefixes: dict[str, list] | None = None,
    source: str | None = None,
) -> dict:
    """A ValueSet of one class. Every include carries its provenance (`urn:cds-naltrexone:source`): concepts
    are `(code, display)` (the ValueSet's `source`) or `(code, display, source)`; prefixes are `value` or
    `(value, source)`. The loader compares ICD-10-CM, ICD-10 WHO and ICD-10-GM codes in one namespace (the
    three share the category structure); conditions.csv rows say which flavours state a code."""
    default = source or description
    includes = []
    for system, items in concepts.items():
        groups: OrderedDict[str, OrderedDict[str, str]] = OrderedDict()
        seen: set[str] = set()
        for item in items:
            code, display = item[0], item[1]
            if code in seen:
                continue
            seen.add(code)
            groups.setdefault(item[2] if len(item) > 2 else default, OrderedDict())[code] = display
        for src, codes in groups.items():
            includes.append({**({"extension": _src(src)} if src != default else {}), "system": system,
                             "concept": [{"code": c, "display": d} if d else {"code": c} for c, d in codes.items()]})
    for system, values in (prefixes or {}).items():
        for value in values:
            value, src = (value, default) if isinstance(value, str) else value
            includes.append({**({"extension": _src(src)} if src != default else {}), "system": system,
                             "filter": [{"property": "concept", "op": "is-a", "value": value}]})
    return {
        "resourceType": "ValueSet",
        "id": vid,
        # the ValueSet's own source applies to every include that does not name another one
        "extension": [{"url": CLASS_EXT, "valueCode": c} for c in classes] + _src(default),
        "url": VS_BASE + vid,
        "version": DATE,
        "name": "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", vid)),
        "title": title,
        "status": "active",
        "experimental": False,
        "date": DATE,
        "publisher": "cds-naltrexone",
        "description": description,
        "compose": {"include": includes},
    }


def condition_rows(cls: str) -> tuple[dict[str, list[tuple[str, str, str]]], dict[str, list]]:
    """conditions.csv rows of one class -> (concepts by system, prefixes by system), each with its source."""
    concepts: dict[str, list[tuple[str, str, str]]] = {}
    prefixes: dict[str, list] = {}
    for row in CONDITIONS:
        if row["class"] != cls:
            continue
        for system in ICD_SYSTEMS[row["system"]]:
            if row["match"] == "prefix":
                prefixes.setdefault(system, []).append((row["code"], row["source"]))
            else:
                concepts.setdefault(system, []).append((row["code"], row["display"], row["source"]))
    return concepts, prefixes


def terms_valueset(cls: str, classes: list[str]) -> dict | None:
    """Text-only conditions of one class: clinical terms in six languages (system urn:cds-naltrexone:condition-text)."""
    rows = [r for r in CONDITION_TERMS if r["class"] == cls]
    if not rows:
        return None
    vs = valueset(f"{cls}-terms", f"{cls}: clinical terms (text)", classes,
                  f"Words that name {cls} in a Condition's text when no recognised code is sent.",
                  {TEXT_SYSTEM: [(r["term"], "", r["source"]) for r in rows]})
    langs = {r["term"]: r["language"] for r in rows}
    for inc in vs["compose"]["include"]:
        for concept in inc["concept"]:
            concept["designation"] = [{"language": langs[concept["code"]], "value": concept["code"]}]
    return vs


def text_rules_valueset() -> dict:
    """How free text is read: salt words glued to INN names (German), negation cues before a condition term."""
    concepts: dict[str, list[tuple[str, str, str]]] = {}
    for row in TEXT_RULES:
        concepts.setdefault(f"{TEXT_RULE_SYSTEM}/{row['kind']}", []).append((row["value"], "", row["source"]))
    return valueset("text-rules", "Free-text reading rules", ["text-rules"],
                    "Salt suffixes split from INN names before matching, and negation cues that cancel a condition "
                    "term in the same clause.", concepts)


# ---- medication parsing
_BRAND = re.compile(r"\s*\[([^\]]*)\]")
_COMPONENT = re.compile(
    r"(?:(?<=^)|(?<=[\s(]))(?P<name>[a-z][a-z\-]*(?: [a-z][a-z\-]*)*) (?P<num>\d+(?:\.\d+)?) "
    r"(?P<unit>MG/ML|MG/HR|MG/ACTUAT|MCG/HR|MCG/ML|MCG/ACTUAT|MG|MCG)\b"
)


def canonical_name(raw: str) -> str:
    words = [w for w in raw.lower().split() if w not in SALT_WORDS]
    name = " ".join(words) or raw.lower()
    return NAME_ALIASES.get(name, name)


def parse_display(display: str) -> tuple[list[tuple[str, float | None, str]], str | None, list[str]]:
    """RxNorm SCD/SBD/MIN name -> ([(ingredient, strength_mg per unit, unit)], dose form, brands)."""
    brands = _BRAND.findall(display)
    text = _BRAND.sub("", display).strip()
    pack = re.match(r"^\{\d+ \((.*)\)\s*\}\s*Pack$", text)
    if pack:
        text = pack.group(1).strip()
    ingredients: OrderedDict[str, tuple[float | None, str]] = OrderedDict()
    last_end = None
    for m in _COMPONENT.finditer(text):
        name = canonical_name(m.group("name"))
        unit = m.group("unit")
        value = float(m.group("num"))
        mg = value if unit in ("MG", "MG/ML", "MG/ACTUAT") else None
        if name in ingredients:  # two salts of one ingredient (oxycodone HCl + terephthalate): add up
            prev, prev_unit = ingredients[name]
            mg = None if prev is None or mg is None else round(prev + mg, 4)
            unit = prev_unit
        ingredients[name] = (mg, unit)
        last_end = m.end()
    if last_end is None:  # MIN / IN style "morphine / naltrexone"
        parts = [p.strip() for p in text.split(" / ")]
        return [(canonical_name(p), None, "") for p in parts], None, brands
    dose_form = text[last_end:].strip() or None
    return [(n, mg, u) for n, (mg, u) in ingredients.items()], dose_form, brands


def product_classes(ings: list[str], dose_form: str | None) -> list[str]:
    classes = []
    names = set(ings)
    if names & ANTITUSSIVE_OPIOIDS:
        partners = names - ANTITUSSIVE_OPIOIDS
        solution = bool(dose_form and re.search(r"Oral Solution|Syrup", dose_form))
        if partners & ANTITUSSIVE_PARTNERS or (
            solution and not partners & ANALGESIC_PARTNERS and not partners
        ):
            classes.append("cough-medicine")
    if "naltrexone" in names and dose_form and "Injection" in dose_form and len(names) == 1:
        classes.append("extended-release-injection")
    return classes


def medication_resource(rxcui: str, display: str, tty: str, source: str, parsed, extra_classes=()) -> dict:
    ings, dose_form, _brands = parsed
    res: dict = {
        "resourceType": "Medication",
        "id": f"rxnorm-{rxcui}",
        "extension": [{"url": CONCEPT_TYPE_EXT, "valueCode": tty}],
        "code": {"coding": [{"system": RXNORM, "code": rxcui, "display": display}]},
    }
    res["extension"].append({"url": SOURCE_EXT, "valueString": source})
    classes = list(extra_classes) or product_classes([i[0] for i in ings], dose_form)
    res["extension"] += [{"url": CLASS_EXT, "valueCode": c} for c in classes]
    if dose_form:
        res["form"] = {"text": dose_form}
    out = []
    for name, mg, unit in ings:
        rxn = INGREDIENTS.get(name, (None, ()))[0]
        item: dict = {"itemCodeableConcept": {"text": name}}
        if rxn:
            item["itemCodeableConcept"]["coding"] = [{"system": RXNORM, "code": rxn, "display": name}]
        if mg is not None:
            denom = {"MG": "{unit}", "MG/ML": "mL", "MG/ACTUAT": "{actuat}"}[unit]
            item["strength"] = {
                "numerator": {"value": mg, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"},
                "denominator": {
                    "value": 1,
                    "unit": denom,
                    "system": "http://unitsofmeasure.org",
                    "code": denom,
                },
            }
        out.append(item)
    res["ingredient"] = out
    return res


def build_medications(ref: Path) -> tuple[dict, dict[str, int]]:
    products: OrderedDict[str, tuple[str, str, str]] = OrderedDict()
    for name in CDC_MEDICATION_SETS:
        for _s, code, display in expansion(load_cdc(ref, name), RXNORM):
            tty = "SBD" if "[" in display else "SCD"
            if code in products:
                continue
            products[code] = (display, tty, f"CDC Opioid CDS IG ValueSet {name}")
    for code, display, tty, source in EXTRA_PRODUCTS:
        products.setdefault(code, (display, tty, source))

    entries = []
    brand_map: dict[str, set[tuple[str, ...]]] = {}
    brand_classes: dict[str, set[tuple[str, ...]]] = {}
    unknown: set[str] = set()
    for code, (display, tty, source) in products.items():
        parsed = parse_display(display)
        extra = ("extended-release-injection",) if code == "637213" else ()
        res = medication_resource(code, display, tty, source, parsed, extra)
        entries.append(res)
        pclasses = tuple(sorted(e["valueCode"] for e in res["extension"] if e["url"] == CLASS_EXT))
        names = tuple(sorted(i[0] for i in parsed[0]))
        for n in names:
            if n not in INGREDIENTS:
                unknown.add(n)
        for brand in parsed[2]:
            if brand.lower().startswith("subsys "):
                brand = "Subsys"
            brand_map.setdefault(brand.lower(), set()).add(names)
            brand_classes.setdefault(brand.lower(), set()).add(pclasses)
    # Ingredient-level concepts (IN) and the ingredient class table
    ingredient_sources = {r["name"]: r["source"] for r in read_table("ingredients.csv")}
    for name, (rxn, classes) in INGREDIENTS.items():
        res = {
            "resourceType": "Medication",
            "id": f"ingredient-{re.sub(r'[^a-z0-9]+', '-', name)}",
            "extension": [{"url": CONCEPT_TYPE_EXT, "valueCode": "IN"}, *_src(ingredient_sources[name])]
            + [{"url": CLASS_EXT, "valueCode": c} for c in classes],
            "code": {"text": name},
            "ingredient": [{"itemCodeableConcept": {"text": name}}],
        }
        if rxn:
            res["code"]["coding"] = [{"system": RXNORM, "code": rxn, "display": name.capitalize()}]
            res["ingredient"][0]["itemCodeableConcept"]["coding"] = [
                {"system": RXNORM, "code": rxn, "display": name}
            ]
        entries.append(res)
    # Brand names for free-text matching: hand list + unambiguous SBD brands from the data
    brands = dict(BRANDS)
    classes_of_brand: dict[str, tuple[str, ...]] = dict(BRAND_PRODUCT_CLASSES)
    for brand, sets in brand_map.items():
        if len(sets) == 1 and brand not in brands:
            brands[brand] = next(iter(sets))
            if len(brand_classes[brand]) == 1:  # e.g. "Tuzistra" -> cough-medicine
                classes_of_brand.setdefault(brand, next(iter(brand_classes[brand])))
    for brand, ings in sorted(brands.items()):
        for n in ings:
            if n not in INGREDIENTS and brand in NAME_SOURCES:
                raise SystemExit(f"medication_names.csv: {brand!r} names {n!r}, which ingredients.csv lacks")
        source = NAME_SOURCES.get(brand, "RxNorm SBD brand name in the CDC IG product value sets")
        ext = [{"url": CONCEPT_TYPE_EXT, "valueCode": "BN"}, *_src(source)] + [
            {"url": CLASS_EXT, "valueCode": c} for c in classes_of_brand.get(brand, ())
        ]
        entries.append(
            {
                "resourceType": "Medication",
                "id": "brand-" + re.sub(r"[^a-z0-9]+", "-", brand).strip("-"),
                "extension": ext,
                "code": {"text": brand},
                "ingredient": [{"itemCodeableConcept": {"text": n}} for n in ings],
            }
        )
    entries += atc_entries() + ndc_entries(products) + snomed_entries()
    bundle = {
        "resourceType": "Bundle",
        "id": "medication-products",
        "meta": {"tag": [{"system": "urn:cds-naltrexone", "code": "terminology", "display": DATE}]},
        "type": "collection",
        "entry": [{"fullUrl": f"urn:cds-naltrexone:medication/{e['id']}", "resource": e} for e in entries],
    }
    counts = {
        "medication-products (RxNorm products)": len(products),
        "ingredients": len(INGREDIENTS),
        "brand names, synonyms, INN spellings": len(brands),
        "ATC codes and prefixes": len(ATC_ROWS),
        "NDC products": len(NDC_ROWS),
        "SNOMED CT substances and products": len(SNOMED_MED_ROWS),
    }
    if unknown:
        counts["non-opioid co-ingredients"] = len(unknown)
    return bundle, counts


def atc_entries() -> list[dict]:
    """ATC hierarchy as Medication resources: a 7-character code is one substance (or combination), a shorter
    one is a level of the hierarchy whose classes every code under it inherits (the longest match wins)."""
    out = []
    for row in ATC_ROWS:
        ings = row["ingredients"].split("+") if row["ingredients"] else []
        for n in ings:
            if n not in INGREDIENTS:
                raise SystemExit(f"atc.csv: {row['atc']} names {n!r}, which ingredients.csv lacks")
        classes = row["classes"].split()
        if not ings and not classes:
            raise SystemExit(f"atc.csv: {row['atc']} has neither ingredients nor classes")
        kind = "ATC" if len(row["atc"]) == 7 else "ATC-LEVEL"
        ext = [{"url": CONCEPT_TYPE_EXT, "valueCode": kind}, *_src(row["source"])]
        ext += [{"url": CLASS_EXT, "valueCode": c} for c in classes]  # stated classes replace the ingredients'
        out.append({
            "resourceType": "Medication", "id": f"atc-{row['atc'].lower()}", "extension": ext,
            "code": {"coding": [{"system": ATC, "code": row["atc"], "display": row["display"]}]},
            "ingredient": [{"itemCodeableConcept": {"text": n}} for n in ings],
        })
    return out


def ndc_entries(products: dict[str, tuple[str, str, str]]) -> list[dict]:
    """Shipped NDC product codes (labeler-product) mapped to the RxNorm concept they are."""
    out = []
    for row in NDC_ROWS:
        if row["rxcui"] not in products:
            raise SystemExit(f"ndc.csv: {row['ndc']} maps to RxNorm {row['rxcui']}, which the pack does not ship")
        out.append({
            "resourceType": "Medication", "id": f"ndc-{row['ndc']}",
            "extension": [{"url": CONCEPT_TYPE_EXT, "valueCode": "NDC"}, *_src(row["source"])],
            "code": {"coding": [{"system": NDC, "code": row["ndc"], "display": row["display"]},
                                {"system": RXNORM, "code": row["rxcui"], "display": row["display"]}]},
        })
    return out


def snomed_entries() -> list[dict]:
    """SNOMED CT medicinal products and substances (as European and UK EHRs code medications) -> ingredients.
    Classes come from the ingredients (contextualised by the loader like any product); a row's
    `product_classes` adds product classes ("extended-release-injection")."""
    out = []
    for row in SNOMED_MED_ROWS:
        ings = row["ingredients"].split("+")
        for n in ings:
            if n not in INGREDIENTS:
                raise SystemExit(f"snomed_medications.csv: {row['sctid']} names {n!r}, which ingredients.csv lacks")
        if row["kind"] not in ("substance", "product"):
            raise SystemExit(f"snomed_medications.csv: {row['sctid']}: kind must be substance or product")
        ext = [{"url": CONCEPT_TYPE_EXT, "valueCode": f"SCT-{row['kind'].upper()}"}, *_src(row["source"])]
        ext += [{"url": CLASS_EXT, "valueCode": c} for c in row["product_classes"].split()]
        out.append({
            "resourceType": "Medication", "id": f"sct-{row['sctid']}", "extension": ext,
            "code": {"coding": [{"system": SNOMED, "code": row["sctid"], "display": row["display"]}]},
            "ingredient": [{"itemCodeableConcept": {"text": n}} for n in ings],
        })
    return out


# ---- conditions / observations
def build_valuesets(ref: Path) -> list[dict]:
    out = []
    # ---- Opioid use disorder
    omd = load_cdc(ref, "opioid-misuse-disorders")
    overdose = re.compile(r"overdose|poisoning", re.I)
    oud_sct = [(c, d) for _s, c, d in expansion(omd, SNOMED) if not overdose.search(d)]
    od_sct = [(c, d) for _s, c, d in expansion(omd, SNOMED) if overdose.search(d)]
    oud_icd = [(c, d) for _s, c, d in expansion(omd, ICD10CM)]
    src = f"Derived from the {CDC} 'opioid-misuse-disorders'"
    out.append(
        valueset(
            "opioid-use-disorder",
            "Opioid use disorder",
            ["opioid-use-disorder"],
            f"{src} (overdose/poisoning codes excluded; ICD-10-CM F11 matched by prefix).",
            {SNOMED: oud_sct, ICD10CM: oud_icd},
            {ICD10CM: ["F11"]},
        )
    )
    rem = [(s, c, d) for s, c, d in expansion(omd) if "remission" in d.lower() and not overdose.search(d)]
    out.append(
        valueset(
            "opioid-use-disorder-remission",
            "Opioid use disorder in remission",
            ["opioid-use-disorder", "opioid-use-disorder-remission"],
            f"{src}: codes whose display says 'in remission'.",
            {
                SNOMED: [(c, d) for s, c, d in rem if s == SNOMED],
                ICD10CM: [(c, d) for s, c, d in rem if s == ICD10CM],
            },
        )
    )
    out.append(
        valueset(
            "opioid-agonist-therapy",
            "Opioid dependence on agonist therapy",
            ["opioid-use-disorder", "opioid-agonist-therapy"],
            f"{src}; {KB} (R02).",
            {SNOMED: [(c, d) for c, d in oud_sct if c == "1081000119105"]},
        )
    )
    out.append(
        valueset(
            "opioid-overdose",
            "Opioid overdose or poisoning",
            ["opioid-overdose"],
            f"{src}: the overdose/poisoning codes (history of opioid overdose, {KB} R16).",
            {SNOMED: od_sct},
        )
    )
    # ---- Alcohol use disorder
    sub = load_cdc(ref, "conditions-documenting-substance-misuse")
    aud_re = re.compile(r"alcohol (abuse|dependence|use disorder)|alcoholism|harmful use of alcohol", re.I)
    aud_sct = [
        (c, d) for _s, c, d in expansion(sub, SNOMED) if aud_re.search(d) and not re.search("fetal", d, re.I)
    ]
    aud_icd = [(c, d) for _s, c, d in expansion(sub, ICD10CM) if c.startswith("F10")]
    out.append(
        valueset(
            "alcohol-use-disorder",
            "Alcohol use disorder",
            ["alcohol-use-disorder"],
            f"Alcohol abuse/dependence codes from the {CDC} 'conditions-documenting-substance-misuse' "
            f"(SNOMED by display; ICD-10-CM F10 matched by prefix); {KB}.",
            {SNOMED: aud_sct, ICD10CM: aud_icd},
            {ICD10CM: ["F10"]},
        )
    )
    # ---- Liver: "severe liver disease" as hepatologists mean it (cirrhosis of any cause and its
    # decompensation, hepatic failure and its manifestations, acute hepatitis of any cause); chronic viral
    # hepatitis without these stays out. Codes: conditions.csv; CDC SNOMED hepatic failure codes by display.
    term = load_cdc(ref, "conditions-likely-terminal-for-opioid-prescribing")
    terminal = f"{CDC} 'conditions-likely-terminal-for-opioid-prescribing'"
    hf_re = re.compile(r"hepatic failure|liver failure|end stage liver disease", re.I)
    liver = {
        "hepatic-failure": ("Hepatic failure and its manifestations",
                            [(c, d, terminal) for _s, c, d in expansion(term, SNOMED) if hf_re.search(d)]),
        "cirrhosis": ("Cirrhosis of any cause, portal hypertension and decompensation",
                      [(c, d, terminal) for _s, c, d in expansion(term, SNOMED)
                       if d.startswith("Hepatorenal syndrome")]),
        "acute-hepatitis": ("Acute hepatitis of any cause (viral, alcoholic, toxic, ischaemic)", []),
    }
    for cls, (title, cdc_snomed) in liver.items():
        concepts, prefixes = condition_rows(cls)
        concepts[SNOMED] = concepts.get(SNOMED, []) + cdc_snomed
        if cls == "hepatic-failure":
            icd = [(c, d, terminal) for _s, c, d in expansion(term, ICD10CM) if c.startswith(("K72", "K70.4"))]
            concepts[ICD10CM] = concepts.get(ICD10CM, []) + icd
        classes = ["severe-liver-disease", cls]
        out.append(valueset(cls, title, classes,
                            f"{title}: ICD-10 (CM, WHO, GM; by prefix where a whole category qualifies) and SNOMED CT. "
                            "Sources per include (conditions.csv; CDC IG).", concepts, prefixes))
        texts = terms_valueset(cls, classes)
        if texts:
            out.append(texts)
    for cls, classes in (("opioid-use-disorder", ["opioid-use-disorder"]),
                         ("alcohol-use-disorder", ["alcohol-use-disorder"])):
        texts = terms_valueset(cls, classes)
        if texts:
            out.append(texts)
    out.append(text_rules_valueset())
    # ---- Off-label indications
    for vid, (title, sct, icd, prefixes, note) in OFF_LABEL.items():
        out.append(
            valueset(
                vid,
                title,
                ["off-label-indication", vid],
                f"Off-label naltrexone indication. Source: {KB} {note}.",
                {SNOMED: sct, ICD10CM: icd},
                {ICD10CM: prefixes},
            )
        )
    hf_codes = {c for vs in out if vs["id"] in liver for inc in vs["compose"]["include"]
                if inc["system"] == SNOMED for c in (x["code"] for x in inc.get("concept", ()))}
    cancer_sct = [("363346000", "Malignant neoplastic disease")] + [
        (c, d) for _s, c, d in expansion(term, SNOMED) if c not in hf_codes and not d.startswith("Familial")
    ]
    out.append(
        valueset(
            "cancer",
            "Malignant neoplasm",
            ["off-label-indication", "cancer"],
            f"SNOMED 363346000 ({KB}) plus the malignancy codes of the {CDC} "
            "'conditions-likely-terminal-for-opioid-prescribing'; ICD-10-CM C00-C96 (incl. C4A, C7A, C7B) "
            "by prefix.",
            {SNOMED: cancer_sct},
            {ICD10CM: CANCER_ICD_PREFIXES},
        )
    )
    # ---- Observations
    urine: OrderedDict[str, str] = OrderedDict()
    for name in CDC_URINE_SETS:
        for _s, c, d in expansion(load_cdc(ref, name), LOINC):
            urine.setdefault(c, d)
    allu = {c: d for _s, c, d in expansion(load_cdc(ref, "all-urine-drug-screening-tests"), LOINC)}
    naltrexone_re = re.compile(r"naltrex", re.I)  # naltrexone, naltrexol, 6-beta naltrexol
    naltrexone_tests = [(c, d) for c, d in {**allu, **urine}.items() if naltrexone_re.search(d)]
    screens = [(c, d) for c, d in urine.items() if not naltrexone_re.search(d) and "cutoff" not in d.lower()]
    order = {c: i for i, c in enumerate(URINE_PRIORITY)}
    screens.sort(key=lambda cd: order.get(cd[0], len(order)))
    out.append(
        valueset(
            "urine-opioid-screen",
            "Urine opioid drug screens",
            ["urine-opioid-screen"],
            f"Union of the {CDC}s {', '.join(CDC_URINE_SETS)}, minus naltrexone/naltrexol tests "
            "(not opioid results) "
            "and 'cutoff' codes (lab thresholds, not results). Most common screen codes first.",
            {LOINC: screens},
        )
    )
    out.append(
        valueset(
            "urine-naltrexone",
            "Urine naltrexone tests",
            ["urine-naltrexone"],
            f"Naltrexone / 6-beta-naltrexol urine tests found in the {CDC}s 'all-urine-drug-screening-tests' "
            "and "
            f"'opioid-urine-drug-screening' (adherence tests, not opioid results; {KB}: 19609-7).",
            {LOINC: sorted(naltrexone_tests, key=lambda cd: cd[0] != "19609-7")},
        )
    )
    for cls, title in (("alt", "Alanine aminotransferase"), ("ast", "Aspartate aminotransferase")):
        rows = [r for r in LABS if r["class"] == cls]
        out.append(valueset(cls, title, [cls],
                            f"Every LOINC code of serum/plasma/blood {title} (with and without pyridoxal phosphate, "
                            "all systems): labs.csv.",
                            {LOINC: [(r["loinc"], r["display"], r["source"]) for r in rows]}))
    return out


def write(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_bundle(path: Path, bundle: dict) -> None:
    """One compact entry per line: small, fast to parse, still diffable."""
    head = {k: v for k, v in bundle.items() if k != "entry"}
    lines = [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in bundle["entry"]]
    text = json.dumps(head, ensure_ascii=False)[:-1] + ', "entry": [\n' + ",\n".join(lines) + "\n]}\n"
    json.loads(text)
    path.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, default=Path("/work/shared/reference"))
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.json"):
        old.unlink()
    for vs in build_valuesets(args.reference):
        write(args.out / f"{vs['id']}.json", vs)
        n = sum(len(i.get("concept", [])) for i in vs["compose"]["include"])
        f = sum(len(i.get("filter", [])) for i in vs["compose"]["include"])
        print(f"{vs['id']:36s} {n:5d} codes" + (f" + {f} is-a filters" if f else ""))
    bundle, counts = build_medications(args.reference)
    write_bundle(args.out / "medication-products.json", bundle)
    for k, v in counts.items():
        print(f"{k:36s} {v:5d}")


if __name__ == "__main__":
    main()
