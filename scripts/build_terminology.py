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
import json
import re
from collections import OrderedDict
from pathlib import Path

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
CLASS_EXT = "urn:cds-naltrexone:class"
CONCEPT_TYPE_EXT = "urn:cds-naltrexone:rxnorm-concept-type"
SOURCE_EXT = "urn:cds-naltrexone:source"
VS_BASE = "urn:cds-naltrexone:valueset/"
CDC = "CDC Opioid CDS IG (cqframework/opioid-cds-r4, CC0) ValueSet"
KB = "naltrexone-knowledge.md §2 (project research notes)"
DATE = "2025-01-01"

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "cds_service" / "terminology" / "data"

# ----------------------------------------------------------------------------------------------------
# Hand-authored knowledge ([KB] = naltrexone-knowledge.md §2 unless stated otherwise)
# ----------------------------------------------------------------------------------------------------

# Ingredient: canonical name -> (IN rxcui or None, intrinsic classes). Contextual classes (abuse-deterrent,
# opioid-antagonist-therapy, naloxone-rescue) are applied by the loader from the product's ingredient mix.
_FULL = ("opioid", "opioid-full-agonist")
_MAINT = ("opioid-maintenance",)
INGREDIENTS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    # [KB] "Opioid ingredient RxCUIs" (OMTKData2019.cql / VSAC Opioids)
    "codeine": ("2670", _FULL),
    "hydrocodone": ("5489", _FULL),
    "oxycodone": ("7804", _FULL),
    "morphine": ("7052", _FULL),
    "hydromorphone": ("3423", _FULL),
    "oxymorphone": ("7814", _FULL),
    "fentanyl": ("4337", _FULL),
    "methadone": ("6813", _FULL + _MAINT),
    "buprenorphine": ("1819", ("opioid", "opioid-partial-agonist", *_MAINT)),
    "tramadol": ("10689", _FULL),
    "tapentadol": ("787390", _FULL),
    "meperidine": ("6754", _FULL),
    "levorphanol": ("6378", _FULL),
    "butorphanol": ("1841", ("opioid", "opioid-mixed-agonist-antagonist")),
    "nalbuphine": ("7238", ("opioid", "opioid-mixed-agonist-antagonist")),
    "pentazocine": ("8001", ("opioid", "opioid-mixed-agonist-antagonist")),
    "dihydrocodeine": ("23088", _FULL),
    "opium": ("7676", _FULL),
    "propoxyphene": ("8785", _FULL),
    "levomethadyl": ("237005", _FULL),
    "heroin": ("3304", _FULL),  # [KB] weakly verified ([R2] define_rx.sql only)
    "loperamide": ("6468", ("opioid", "opioid-peripheral")),
    "diphenoxylate": (None, ("opioid", "opioid-peripheral")),  # IN rxcui UNVERIFIED in [KB]
    "difenoxin": (None, ("opioid", "opioid-peripheral")),  # IN rxcui UNVERIFIED in [KB]
    # Opioids that occur only inside the CDC product value sets (no IN rxcui in [KB])
    "alfentanil": (None, _FULL),
    "sufentanil": (None, _FULL),
    "remifentanil": (None, _FULL),
    "benzhydrocodone": (None, _FULL),  # hydrocodone prodrug
    "dipipanone": (None, _FULL),
    "dextromoramide": (None, _FULL),
    "pholcodine": (None, _FULL),
    "meptazinol": (None, ("opioid", "opioid-partial-agonist")),
    # Antagonists ([KB]: naltrexone 7243, naloxone 7242; samidorphan IN UNVERIFIED)
    "naltrexone": ("7243", ("naltrexone",)),
    "samidorphan": (None, ("samidorphan",)),
    "naloxone": ("7242", ("naloxone",)),
    # Non-opioids recognised in text as "known, not an opioid" ([KB]: dextromethorphan is NOT one)
    "dextromethorphan": (None, ()),
    "bupropion": (None, ()),
    "olanzapine": (None, ()),
    "atropine": (None, ()),
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

