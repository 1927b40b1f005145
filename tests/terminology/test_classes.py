"""Class-based terminology: ATC by hierarchy, NDC, OID spellings, ICD-10 WHO/GM, text in six languages, labs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cds_service.terminology import ATC, ICD10, ICD10CM, ICD10GM, LOINC, NDC, RXNORM, SNOMED, get_terminology
from fhir_builders.systems import ATC_OID

DATA = Path(__file__).resolve().parents[2] / "cds_service" / "terminology" / "data"


@pytest.fixture(scope="module")
def t():
    return get_terminology()


def names_and_classes(product) -> list[tuple[str, set[str]]]:
    return [(i.name, set(i.classes)) for i in product.ingredients]


FULL = {"opioid", "opioid-full-agonist"}


# ---- ATC
@pytest.mark.parametrize(("system", "code", "expected"), [
    (ATC, "N02AA05", [("oxycodone", FULL)]),
    (ATC_OID, "N02AB03", [("fentanyl", FULL)]),
    ("http://fhir.de/CodeSystem/bfarm/atc", "N02AX06", [("tapentadol", FULL)]),
    (ATC, "N02AE01", [("buprenorphine", {"opioid", "opioid-partial-agonist", "opioid-maintenance"})]),
    (ATC, "N02AF02", [("nalbuphine", {"opioid", "opioid-mixed-agonist-antagonist"})]),
    (ATC, "N07BC02", [("methadone", FULL | {"opioid-maintenance"})]),
    (ATC, "N07BC05", [("levomethadone", FULL | {"opioid-maintenance"})]),
    (ATC, "N01AH06", [("remifentanil", FULL)]),
    (ATC, "R05DA04", [("codeine", FULL)]),
    (ATC, "A07DA03", [("loperamide", {"opioid", "opioid-peripheral"})]),
    (ATC, "A07DA02", [("opium", FULL)]),  # antidiarrhoeal opium tincture is systemic
    (ATC, "N02AA55", [("oxycodone", FULL), ("naloxone", {"naloxone", "opioid-antagonist", "abuse-deterrent"})]),
    (ATC, "N02AX51", [("tilidine", FULL), ("naloxone", {"naloxone", "opioid-antagonist", "abuse-deterrent"})]),
    (ATC, "N07BB04", [("naltrexone", {"naltrexone", "opioid-antagonist", "opioid-antagonist-therapy"})]),
    (ATC, "N07BB05", [("nalmefene", {"nalmefene", "opioid-antagonist", "opioid-antagonist-therapy"})]),
    (ATC, "V03AB15", [("naloxone", {"naloxone", "opioid-antagonist", "naloxone-rescue"})]),
    (ATC, "A06AH01", [("methylnaltrexone", {"opioid-antagonist-peripheral"})]),
    (ATC, "A06AH04", [("naloxone", {"opioid-antagonist-peripheral"})]),  # oral naloxone acts in the gut only
    (ATC, "N07BC04", [("lofexidine", {"not-opioid"})]),  # in N07BC, but not an opioid
    (ATC, "R05DA09", [("dextromethorphan", {"not-opioid"})]),
    (ATC, "R05DA07", [("noscapine", {"not-opioid"})]),
])
def test_atc_substances(t, system, code, expected):
    product = t.medication([(system, code, None)])
    assert product is not None and names_and_classes(product) == expected


def test_atc_hierarchy_classifies_codes_the_table_does_not_list(t):
    """An opioid is an opioid whatever its 7th character: an unlisted N02A code inherits the level's classes."""
    p = t.medication([(ATC, "N02AX99", "Neues Opioid retard")])
    assert names_and_classes(p) == [("neues opioid retard", FULL)]
    p = t.medication([(ATC, "n02ac06", None)])  # lower case, no display
    assert names_and_classes(p) == [("ATC N02AC06", FULL)]
    assert names_and_classes(t.medication([(ATC, "A06AH09", None)])) == [("ATC A06AH09",
                                                                            {"opioid-antagonist-peripheral"})]
    assert names_and_classes(t.medication([(ATC, "N07BB03", None)])) == [("ATC N07BB03", {"not-opioid"})]
    assert t.medication([(ATC, "C09AA05", "Ramipril")]) is None  # outside every level the pack knows
    assert t.medication([(ATC, "N02BE01", "Paracetamol")]) is None  # N02B: non-opioid analgesics


