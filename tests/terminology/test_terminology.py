"""Terminology layer: exact classes and strengths for the codes the rules depend on."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.valueset import ValueSet

from cds_service.terminology import ICD10CM, LOINC, RXNORM, SNOMED, Ingredient, get_terminology

PACKAGE = Path(__file__).resolve().parents[2] / "cds_service"
DATA = PACKAGE / "terminology" / "data"


@pytest.fixture(scope="module")
def t():
    return get_terminology()


def rx(t, code, system=RXNORM):
    product = t.medication([(system, code, None)])
    assert product is not None, code
    return product


def ing(product, name) -> Ingredient:
    return next(i for i in product.ingredients if i.name == name)


# ---- medications
def test_naltrexone_tablet(t):
    p = rx(t, "1483744")
    assert p.display == "naltrexone hydrochloride 50 MG Oral Tablet"
    assert p.dose_form == "Oral Tablet"
    assert [i.name for i in p.ingredients] == ["naltrexone"]
    n = p.ingredients[0]
    assert n.rxcui == "7243"
    assert n.strength_mg == 50.0
    assert n.classes == {"naltrexone", "opioid-antagonist-therapy", "opioid-antagonist"}
    assert p.classes == frozenset()


def test_oid_system_and_first_recognised_coding(t):
    p = t.medication(
        [
            (SNOMED, "123", "x"),
            (RXNORM, "999999999", None),
            ("urn:oid:2.16.840.1.113883.6.88", "1483744", None),
        ]
    )
    assert p is not None and p.rxcui == "1483744"
    assert t.medication([(SNOMED, "1483744", None)]) is None
    assert t.medication([]) is None


def test_vivitrol_extended_release_injection(t):
    p = rx(t, "637213")
    assert p.classes == {"extended-release-injection"}
    assert p.ingredients[0].strength_mg == 380.0
    assert p.ingredients[0].classes == {"naltrexone", "opioid-antagonist-therapy", "opioid-antagonist"}


def test_embeda_is_an_opioid_not_naltrexone_therapy(t):
    p = rx(t, "863845")
    assert ing(p, "morphine").classes == {"opioid", "opioid-full-agonist"}
    assert ing(p, "morphine").strength_mg == 100.0
    nal = ing(p, "naltrexone")
    assert nal.classes == {"naltrexone", "abuse-deterrent", "opioid-antagonist"}
    assert nal.strength_mg == 4.0
    for code in ("863848", "863850", "863852", "863854", "863856", "866331", "1806700"):
        p = rx(t, code)
        assert "opioid-antagonist-therapy" not in ing(p, "naltrexone").classes
        assert "abuse-deterrent" in ing(p, "naltrexone").classes


def test_buprenorphine_naloxone(t):
    p = rx(t, "1010604")
    bup = ing(p, "buprenorphine")
    assert bup.classes == {"opioid", "opioid-partial-agonist", "opioid-maintenance"}
    assert bup.strength_mg == 8.0
    nlx = ing(p, "naloxone")
    assert nlx.classes == {"naloxone", "abuse-deterrent", "opioid-antagonist"}
    assert nlx.strength_mg == 2.0
    assert p.dose_form == "Sublingual Film"


def test_naloxone_rescue(t):
    p = rx(t, "1725059")
    assert p.ingredients[0].classes == {"naloxone", "naloxone-rescue", "opioid-antagonist"}
    assert p.ingredients[0].strength_mg == 40.0  # MG/ML
    assert rx(t, "7242").ingredients[0].classes == {"naloxone", "naloxone-rescue", "opioid-antagonist"}


def test_pentazocine_naloxone_is_abuse_deterrent(t):
    p = rx(t, "312289")
    assert ing(p, "naloxone").classes == {"naloxone", "abuse-deterrent", "opioid-antagonist"}
    assert ing(p, "pentazocine").classes == {"opioid", "opioid-mixed-agonist-antagonist"}


def test_methadone_and_mixed_agonists(t):
    assert rx(t, "864706").ingredients[0].classes == {"opioid", "opioid-full-agonist", "opioid-maintenance"}
    assert rx(t, "886634").ingredients[0].classes == {"opioid", "opioid-mixed-agonist-antagonist"}
    assert rx(t, "250485").ingredients[0].classes == {"opioid", "opioid-mixed-agonist-antagonist"}
    assert rx(t, "7238").ingredients[0].classes == {"opioid", "opioid-mixed-agonist-antagonist"}


def test_peripheral_opioids(t):
    assert rx(t, "6468").ingredients[0].classes == {"opioid", "opioid-peripheral"}
    p = rx(t, "1190572")
    assert ing(p, "diphenoxylate").classes == {"opioid", "opioid-peripheral"}
    assert ing(p, "diphenoxylate").strength_mg == 2.5
    assert ing(p, "atropine").classes == {"not-opioid"}
    assert ing(rx(t, "1190568"), "diphenoxylate").classes == {"opioid", "opioid-peripheral"}
    assert ing(rx(t, "1190738"), "difenoxin").classes == {"opioid", "opioid-peripheral"}


def test_combination_antagonists(t):
    contrave = rx(t, "1551468")
    assert ing(contrave, "naltrexone").classes == {"naltrexone", "opioid-antagonist-therapy", "opioid-antagonist"}
    assert ing(contrave, "naltrexone").strength_mg == 8.0
    assert ing(contrave, "bupropion").classes == {"not-opioid"}
    for code in ("2570392", "2570399", "2570402", "2570405"):
        p = rx(t, code)
        assert ing(p, "samidorphan").classes == {"samidorphan", "opioid-antagonist-therapy", "opioid-antagonist"}
        assert ing(p, "samidorphan").strength_mg == 10.0


def test_common_opioid_products_and_strengths(t):
    p = rx(t, "857002")
    assert ing(p, "hydrocodone").strength_mg == 5.0
    assert ing(p, "hydrocodone").classes == {"opioid", "opioid-full-agonist"}
    assert ing(p, "acetaminophen").strength_mg == 325.0
    assert ing(p, "acetaminophen").classes == {"not-opioid"}
    assert rx(t, "1049621").ingredients[0].name == "oxycodone"
    assert rx(t, "835603").ingredients[0].strength_mg == 50.0
    assert rx(t, "1049504").display.endswith("[Oxycontin]")  # SBD
    assert rx(t, "245135").ingredients[0].strength_mg is None  # MG/HR patch
    # two salts of one ingredient are added up
    assert ing(rx(t, "637540"), "oxycodone").strength_mg == pytest.approx(4.88)


def test_ingredient_codes(t):
    expected = {
        "2670": "codeine",
        "5489": "hydrocodone",
        "7804": "oxycodone",
        "7052": "morphine",
        "3423": "hydromorphone",
        "7814": "oxymorphone",
        "4337": "fentanyl",
        "6813": "methadone",
        "1819": "buprenorphine",
        "10689": "tramadol",
        "787390": "tapentadol",
        "6754": "meperidine",
        "6378": "levorphanol",
        "1841": "butorphanol",
        "7238": "nalbuphine",
        "8001": "pentazocine",
        "23088": "dihydrocodeine",
        "7676": "opium",
        "8785": "propoxyphene",
        "237005": "levomethadyl",
        "6468": "loperamide",
        "3304": "heroin",
    }
    for code, name in expected.items():
        p = rx(t, code)
        assert [i.name for i in p.ingredients] == [name]
        assert "opioid" in p.ingredients[0].classes
    assert rx(t, "7243").ingredients[0].classes == {"naltrexone", "opioid-antagonist-therapy", "opioid-antagonist"}


def test_cough_medicine(t):
    assert rx(t, "996757").classes == {"cough-medicine"}  # codeine/phenylephrine/promethazine
    assert rx(t, "995868").classes == {"cough-medicine"}  # codeine/guaifenesin
    assert rx(t, "996734").classes == {"cough-medicine"}  # codeine oral solution
    assert "opioid" in ing(rx(t, "996757"), "codeine").classes
    assert rx(t, "997285").classes == frozenset()  # codeine tablet: analgesic
    assert rx(t, "993755").classes == frozenset()  # acetaminophen/codeine elixir: analgesic


def test_dextromethorphan_is_not_an_opioid(t):
    p = t.medication_from_text("Dextromethorphan 30 mg/5 mL syrup")
    assert p is not None
    assert [i.name for i in p.ingredients] == ["dextromethorphan"]
    assert not any("opioid" in i.classes for i in p.ingredients)


def test_medication_from_text(t):
    p = t.medication_from_text("Naltrexone 4.5 mg compounded capsule")
    assert p is not None and p.rxcui is None
    assert [(i.name, i.strength_mg) for i in p.ingredients] == [("naltrexone", 4.5)]
    assert p.ingredients[0].classes == {"naltrexone", "opioid-antagonist-therapy", "opioid-antagonist"}
    assert t.medication_from_text("naltrexone hydrochloride 50 MG tab").ingredients[0].strength_mg == 50.0
    assert t.medication_from_text("Vivitrol 380 mg IM q4wk").classes == {"extended-release-injection"}
    sub = t.medication_from_text("SUBOXONE 8-2 mg film")
    assert {i.name: i.classes for i in sub.ingredients} == {
        "buprenorphine": {"opioid", "opioid-partial-agonist", "opioid-maintenance"},
        "naloxone": {"naloxone", "abuse-deterrent", "opioid-antagonist"},
    }
    bn = t.medication_from_text("buprenorphine-naloxone")
    assert [i.name for i in bn.ingredients] == ["buprenorphine", "naloxone"]
    emb = t.medication_from_text("Embeda 20 mg")
    assert ing(emb, "naltrexone").classes == {"naltrexone", "abuse-deterrent", "opioid-antagonist"}
    assert t.medication_from_text("Imodium A-D").ingredients[0].classes == {"opioid", "opioid-peripheral"}
    assert ing(t.medication_from_text("Lomotil"), "diphenoxylate").classes == {"opioid", "opioid-peripheral"}
    assert ing(t.medication_from_text("Lybalvi"), "samidorphan").classes == {
        "samidorphan",
        "opioid-antagonist-therapy",
        "opioid-antagonist",
    }
    assert t.medication_from_text("Contrave") is not None
    assert t.medication_from_text("pethidine 50 mg").ingredients[0].name == "meperidine"
    assert t.medication_from_text("hydrocodeine") is None  # no partial-word matches
    assert [(i.name, i.classes) for i in t.medication_from_text("aspirin 81 mg").ingredients] == [
        ("aspirin", {"not-opioid"})]  # known, and known not to be an opioid
    assert t.medication_from_text("metformin 500 mg") is None
    assert t.medication_from_text("") is None
    assert t.medication_from_text(None) is None


def test_product_from_ingredients_applies_context(t):
    morphine = t.ingredient(RXNORM, "7052", "morphine")
    naltrexone = t.ingredient(None, None, "Naltrexone Hydrochloride")
    assert naltrexone is not None and naltrexone.rxcui == "7243"
    p = t.product_from_ingredients([morphine, naltrexone], "compounded morphine/naltrexone")
    assert ing(p, "naltrexone").classes == {"naltrexone", "abuse-deterrent", "opioid-antagonist"}
    alone = t.product_from_ingredients([naltrexone], "compounded naltrexone")
    assert alone.ingredients[0].classes == {"naltrexone", "opioid-antagonist-therapy", "opioid-antagonist"}
    nlx = t.ingredient_by_name("naloxone HCl")
    assert t.product_from_ingredients([nlx], "x").ingredients[0].classes == {"naloxone", "naloxone-rescue",
                                                                             "opioid-antagonist"}
    assert t.ingredient_by_name("unobtainium") is None


# ---- conditions
@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        (ICD10CM, "F11.20", {"opioid-use-disorder"}),
        (ICD10CM, "F1120", {"opioid-use-disorder"}),
        (ICD10CM, "f11.23", {"opioid-use-disorder"}),
        (ICD10CM, "F11.21", {"opioid-use-disorder", "opioid-use-disorder-remission"}),
        (SNOMED, "191821007", {"opioid-use-disorder", "opioid-use-disorder-remission"}),
        (SNOMED, "5602001", {"opioid-use-disorder"}),
        (SNOMED, "1081000119105", {"opioid-use-disorder", "opioid-agonist-therapy"}),
        (SNOMED, "242253008", {"opioid-overdose"}),
        (ICD10CM, "F10.20", {"alcohol-use-disorder"}),
        (SNOMED, "66590003", {"alcohol-use-disorder"}),
        (SNOMED, "7200002", {"alcohol-use-disorder"}),
        (ICD10CM, "B16.9", {"severe-liver-disease", "acute-hepatitis"}),
        (SNOMED, "37871000", {"severe-liver-disease", "acute-hepatitis"}),
        (ICD10CM, "K72.00", {"severe-liver-disease", "hepatic-failure"}),
        (ICD10CM, "K7041", {"severe-liver-disease", "hepatic-failure"}),
        (SNOMED, "59927004", {"severe-liver-disease", "hepatic-failure"}),
        (SNOMED, "197270009", {"severe-liver-disease", "hepatic-failure"}),
        (ICD10CM, "K7460", {"severe-liver-disease", "cirrhosis"}),
        (ICD10CM, "K70.30", {"severe-liver-disease", "cirrhosis"}),
        (ICD10CM, "K74.3", {"severe-liver-disease", "cirrhosis"}),
        (SNOMED, "19943007", {"severe-liver-disease", "cirrhosis"}),
        (SNOMED, "716203000", {"severe-liver-disease", "cirrhosis"}),
        (SNOMED, "24700007", {"off-label-indication", "multiple-sclerosis"}),
        (ICD10CM, "G35", {"off-label-indication", "multiple-sclerosis"}),
        (ICD10CM, "G35.A", {"off-label-indication", "multiple-sclerosis"}),
        (ICD10CM, "M79.7", {"off-label-indication", "fibromyalgia"}),
        (SNOMED, "203082005", {"off-label-indication", "fibromyalgia"}),
        (ICD10CM, "G12.21", {"off-label-indication", "amyotrophic-lateral-sclerosis"}),
        (SNOMED, "86044005", {"off-label-indication", "amyotrophic-lateral-sclerosis"}),
        (ICD10CM, "F84.0", {"off-label-indication", "autism-developmental-disorder"}),
        (SNOMED, "408856003", {"off-label-indication", "autism-developmental-disorder"}),
        (ICD10CM, "F60.3", {"off-label-indication", "borderline-personality-disorder"}),
        (SNOMED, "20010003", {"off-label-indication", "borderline-personality-disorder"}),
        (ICD10CM, "F44.81", {"off-label-indication", "dissociative-disorder"}),
        (ICD10CM, "C50.911", {"off-label-indication", "cancer"}),
        (ICD10CM, "C7A.00", {"off-label-indication", "cancer"}),
        (SNOMED, "363346000", {"off-label-indication", "cancer"}),
        (ICD10CM, "K59.03", {"off-label-indication", "opioid-induced-constipation"}),
        (ICD10CM, "E11.9", set()),
        (ICD10CM, "F60.4", set()),
        (ICD10CM, "D05.10", set()),
        (SNOMED, "44054006", set()),
        ("http://example.org/local", "F11.20", set()),
        (None, "F11.20", set()),
        (ICD10CM, None, set()),
        (ICD10CM, "", set()),
    ],
)
def test_condition_classes(t, system, code, expected):
    assert t.condition_classes(system, code) == expected


# ---- observations
def test_observation_classes(t):
    assert t.observation_classes(LOINC, "19609-7") == {"urine-naltrexone"}
    assert t.observation_classes(LOINC, "82524-0") == {"urine-naltrexone"}  # 6-beta-naltrexol
    for code in (
        "19295-5",
        "3879-4",
        "58379-9",
        "59673-4",
        "58359-1",
        "19550-3",
        "58430-0",
        "19642-8",
        "19321-9",
    ):
        assert t.observation_classes(LOINC, code) == {"urine-opioid-screen"}, code
    assert t.observation_classes(LOINC, "1742-6") == {"alt"}
    for code in ("1920-8", "30239-8", "88112-8"):
        assert t.observation_classes(LOINC, code) == {"ast"}
    assert t.observation_classes(LOINC, "2345-7") == frozenset()
    assert t.observation_classes(SNOMED, "1742-6") == frozenset()


def test_observation_codes(t):
    urine = t.observation_codes("urine-opioid-screen")
    assert [c for _s, c in urine[:9]] == [
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
    assert all(s == LOINC for s, _c in urine)
    assert ("http://loinc.org", "19609-7") not in urine
    assert len(urine) == len(set(urine)) > 300
    assert t.observation_codes("urine-naltrexone")[0] == (LOINC, "19609-7")
    assert t.observation_codes("alt")[0] == (LOINC, "1742-6")
    assert {c for _s, c in t.observation_codes("alt")} == {"1742-6", "1743-4", "1744-2", "48134-1", "76625-3",
                                                          "77144-4"}
    assert {c for _s, c in t.observation_codes("ast")} == {"1920-8", "30239-8", "48136-6", "88112-8"}
    assert t.observation_codes("no-such-class") == []


# ---- data files
def test_data_files_are_valid_fhir():
    files = sorted(DATA.glob("*.json"))
    assert len(files) >= 20
    for path in files:
        obj = json.loads(path.read_text(encoding="utf-8"))
        if obj["resourceType"] == "ValueSet":
            vs = ValueSet.model_validate(obj)
            assert vs.url == f"urn:cds-naltrexone:valueset/{path.stem}"
            assert vs.name and vs.title and vs.description
            assert vs.compose.include
        else:
            assert path.name == "medication-products.json"
            Bundle.model_validate(obj)


def test_package_never_references_shared_reference():
    needle = "/work/" + "shared"
    offenders = [
        str(p)
        for p in PACKAGE.rglob("*")
        if p.is_file()
        and p.suffix in {".py", ".json", ".toml", ".txt", ".md"}
        and needle in p.read_text("utf-8")
    ]
    assert offenders == []


def test_load_time_is_small():
    code = (
        "import time; t=time.process_time();"
        "from cds_service.terminology import get_terminology; get_terminology();"
        "print(time.process_time()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # CPU time, not wall time: on a machine shared by many jobs the wall clock waits for a core
    assert float(out.stdout) < 1.0  # measured ~50 ms; generous bound for slow CI


def test_lookups_are_fast(t):
    start = time.perf_counter()
    for _ in range(10_000):
        t.medication([(RXNORM, "1483744", None)])
        t.condition_classes(ICD10CM, "F11.20")
        t.observation_classes(LOINC, "19295-5")
    assert time.perf_counter() - start < 0.5


def test_brand_names_from_data_carry_product_classes(t):
    p = t.medication_from_text("Tuzistra XR 5 mL q12h")
    assert p is not None and p.classes == {"cough-medicine"}
    assert "opioid" in ing(p, "codeine").classes