# Brand names seen in free text -> ingredients (SBD "[Brand]" names from the data are added automatically).
BRANDS: dict[str, tuple[str, ...]] = {
    "vivitrol": ("naltrexone",),
    "revia": ("naltrexone",),
    "depade": ("naltrexone",),
    "contrave": ("bupropion", "naltrexone"),
    "mysimba": ("bupropion", "naltrexone"),
    "lybalvi": ("olanzapine", "samidorphan"),
    "suboxone": ("buprenorphine", "naloxone"),
    "zubsolv": ("buprenorphine", "naloxone"),
    "bunavail": ("buprenorphine", "naloxone"),
    "subutex": ("buprenorphine",),
    "sublocade": ("buprenorphine",),
    "brixadi": ("buprenorphine",),
    "belbuca": ("buprenorphine",),
    "butrans": ("buprenorphine",),
    "buprenex": ("buprenorphine",),
    "probuphine": ("buprenorphine",),
    "embeda": ("morphine", "naltrexone"),
    "troxyca": ("naltrexone", "oxycodone"),
    "imodium": ("loperamide",),
    "lomotil": ("atropine", "diphenoxylate"),
    "motofen": ("atropine", "difenoxin"),
    "narcan": ("naloxone",),
    "kloxxado": ("naloxone",),
    "zimhi": ("naloxone",),
    "evzio": ("naloxone",),
    "rextovy": ("naloxone",),
    "talwin": ("pentazocine",),
    "stadol": ("butorphanol",),
    "nubain": ("nalbuphine",),
    "oxycontin": ("oxycodone",),
    "percocet": ("acetaminophen", "oxycodone"),
    "roxicodone": ("oxycodone",),
    "vicodin": ("acetaminophen", "hydrocodone"),
    "norco": ("acetaminophen", "hydrocodone"),
    "ms contin": ("morphine",),
    "dilaudid": ("hydromorphone",),
    "opana": ("oxymorphone",),
    "duragesic": ("fentanyl",),
    "dolophine": ("methadone",),
    "methadose": ("methadone",),
    "ultram": ("tramadol",),
    "nucynta": ("tapentadol",),
    "demerol": ("meperidine",),
    "ldn": ("naltrexone",),
    "low dose naltrexone": ("naltrexone",),
    # synonyms ([KB] / SNOMED wording) handled like brand names
    "pethidine": ("meperidine",),
    "diamorphine": ("heroin",),
    "dextropropoxyphene": ("propoxyphene",),
    "6-mam": ("heroin",),
    "tylenol with codeine": ("acetaminophen", "codeine"),
}
BRAND_PRODUCT_CLASSES = {"vivitrol": ("extended-release-injection",)}