def test_an_unlisted_atc_code_is_named_from_its_own_display_every_time(t):
    """The level's product is named from the coding's display: a memo on the code alone named every later
    product after the first one seen (seen as a card text that depended on which chart came first)."""
    first = t.medication([(ATC, "N02AX98", "Erstes Opioid 5 mg")])
    second = t.medication([(ATC, "N02AX98", "Zweites Opioid 10 mg")])
    again = t.medication([(ATC, "N02AX98", "Erstes Opioid 5 mg")])
    assert (first.display, second.display, again.display) == ("Erstes Opioid 5 mg", "Zweites Opioid 10 mg",
                                                              "Erstes Opioid 5 mg")
    assert names_and_classes(second) == [("zweites opioid 10 mg", FULL)]


def test_first_recognised_coding_wins_across_systems(t):
    p = t.medication([("http://local.example.org/formulary", "123", "x"), (ATC, "N02AA01", "Morphin")])
    assert names_and_classes(p) == [("morphine", FULL)]


# ---- NDC
@pytest.mark.parametrize("code", ["50090-6820", "50090-6820-0", "50090-6820-00", "50090682000"])
def test_shipped_ndc_maps_to_rxnorm(t, code):
    p = t.medication([(NDC, code, None)])
    assert p is not None and p.rxcui == "1483744"
    p = t.medication([("urn:oid:2.16.840.1.113883.6.69", code, None)])
    assert p is not None and p.rxcui == "1483744"


def test_unknown_or_ambiguous_ndc_is_not_guessed(t):
    assert t.medication([(NDC, "5009068200", None)]) is None  # 10 digits without hyphens: ambiguous
    assert t.medication([(NDC, "00000-0000-00", None)]) is None
    assert t.medication([(NDC, "abc", None)]) is None


def test_rxnorm_oid_form(t):
    assert t.medication([("urn:oid:2.16.840.1.113883.6.88", "1049621", None)]).rxcui == "1049621"
    assert t.medication([(RXNORM + "/", "1049621", None)]).rxcui == "1049621"


# ---- free text: INN in six languages, salts, brands, word boundaries
@pytest.mark.parametrize(("text", "expected", "mg"), [
    ("Morphinsulfat 10 mg Retardtabletten", "morphine", 10.0),
    ("Morphin-ratiopharm 30 mg", "morphine", None),  # a strength is read only right after the name
    ("oxycodone chlorhydrate 5 mg", "oxycodone", None),
    ("chlorhydrate d'oxycodone", "oxycodone", None),
    ("ossicodone cloridrato 10 mg", "oxycodone", None),
    ("Oxycodon HCl 20 mg", "oxycodone", 20.0),
    ("oxicodona 5 mg comprimidos", "oxycodone", 5.0),
    ("Oxycodonhydrochlorid 40 mg", "oxycodone", 40.0),
    ("Codéine 30 mg", "codeine", 30.0),
    ("Kodein", "codeine", None),
    ("fentanilo parche 25 mcg/h", "fentanyl", None),
    ("Buprenorfina 8 mg sublinguale", "buprenorphine", 8.0),
    ("Métadone", "methadone", None),  # accents folded: the Italian spelling
    ("méthadone sirop", "methadone", None),
    ("metadone cloridrato", "methadone", None),
    ("L-Polamidon Lösung", "levomethadone", None),
    ("Palexia retard 100 mg", "tapentadol", None),
    ("Durogesic 50 µg/h", "fentanyl", 0.05),  # µg read as mg / 1000
    ("Transtec 35", "buprenorphine", None),
    ("Temgesic 0,2 mg", "buprenorphine", 0.2),
    ("Tramal long 100", "tramadol", None),
    ("Oxycontin 10 mg", "oxycodone", 10.0),
    ("Dipidolor", "piritramide", None),
    ("Kratom powder daily", "mitragynine", None),
    ("Olinvyk 1 mg IV", "oliceridine", 1.0),
    ("tianeptine (gas station)", "tianeptine", None),
    ("isotonitazene", "isotonitazene", None),
    ("Heroin (street)", "heroin", None),
    ("Adepend 50 mg", "naltrexone", 50.0),
    ("Nalorex", "naltrexone", None),
    ("naltrexona 50 mg", "naltrexone", 50.0),
    ("Naltrexonhydrochlorid 50 mg", "naltrexone", 50.0),
])
def test_text_names(t, text, expected, mg):
    p = t.medication_from_text(text)
    if expected is None:
        assert p is None
        return
    assert p is not None and [i.name for i in p.ingredients] == [expected], text
    assert p.ingredients[0].strength_mg == mg


