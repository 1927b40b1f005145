"""SNOMED CT substances / medicinal products and NDC products classify by code, into the RxNorm/ATC classes.

The shipped tables (`scripts/terminology_sources/snomed_medications.csv`, `ndc.csv`) are the single source;
these tests check that every row classifies as its ingredients say, that both NDC spellings an EHR sends
(10-digit hyphenated, 11-digit) are read, that a display nobody could read still classifies by its code, and
that `terminology explain` names each entry's provenance.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cds_service.terminology import NDC, SNOMED, get_terminology

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "scripts" / "terminology_sources"
SNOMED_OID = "urn:oid:2.16.840.1.113883.6.96"
NDC_OID = "urn:oid:2.16.840.1.113883.6.69"
FULL = {"opioid", "opioid-full-agonist"}
THERAPY = {"opioid-antagonist", "opioid-antagonist-therapy"}


@pytest.fixture(scope="module")
def t():
    return get_terminology()


def classes_by_ingredient(product) -> dict[str, set[str]]:
    return {i.name: set(i.classes) for i in product.ingredients}


def table(name: str) -> list[dict[str, str]]:
    with (SOURCES / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# ---- SNOMED CT
@pytest.mark.parametrize(("code", "expected"), [
    ("55452001", {"oxycodone": FULL}),
    ("430127000", {"oxycodone": FULL}),  # medicinal product "Oral form oxycodone"
    ("387341002", {"heroin": FULL}),  # diamorphine, as UK charts name it
    ("96186004", {"tilidine": FULL}),  # the salt concept names the opioid it carries
    ("725666006", {"codeine": FULL}),
    ("387298007", {"meperidine": FULL}),  # pethidine
    ("387173000", {"buprenorphine": {"opioid", "opioid-partial-agonist", "opioid-maintenance"}}),
    ("387286002", {"methadone": FULL | {"opioid-maintenance"}}),
    ("387040009", {"loperamide": {"opioid", "opioid-peripheral"}}),
    ("430417004", {"butorphanol": {"opioid", "opioid-mixed-agonist-antagonist"}}),  # nasal spray product
    ("373546002", {"naltrexone": {"naltrexone"} | THERAPY}),
    ("109098006", {"nalmefene": {"nalmefene"} | THERAPY}),
    ("372890007", {"naloxone": {"naloxone", "opioid-antagonist", "naloxone-rescue"}}),
])
def test_snomed_substances_and_products(t, code, expected):
    product = t.medication([(SNOMED, code, None)])
    assert product is not None and classes_by_ingredient(product) == expected


def test_every_snomed_row_classifies_as_its_ingredients(t):
    rows = table("snomed_medications.csv")
    assert len(rows) >= 20
    for row in rows:
        product = t.medication([(SNOMED, row["sctid"], None)])
        assert product is not None, row["sctid"]
        assert [i.name for i in product.ingredients] == row["ingredients"].split("+"), row["sctid"]
        assert product.display == row["display"]


def test_a_snomed_coded_opioid_is_classified_by_its_code_not_its_display(t):
    """A local abbreviation that names no INN: the code alone makes it an opioid (OID spelling, as Epic sends)."""
    display = "Oxy p.o. 5 mg (Hausliste)"
    assert t.medication_from_text(display) is None
    product = t.medication([(SNOMED_OID, " 430127000 ", display)])
    assert product is not None and classes_by_ingredient(product) == {"oxycodone": FULL}


def test_snomed_condition_codes_are_not_medications(t):
    assert t.medication([(SNOMED, "19943007", "Cirrhosis of liver")]) is None  # a disorder, not a product
    assert t.medication([(SNOMED, "999999999", None)]) is None  # unshipped: the caller falls back to the text
    assert "cirrhosis" in t.condition_classes(SNOMED, "19943007")


def test_snomed_explain_names_the_source(t):
    e = t.explain(SNOMED, "55452001")
    assert e.classes == FULL and e.how == "SNOMED CT Oxycodone (substance)"
    assert any("project-husky/husky" in s and "ActivePharmaceuticalIngredient" in s for s in e.sources)
    product = t.explain(SNOMED, "430127000")
    assert any("medicationexample0310" in s for s in product.sources)


# ---- NDC
VIVITROL = {"naltrexone": {"naltrexone"} | THERAPY}


@pytest.mark.parametrize("code", ["65757-300-01", "65757-0300-01", "65757030001", "65757-300"])
def test_vivitrol_kit_in_every_ndc_spelling(t, code):
    product = t.medication([(NDC, code, None)])
    assert product is not None and classes_by_ingredient(product) == VIVITROL
    assert product.rxcui == "637213" and "extended-release-injection" in product.classes


@pytest.mark.parametrize(("code", "rxcui", "expected"), [
    ("68071-3654-3", "1483744", VIVITROL),  # 5-4-1 package code
    ("68071365403", "1483744", VIVITROL),  # the same package, 11 digits
    ("71335-3012-1", "1483744", VIVITROL),
    ("65757-651-42", "2570392", {"olanzapine": {"not-opioid"}, "samidorphan": {"samidorphan"} | THERAPY}),
    ("72162-1336-1", "1049611", {"oxycodone": FULL}),
    ("66267031930", "856999", {"hydrocodone": FULL, "acetaminophen": {"not-opioid"}}),
])
def test_ndc_products(t, code, rxcui, expected):
    product = t.medication([(NDC_OID, code, None)])
    assert product is not None and product.rxcui == rxcui and classes_by_ingredient(product) == expected
    assert "extended-release-injection" not in product.classes


def test_every_ndc_row_maps_to_a_shipped_rxnorm_product(t):
    rows = table("ndc.csv")
    assert len(rows) >= 8
    for row in rows:
        product = t.medication([(NDC, row["ndc"], None)])
        assert product is not None and product.rxcui == row["rxcui"] and product.display == row["display"]


def test_an_unshipped_or_ambiguous_ndc_is_not_guessed(t):
    assert t.medication([(NDC, "00000-0000-00", None)]) is None
    assert t.medication([(NDC, "6575730001", None)]) is None  # 10 digits without hyphens: 4-4-2, 5-3-2 or 5-4-1


def test_explain_cli_shows_snomed_and_ndc_provenance():
    env = {"PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "cds_service", "terminology", "explain", "ndc|65757-300-01", "--json"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=True)
    out = json.loads(run.stdout)
    assert out["classes"] == ["extended-release-injection", "naltrexone", "opioid-antagonist",
                              "opioid-antagonist-therapy"]
    assert out["how"] == "NDC product 657570300 = RxNorm 637213 (naltrexone 380 MG Injection)"
    assert "cd11c435-b0f0-4bb9-ae78-60f101f3703f" in out["sources"][0]
    run = subprocess.run([sys.executable, "-m", "cds_service", "terminology", "explain", "sct|373546002"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=True)
    assert "SNOMED CT Naltrexone (substance)" in run.stdout and "project-husky/husky" in run.stdout


def test_a_site_map_may_target_a_shipped_snomed_medication(t):
    """A house formulary code mapped to SNOMED CT 55452001 loads (it is a code the pack classifies) and is an
    opioid; a SNOMED code the pack knows neither as a medication nor as a condition still stops start-up."""
    from cds_service.terminology.site_map import SiteMapError, parse_site_map

    def site_map(target: str) -> dict:
        return {"resourceType": "ConceptMap", "status": "active", "group": [
            {"source": "urn:oid:1.2.276.0.76.3.1.999.1", "target": SNOMED,
             "element": [{"code": "APO-4711", "target": [{"code": target, "equivalence": "equivalent"}]}]}]}

    mapped = t.with_site_map(parse_site_map(site_map("55452001"), t))
    product = mapped.medication([("urn:oid:1.2.276.0.76.3.1.999.1", "APO-4711", "OXY HAUS")])
    assert product is not None and classes_by_ingredient(product) == {"oxycodone": FULL}
    with pytest.raises(SiteMapError, match="999999999"):
        parse_site_map(site_map("999999999"), t)