# ---- Conditions
HEPATIC_FAILURE_SNOMED_KB = [
    ("59927004", "Hepatic failure"),
    ("197270009", "Acute hepatic failure"),
    ("235886005", "Chronic hepatic failure"),
    ("235884008", "Fulminant hepatic failure"),
]
CIRRHOSIS_KB = {
    SNOMED: [
        ("19943007", "Cirrhosis of liver"),
        ("420054005", "Alcoholic cirrhosis"),
        ("716203000", "Decompensated cirrhosis of liver"),
        ("123717006", "Advanced cirrhosis"),
    ],
    ICD10CM: [
        ("K70.30", "Alcoholic cirrhosis of liver without ascites"),
        ("K70.31", "Alcoholic cirrhosis of liver with ascites"),
        ("K74.3", "Primary biliary cirrhosis"),
        ("K74.4", "Secondary biliary cirrhosis"),
        ("K74.5", "Biliary cirrhosis, unspecified"),
        ("K74.60", "Unspecified cirrhosis of liver"),
        ("K74.69", "Other cirrhosis of liver"),
        ("K71.7", "Toxic liver disease with fibrosis and cirrhosis of liver"),
        ("K76.7", "Hepatorenal syndrome"),
    ],
}
CIRRHOSIS_ICD_PREFIXES = ["K70.3", "K74.3", "K74.4", "K74.5", "K74.6"]
ACUTE_HEPATITIS_KB = {
    SNOMED: [("37871000", "Acute hepatitis"), ("235866006", "Acute hepatitis C")],
    ICD10CM: [
        ("B15.0", "Hepatitis A with hepatic coma"),
        ("B15.9", "Hepatitis A without hepatic coma"),
        ("B16.0", "Acute hepatitis B with delta-agent with hepatic coma"),
        ("B16.1", "Acute hepatitis B with delta-agent without hepatic coma"),
        ("B16.2", "Acute hepatitis B without delta-agent with hepatic coma"),
        ("B16.9", "Acute hepatitis B without delta-agent and without hepatic coma"),
        ("B17.10", "Acute hepatitis C without hepatic coma"),
        ("B17.11", "Acute hepatitis C with hepatic coma"),
        ("B17.9", "Acute viral hepatitis, unspecified"),
    ],
}
ACUTE_HEPATITIS_ICD_PREFIXES = ["B15", "B16", "B17"]  # categories B15-B17 are all acute viral hepatitis

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
ALT_CODES = [("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma")]
AST_CODES = [
    ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma"),
    ("30239-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma by With P-5'-P"),
    ("88112-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum, Plasma or Blood"),
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


def valueset(
    vid: str,
    title: str,
    classes: list[str],
    description: str,
    concepts: dict[str, list[tuple[str, str]]],
    prefixes: dict[str, list[str]] | None = None,
) -> dict:
    includes = []
    for system, items in concepts.items():
        seen: OrderedDict[str, str] = OrderedDict()
        for code, display in items:
            seen.setdefault(code, display)
        if seen:
            includes.append(
                {"system": system, "concept": [{"code": c, "display": d} for c, d in seen.items()]}
            )
    for system, values in (prefixes or {}).items():
        for value in values:
            includes.append(
                {"system": system, "filter": [{"property": "concept", "op": "is-a", "value": value}]}
            )
    return {
        "resourceType": "ValueSet",
        "id": vid,
        "extension": [{"url": CLASS_EXT, "valueCode": c} for c in classes],
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
    for name, (rxn, classes) in INGREDIENTS.items():
        res = {
            "resourceType": "Medication",
            "id": f"ingredient-{name.replace(' ', '-')}",
            "extension": [{"url": CONCEPT_TYPE_EXT, "valueCode": "IN"}]
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
        ext = [{"url": CONCEPT_TYPE_EXT, "valueCode": "BN"}] + [
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
        "brand names": len(brands),
    }
    if unknown:
        counts["non-opioid co-ingredients"] = len(unknown)
    return bundle, counts


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
    # ---- Liver
    term = load_cdc(ref, "conditions-likely-terminal-for-opioid-prescribing")
    hf_re = re.compile(r"hepatic failure|liver failure|end stage liver disease", re.I)
    hf_sct = HEPATIC_FAILURE_SNOMED_KB + [(c, d) for _s, c, d in expansion(term, SNOMED) if hf_re.search(d)]
    hf_icd = [(c, d) for _s, c, d in expansion(term, ICD10CM) if c.startswith(("K72", "K70.4"))]
    out.append(
        valueset(
            "hepatic-failure",
            "Hepatic failure",
            ["severe-liver-disease", "hepatic-failure"],
            f"Hepatic failure codes of the {CDC} 'conditions-likely-terminal-for-opioid-prescribing' "
            f"(SNOMED 59927004 descendants, ICD-10-CM K72 and K70.4 matched by prefix); {KB}.",
            {SNOMED: hf_sct, ICD10CM: hf_icd},
            {ICD10CM: ["K72", "K70.4"]},
        )
    )
    hrs = [(c, d) for _s, c, d in expansion(term, SNOMED) if d.startswith("Hepatorenal syndrome")]
    out.append(
        valueset(
            "cirrhosis",
            "Cirrhosis and severe chronic liver disease",
            ["severe-liver-disease", "cirrhosis"],
            f"{KB} (R08: [R3] Chronic Liver Disease VS 2.16.840.1.113883.3.464.1003.199.12.1035; 716203000 "
            f"from [R1]); hepatorenal syndrome SNOMED codes from the {CDC} "
            "'conditions-likely-terminal-for-opioid-prescribing'.",
            {SNOMED: CIRRHOSIS_KB[SNOMED] + hrs, ICD10CM: CIRRHOSIS_KB[ICD10CM]},
            {ICD10CM: CIRRHOSIS_ICD_PREFIXES},
        )
    )
    out.append(
        valueset(
            "acute-hepatitis",
            "Acute hepatitis",
            ["severe-liver-disease", "acute-hepatitis"],
            f"{KB} (R07: [R3] Liver Disease VS 2.16.840.1.113762.1.4.1047.42, hepatitis A/B/C VS); "
            "ICD-10-CM B15-B17 (acute viral hepatitis) matched by prefix.",
            ACUTE_HEPATITIS_KB,
            {ICD10CM: ACUTE_HEPATITIS_ICD_PREFIXES},
        )
    )
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
    hf_codes = {c for c, _d in hf_sct} | {c for c, _d in hrs} | {"716203000"}
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
    out.append(
        valueset("alt", "Alanine aminotransferase", ["alt"], f"{KB} ([R5] 1742-6).", {LOINC: ALT_CODES})
    )
    out.append(
        valueset(
            "ast",
            "Aspartate aminotransferase",
            ["ast"],
            f"{KB} ([R3] VS 2.16.840.1.113762.1.4.1248.224: 1920-8; also 30239-8, 88112-8).",
            {LOINC: AST_CODES},
        )
    )
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