@pytest.mark.parametrize(("text", "expected"), [
    ("Suboxone 8/2", {"buprenorphine": {"opioid", "opioid-partial-agonist", "opioid-maintenance"},
                      "naloxone": {"naloxone", "opioid-antagonist", "abuse-deterrent"}}),
    ("Subutex 8 mg", {"buprenorphine": {"opioid", "opioid-partial-agonist", "opioid-maintenance"}}),
    ("Targin 10 mg/5 mg", {"oxycodone": FULL, "naloxone": {"naloxone", "opioid-antagonist", "abuse-deterrent"}}),
    ("Valoron N retard", {"tilidine": FULL, "naloxone": {"naloxone", "opioid-antagonist", "abuse-deterrent"}}),
    ("Vivitrol 380 mg", {"naltrexone": {"naltrexone", "opioid-antagonist", "opioid-antagonist-therapy"}}),
    ("Mysimba 8/90", {"naltrexone": {"naltrexone", "opioid-antagonist", "opioid-antagonist-therapy"},
                      "bupropion": {"not-opioid"}}),
    ("Contrave", {"naltrexone": {"naltrexone", "opioid-antagonist", "opioid-antagonist-therapy"},
                  "bupropion": {"not-opioid"}}),
    ("Lybalvi 10/10", {"samidorphan": {"samidorphan", "opioid-antagonist", "opioid-antagonist-therapy"},
                       "olanzapine": {"not-opioid"}}),
    ("Selincro 18 mg", {"nalmefene": {"nalmefene", "opioid-antagonist", "opioid-antagonist-therapy"}}),
    ("Opvee 2.7 mg nasal spray", {"nalmefene": {"nalmefene", "opioid-antagonist", "naloxone-rescue"}}),
    ("nalmefene injection", {"nalmefene": {"nalmefene", "opioid-antagonist", "naloxone-rescue"}}),
    ("Nyxoid 1.8 mg", {"naloxone": {"naloxone", "opioid-antagonist", "naloxone-rescue"}}),
    ("naloxone 0.4 mg/mL injection", {"naloxone": {"naloxone", "opioid-antagonist", "naloxone-rescue"}}),
    ("naloxone", {"naloxone": {"naloxone", "opioid-antagonist", "naloxone-rescue"}}),
    # naloxone alone by mouth is gut-only, as ATC A06AH04: neither rescue nor antagonist therapy
    ("Naloxon 3 mg Retardtabletten", {"naloxone": {"opioid-antagonist-peripheral"}}),
    ("naloxone 5 mg prolonged-release oral tablet", {"naloxone": {"opioid-antagonist-peripheral"}}),
    ("naloxone comprimé 3 mg", {"naloxone": {"opioid-antagonist-peripheral"}}),
    ("Targin 10/5 Retardtabletten", {"oxycodone": FULL,
                                     "naloxone": {"naloxone", "opioid-antagonist", "abuse-deterrent"}}),
    ("Relistor 12 mg s.c.", {"methylnaltrexone": {"opioid-antagonist-peripheral"}}),
    ("Moventig 25 mg", {"naloxegol": {"opioid-antagonist-peripheral"}}),
    ("Symproic", {"naldemedine": {"opioid-antagonist-peripheral"}}),
    ("Entereg", {"alvimopan": {"opioid-antagonist-peripheral"}}),
    ("Viberzi 100 mg", {"eluxadoline": {"opioid", "opioid-peripheral"}}),
])
def test_brands_and_antagonists(t, text, expected):
    p = t.medication_from_text(text)
    assert p is not None and {i.name: set(i.classes) for i in p.ingredients} == expected


def test_text_matching_keeps_word_boundaries(t):
    assert t.medication_from_text("Codeinism") is None
    assert t.medication_from_text("morphinan scaffold") is None
    assert t.medication_from_text("Targinine") is None
    assert t.medication_from_text("Temgesics") is None


def test_snomed_medication_is_read_from_its_display(t):
    """No SNOMED CT product codes are shipped: the fully specified name names the substance."""
    assert t.medication([(SNOMED, "0000000", "Product containing oxycodone (medicinal product)")]) is None
    p = t.medication_from_text("Product containing only morphine in oral dose form (medicinal product form)")
    assert [i.name for i in p.ingredients] == ["morphine"]


# ---- conditions
@pytest.mark.parametrize(("system", "code", "expected"), [
    (ICD10, "K70.3", {"severe-liver-disease", "cirrhosis"}),
    (ICD10, "K703", {"severe-liver-disease", "cirrhosis"}),
    (ICD10GM, "K74.6", {"severe-liver-disease", "cirrhosis"}),
    ("http://fhir.de/CodeSystem/dimdi/icd-10-gm", "K70.3", {"severe-liver-disease", "cirrhosis"}),
    ("urn:oid:2.16.840.1.113883.6.3", "K72.0", {"severe-liver-disease", "hepatic-failure"}),
    (ICD10, "I98.2*", {"severe-liver-disease", "cirrhosis"}),
    (ICD10GM, "I98.3*", {"severe-liver-disease", "cirrhosis"}),
    (ICD10, "I85.0", {"severe-liver-disease", "cirrhosis"}),
    (ICD10CM, "I85.11", {"severe-liver-disease", "cirrhosis"}),
    (ICD10, "K76.6", {"severe-liver-disease", "cirrhosis"}),
    (ICD10CM, "K76.82", {"severe-liver-disease", "hepatic-failure"}),
    (ICD10CM, "K65.2", {"severe-liver-disease", "cirrhosis"}),
    (ICD10GM, "K65.00", {"severe-liver-disease", "cirrhosis"}),
    (ICD10, "K70.1", {"severe-liver-disease", "acute-hepatitis"}),
    (ICD10CM, "K70.11", {"severe-liver-disease", "acute-hepatitis"}),
    (ICD10, "K71.2", {"severe-liver-disease", "acute-hepatitis"}),
    (ICD10, "K71.1", {"severe-liver-disease", "hepatic-failure"}),
    (ICD10, "B17.2", {"severe-liver-disease", "acute-hepatitis"}),
    (ICD10, "F11.2", {"opioid-use-disorder"}),
    (ICD10GM, "F10.2", {"alcohol-use-disorder"}),
    (SNOMED, "235875008", {"severe-liver-disease", "acute-hepatitis"}),
    # chronic viral hepatitis, fatty liver and fibrosis without cirrhosis stay out
    (ICD10, "B18.2", set()),
    (ICD10CM, "B18.1", set()),
    (ICD10, "K70.0", set()),
    (ICD10CM, "K74.02", set()),
    (ICD10, "K76.0", set()),
    (SNOMED, "307757001", set()),  # chronic alcoholic hepatitis
])
def test_condition_codes_in_every_icd_flavour(t, system, code, expected):
    assert t.condition_classes(system, code) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Leberzirrhose Child B", {"severe-liver-disease", "cirrhosis"}),
    ("alkoholische Leberzirrhose", {"severe-liver-disease", "cirrhosis"}),
    ("Cirrhose hépatique alcoolique", {"severe-liver-disease", "cirrhosis"}),
    ("cirrosis hepática", {"severe-liver-disease", "cirrhosis"}),
    ("Cirrosi epatica HCV-correlata", {"severe-liver-disease", "cirrhosis"}),
    ("levercirrose", {"severe-liver-disease", "cirrhosis"}),
    ("Ösophagusvarizen Grad II", {"severe-liver-disease", "cirrhosis"}),
    ("portal hypertension", {"severe-liver-disease", "cirrhosis"}),
    ("hepatic encephalopathy grade 2", {"severe-liver-disease", "hepatic-failure"}),
    ("akutes Leberversagen", {"severe-liver-disease", "hepatic-failure"}),
    ("insuffisance hépatique", {"severe-liver-disease", "hepatic-failure"}),
    ("hépatite alcoolique aiguë", {"severe-liver-disease", "acute-hepatitis"}),
    ("Alkoholhepatitis", {"severe-liver-disease", "acute-hepatitis"}),
    ("epatite acuta B", {"severe-liver-disease", "acute-hepatitis"}),
    ("drug-induced liver injury (amoxicillin-clavulanate)", {"severe-liver-disease", "acute-hepatitis"}),
    ("Opioidabhängigkeit", {"opioid-use-disorder"}),
    ("dépendance aux opioïdes", {"opioid-use-disorder"}),
    ("Alkoholabhängigkeit", {"alcohol-use-disorder"}),
    # chronic viral hepatitis without these, negated and family-history terms stay out
    ("Chronic hepatitis C", set()),
    ("chronische Hepatitis B", set()),
    ("Hepatitis C without cirrhosis", set()),
    ("HCV, keine Zirrhose", set()),
    ("no cirrhosis on FibroScan", set()),
    ("family history of cirrhosis", set()),
    ("cirrhose exclue", {"severe-liver-disease", "cirrhosis"}),  # a cue after the term does not negate
    ("Cirrhosis; no varices", {"severe-liver-disease", "cirrhosis"}),
    ("non-cirrhotic portal fibrosis", set()),
    ("fatty liver", set()),
])
def test_condition_terms(t, text, expected):
    assert t.condition_from_text(text) == expected


# ---- labs
@pytest.mark.parametrize("code", ["1742-6", "1743-4", "1744-2", "48134-1", "76625-3", "77144-4"])
def test_every_alt_code(t, code):
    assert t.observation_classes(LOINC, code) == {"alt"}
    assert t.observation_classes("urn:oid:2.16.840.1.113883.6.1", code) == {"alt"}


@pytest.mark.parametrize("code", ["1920-8", "30239-8", "48136-6", "88112-8"])
def test_every_ast_code(t, code):
    assert t.observation_classes(LOINC, code) == {"ast"}


def test_prefetch_template_asks_for_every_liver_code():
    from cds_service.rules.naltrexone.pack import NaltrexonePack

    query = next(p.query for p in NaltrexonePack().prefetch if p.key == "liverTests")
    for code in ("1742-6", "1743-4", "1744-2", "48134-1", "76625-3", "77144-4", "1920-8", "30239-8", "48136-6",
                 "88112-8"):
        assert code in query


# ---- provenance
def test_every_value_set_entry_names_its_source():
    """Every include of every ValueSet, and every Medication of the bundle, carries a source (its own or the
    ValueSet's)."""
    for path in sorted(DATA.glob("*.json")):
        obj = json.loads(path.read_text(encoding="utf-8"))
        if obj["resourceType"] == "ValueSet":
            top = [e for e in obj.get("extension", []) if e["url"] == "urn:cds-naltrexone:source"]
            for inc in obj["compose"]["include"]:
                own = [e for e in inc.get("extension", []) if e["url"] == "urn:cds-naltrexone:source"]
                assert (own or top) and all(e["valueString"] for e in own + top), (path.name, inc["system"])
        else:
            for entry in obj["entry"]:
                res = entry["resource"]
                src = [e for e in res.get("extension", []) if e["url"] == "urn:cds-naltrexone:source"]
                assert src and src[0]["valueString"], res["id"]


def test_no_code_lists_in_the_package_python():
    """The data files are the single source: no LOINC/ICD/ATC/RxNorm code literal in the package's Python."""
    import re

    package = DATA.parents[1]
    pattern = re.compile(r"\"(?:\d{4,5}-\d|[A-Z]\d\d\.\d{1,2}|N0\dA[A-Z]\d\d|1049621|1483744)\"")
    offenders = []
    for py in package.rglob("*.py"):
        if py.parent.name in {"naltrexone"}:
            continue  # the naltrexone pack's suggestion resources name the codes they order (LOINC 24325-3...)
        offenders += [f"{py.name}: {m.group(0)}" for m in pattern.finditer(py.read_text("utf-8"))]
    assert offenders == []


def test_unknown_rxnorm_product_falls_back_to_its_display(t):
    """A real chart sends RxNorm SCDs the pack does not list: the display names the ingredient (said on the card)."""
    from cds_service.record.medications import MedicationIndex, identify

    resource = {"resourceType": "MedicationStatement", "medicationCodeableConcept": {"coding": [
        {"system": "urn:oid:2.16.840.1.113883.6.88", "code": "99999901",
         "display": "12 HR oxycodone hydrochloride 60 MG Extended Release Oral Tablet"}]}}
    product, matched_by, _display = identify(resource, MedicationIndex({}), t)
    assert matched_by == "text" and [i.name for i in product.ingredients] == ["oxycodone"]
    assert "opioid" in product.ingredients[0].classes
