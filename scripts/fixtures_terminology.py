"""Fixture scenarios for class-based terminology (issue 11, part A), imported by `build_fixtures.py`.

Charts as European and US EHRs send them: ATC-coded products (by substance and by their place in the hierarchy),
NDC-coded drafts, medication names in six languages and US/EU brand names (text only), non-prescribed opioid
agonists patients report, opioid antitussives and antidiarrhoeals, every therapy antagonist and the peripheral
ones that are not, severe liver disease in ICD-10 WHO / GM / CM and as text, and ALT/AST under every LOINC code and
enzyme unit. Each scenario states the clinical reasoning and cites the public document whose shape it follows.

`scenarios(bf)` takes the `build_fixtures` module (its helpers and Scenario type) so that this file adds no
import cycle and no second copy of the helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

ATC = "http://www.whocc.no/atc"
ATC_OID = "urn:oid:2.16.840.1.113883.6.73"
NDC = "http://hl7.org/fhir/sid/ndc"
ICD10_WHO = "http://hl7.org/fhir/sid/icd-10"
ICD10_GM = "http://fhir.de/CodeSystem/bfarm/icd-10-gm"
ICD10_GM_OLD = "http://fhir.de/CodeSystem/dimdi/icd-10-gm"
PZN = "http://fhir.de/CodeSystem/ifa/pzn"

# Public documents whose resource shapes the scenarios follow
ISIK = ("gematik ISiK Medikation (ISiKMedikationsInformation: medicationCodeableConcept with ATC and PZN), "
        "https://simplifier.net/isik-medikation-v4")
IPS = ("HL7 International Patient Summary IG, MedicationStatement (IPS) with ATC / text, "
       "http://hl7.org/fhir/uv/ips/StructureDefinition-MedicationStatement-uv-ips.html")
EU_LAB = ("HL7 Europe Laboratory Report IG, Observation (results) with LOINC and UCUM, "
          "http://hl7.eu/fhir/laboratory/")
US_CORE_LAB = ("US Core Laboratory Result Observation (LOINC + UCUM), "
               "http://hl7.org/fhir/us/core/StructureDefinition-us-core-observation-lab.html")
US_CORE_MR = ("US Core MedicationRequest (medicationCodeableConcept: RxNorm, other codings such as NDC allowed), "
              "http://hl7.org/fhir/us/core/StructureDefinition-us-core-medicationrequest.html")
FHIR_MS = ("FHIR R4 MedicationStatement (patient-reported, informationSource = Patient, "
           "medicationCodeableConcept.text only), http://hl7.org/fhir/R4/medicationstatement.html")
BASIS_DE = ("HL7 Deutschland Basisprofil Diagnose (Condition.code with ICD-10-GM), "
            "https://simplifier.net/basisprofil-de-r4")
IPS_COND = ("HL7 International Patient Summary IG, Condition (IPS) coded in ICD-10 WHO, "
            "http://hl7.org/fhir/uv/ips/StructureDefinition-Condition-uv-ips.html")
US_CORE_COND = ("US Core Condition Problems and Health Concerns (ICD-10-CM / SNOMED CT), "
                "http://hl7.org/fhir/us/core/StructureDefinition-us-core-condition-problems-health-concerns.html")
FHIR_COND_TEXT = ("FHIR R4 Condition with code.text only (a free-text problem-list entry), "
                  "http://hl7.org/fhir/R4/condition.html")


def scenarios(bf: ModuleType) -> list[Callable[[], Any]]:
    """The scenario functions, built on `build_fixtures` helpers."""
    cc, at, card, expect, Scenario = bf.cc, bf.at, bf.card, bf.expect, bf.Scenario
    patient, med_statement, med_request = bf.patient, bf.med_statement, bf.med_request
    dosage, nal50_draft, aud_record = bf.dosage, bf.nal50_draft, bf.aud_patient_record
    ref, rx, draft_order = bf.ref, bf.rx, bf.draft_order

    def condition(pid: str, cid: str, code: dict, *, onset_days: int = 300, clinical: str = "active") -> dict:
        res = bf.condition(pid, cid, "hypertension", onset=at(onset_days), clinical=clinical)
        res["code"] = code
        return res

    def lab(pid: str, oid: str, loinc: str, display: str, value: float, unit: str, *, days: int = 10,
            high: float | None = None, low: float | None = None, unit_display: str | None = None) -> dict:
        res = bf.lab(pid, oid, "alt", value, unit, when=at(days, "09:05"), low=low, high=high, interp="H",
                     unit_display=unit_display)
        res["code"] = cc([(bf.LOINC, loinc, display)])
        return res

    def current_opioid(scenario_id: str, p: str, current: dict, description: str, shape: str,
                       contains: tuple[str, ...] = (), given: str = "Anna", birth: str = "1979-01-19",
                       gender: str = "female", indicator: str = "critical") -> Any:
        """AUD patient with normal liver tests, one current opioid, a naltrexone draft."""
        pid = f"pt-{scenario_id}"
        current["subject"] = {"reference": f"Patient/{pid}"}
        cards = [card("opioid-concurrent", indicator, [ref(current)], contains)]
        absent = ["opioid-washout", "overdose-risk", "duplicate-antagonist"]
        if indicator == "critical":
            cards.append(card("urine-screen-needed", "warning", [ref(current)]))
        s = Scenario(scenario_id, description, patient(pid, given, "Novak", gender, birth),
                     [*aud_record(pid, p), current], [nal50_draft(pid, p, enc=f"enc-{p}")],
                     expect(cards, absent=tuple(absent)), encounter_id=f"enc-{p}")
        s.shape = shape
        return s

    def statement(pid: str, sid: str, concept: dict, *, days: int = 40, end_days: int | None = None,
                  source_patient: bool = True, note: str | None = None, status: str | None = None) -> dict:
        st = status or ("completed" if end_days is not None else "active")
        return med_statement(pid, sid, concept, status=st, start=at(days, "08:00"),
                             end=at(end_days, "09:00") if end_days is not None else None, asserted=at(0, "08:40"),
                             source_patient=source_patient, note=note)

    def recent_opioid(scenario_id: str, p: str, concept: dict, ended_days_ago: int, description: str,
                      shape: str, contains: tuple[str, ...] = (), given: str = "Tomas", birth: str = "1985-05-05",
                      source_patient: bool = True) -> Any:
        """AUD patient whose opioid use ended `ended_days_ago` days ago (< 7: washout critical)."""
        pid = f"pt-{scenario_id}"
        ms = statement(pid, f"{p}-ms", concept, days=ended_days_ago + 14, end_days=ended_days_ago,
                       source_patient=source_patient)
        s = Scenario(scenario_id, description, patient(pid, given, "Berger", "male", birth),
                     [*aud_record(pid, p), ms], [nal50_draft(pid, p, enc=f"enc-{p}")],
                     expect([card("opioid-washout", "critical", [ref(ms)], (f"{ended_days_ago} days", *contains)),
                             card("urine-screen-needed", "warning", [ref(ms)])],
                            absent=("opioid-concurrent", "overdose-risk")), encounter_id=f"enc-{p}")
        s.shape = shape
        return s

    def liver_case(scenario_id: str, p: str, cond: dict, description: str, shape: str, contains: tuple[str, ...],
                   given: str = "Klaus", birth: str = "1966-03-03") -> Any:
        pid = f"pt-{scenario_id}"
        cond["id"] = f"{p}-liver"
        cond["subject"] = {"reference": f"Patient/{pid}"}
        s = Scenario(scenario_id, description, patient(pid, given, "Richter", "male", birth),
                     [*aud_record(pid, p), cond], [nal50_draft(pid, p, enc=f"enc-{p}")],
                     expect([card("liver-disease", "critical", [f"Condition/{p}-liver"], contains)],
                            absent=("liver-enzymes", "liver-tests-missing")), encounter_id=f"enc-{p}")
        s.shape = shape
        return s

    def enzyme_case(scenario_id: str, p: str, labs: list[dict], indicator: str, contains: tuple[str, ...],
                    description: str, shape: str, given: str = "Eva", birth: str = "1972-07-07") -> Any:
        pid = f"pt-{scenario_id}"
        for o in labs:
            o["subject"] = {"reference": f"Patient/{pid}"}
        s = Scenario(scenario_id, description, patient(pid, given, "Larsen", "female", birth),
                     [*aud_record(pid, p, lfts=False), *labs], [nal50_draft(pid, p, enc=f"enc-{p}")],
                     expect([card("liver-enzymes", indicator, [ref(o) for o in labs], contains)],
                            absent=("liver-tests-missing", "liver-disease")), encounter_id=f"enc-{p}")
        s.shape = shape
        return s

    # ---------------------------------------------------------------------------------------------- ATC
    def atc_oxycodone_statement() -> Any:
        pid = "pt-atc-oxycodone-statement"
        ms = statement(pid, "atcoxy-ms", cc([(ATC, "N02AA05", "Oxycodon"), (PZN, "02485863", "Oxygesic 10 mg")],
                                            text="Oxygesic 10 mg Retardtabletten"), days=60)
        return current_opioid(
            "atc-oxycodone-statement", "atcoxy", ms,
            "German hospital chart (ISiK): an active MedicationStatement coded only with ATC N02AA05 (oxycodone) and "
            "a PZN, no RxNorm. Classified by ATC: a current full agonist, so naltrexone is contraindicated "
            "(opioid-concurrent critical) and opioid exposure without a negative screen asks for a urine screen.",
            ISIK, given="Jonas", gender="male", birth="1970-02-02")

    def atc_level_unlisted_opioid() -> Any:
        pid = "pt-atc-level-unlisted-opioid"
        ms = statement(pid, "atclvl-ms", cc([(ATC, "N02AG02", "Ketobemidon und Spasmolytika")]), days=20)
        return current_opioid(
            "atc-level-unlisted-opioid", "atclvl", ms,
            "A Scandinavian/Central European product coded ATC N02AG02 (ketobemidone with antispasmodics), a code "
            "the pack does not list. ATC is read by its hierarchy: every N02A code is an opioid analgesic, so it "
            "is a current opioid (opioid-concurrent critical), whatever its 7th character.",
            IPS, given="Nils", gender="male", birth="1968-08-08")

    def atc_oid_tilidine_naloxone() -> Any:
        pid = "pt-atc-oid-tilidine-naloxone"
        mr = med_request(pid, "atctil-mr", cc([(ATC_OID, "N02AX51", "Tilidin, Kombinationen")],
                                              text="Valoron N retard 100/8 mg"),
                         status="active", authored=at(12, "10:00"),
                         dose=dosage("1 Retardtablette zweimal täglich", 1, "{tbl}", frequency=2),
                         supply_days=30, quantity=(60, "{tbl}"))
        return current_opioid(
            "atc-oid-tilidine-naloxone", "atctil", mr,
            "Active tilidine/naloxone (Valoron N) order coded ATC in its OID form (urn:oid:2.16.840.1.113883.6.73, "
            "N02AX51). Tilidine is a full agonist; the naloxone in it is an abuse deterrent, not a rescue or "
            "antagonist therapy: opioid-concurrent critical, no duplicate-antagonist.",
            ISIK, given="Heike", birth="1975-04-04")

    def atc_levomethadone_maintenance() -> Any:
        pid = "pt-atc-levomethadone-maintenance"
        ms = statement(pid, "atclevo-ms", cc([(ATC, "N07BC05", "Levomethadon")], text="L-Polamidon Lösung zur "
                                                                                       "Substitution"), days=400,
                       source_patient=False)
        return current_opioid(
            "atc-levomethadone-maintenance", "atclevo", ms,
            "Opioid substitution with levomethadone (L-Polamidon, ATC N07BC05: drugs used in opioid dependence) "
            "recorded by the clinic. Naltrexone would precipitate severe withdrawal: opioid-concurrent critical, "
            "naming opioid maintenance treatment.", ISIK, contains=("maintenance",), given="Sven", gender="male",
            birth="1980-10-10")

    def atc_morphine_dispense_3_days() -> Any:
        return recent_opioid(
            "atc-morphine-3-days", "atcmor",
            cc([(ATC, "N02AA01", "Morphin")], text="Morphin Merck 10 mg Tabletten"), 3,
            "Morphine (ATC N02AA01) taken until 3 days ago (completed MedicationStatement). Fewer than 7 "
            "opioid-free days: opioid-washout critical; urine screen needed.", ISIK)

    def atc_loperamide() -> Any:
        pid = "pt-atc-loperamide"
        ms = statement(pid, "atclop-ms", cc([(ATC, "A07DA03", "Loperamid")], text="Loperamid 2 mg"), days=3)
        return current_opioid(
            "atc-loperamide", "atclop", ms,
            "Loperamide coded ATC A07DA03 (antipropulsives). A peripheral opioid that does not reach the brain at "
            "therapeutic doses: opioid-concurrent warning only (no urine-screen card: peripheral opioids are not "
            "opioid history).", ISIK, indicator="warning", given="Marta", birth="1990-09-09")

    def atc_opium_tincture() -> Any:
        pid = "pt-atc-opium-tincture"
        ms = statement(pid, "atcopi-ms", cc([(ATC, "A07DA02", "Opium")], text="Opiumtinktur (Dropizol) 10 mg/ml"),
                       days=30, source_patient=False)
        return current_opioid(
            "atc-opium-tincture", "atcopi", ms,
            "Opium tincture for refractory diarrhoea, coded ATC A07DA02 (an antipropulsive). Unlike loperamide, "
            "opium is absorbed and acts centrally (a full agonist): opioid-concurrent critical, not the "
            "peripheral-opioid warning. Decision where the catalogue is silent: antidiarrhoeal opium counts as a "
            "systemic opioid.", ISIK, given="Greta", birth="1958-01-01")

    def atc_lofexidine_not_opioid() -> Any:
        pid, p = "pt-atc-lofexidine-not-opioid", "atclof"
        ms = statement(pid, f"{p}-ms", cc([(ATC, "N07BC04", "Lofexidine")], text="Lofexidine 0.2 mg"), days=20,
                       end_days=9, source_patient=False)
        res = [*aud_record(pid, p), ms]
        s = Scenario(
            "atc-lofexidine-not-opioid",
            "Alcohol dependence; lofexidine (ATC N07BC04, inside 'drugs used in opioid dependence') was given for "
            "withdrawal symptoms until 9 days ago. Lofexidine is an alpha-2 agonist, not an opioid: the ATC table "
            "overrides the N07BC level, so no opioid card and no urine-screen card.",
            patient(pid, "Ida", "Holm", "female", "1984-03-03"), res, [nal50_draft(pid, p, enc=f"enc-{p}")],
            expect([], absent=("opioid-concurrent", "opioid-washout", "urine-screen-needed")),
            encounter_id=f"enc-{p}")
        s.shape = ISIK
        return s

    def atc_nalmefene_duplicate() -> Any:
        pid, p = "pt-atc-nalmefene-duplicate", "atcnmf"
        ms = statement(pid, f"{p}-ms", cc([(ATC, "N07BB05", "Nalmefen")], text="Selincro 18 mg"), days=50,
                       source_patient=False)
        s = Scenario(
            "atc-nalmefene-duplicate",
            "Alcohol dependence treated with nalmefene (Selincro, ATC N07BB05, EU-labelled for alcohol "
            "dependence), and now a naltrexone draft. Both are opioid antagonists used as therapy: "
            "duplicate-antagonist warning. Decision where the catalogue is silent (it names naltrexone and "
            "samidorphan): every antagonist used as therapy in US or EU labeling counts.",
            patient(pid, "Lukas", "Maier", "male", "1977-07-17"), [*aud_record(pid, p), ms],
            [nal50_draft(pid, p, enc=f"enc-{p}")],
            expect([card("duplicate-antagonist", "warning", [ref(ms)], ("nalmefene",))],
                   absent=("opioid-concurrent",)), encounter_id=f"enc-{p}")
        s.shape = ISIK
        return s

    def atc_naltrexone_blocks_opioid() -> Any:
        pid, p = "pt-atc-naltrexone-blocks-opioid", "atcnbo"
        ms = statement(pid, f"{p}-ms", cc([(ATC, "N07BB04", "Naltrexon")], text="Adepend 50 mg"), days=45)
        draft = draft_order(pid, f"{p}-oxy-draft", rx("oxycodone-5"),
                            dosage("Take 5 mg by mouth every 6 hours as needed for pain", 5, "mg", period=6,
                                   period_unit="h", prn=True), supply_days=3, encounter_id=f"enc-{p}",
                            reason="renal-colic")
        s = Scenario(
            "atc-naltrexone-blocks-opioid",
            "Patient on oral naltrexone recorded with ATC N07BB04 (an EU chart: Adepend); an oxycodone order is "
            "drafted for renal colic. Naltrexone blocks the analgesia: naltrexone-blocks-opioid critical.",
            patient(pid, "Olga", "Petrova", "female", "1982-12-12"),
            [*aud_record(pid, p), ms, condition(pid, f"{p}-colic", cc(bf.COND["renal-colic"]), onset_days=0)],
            [draft], expect([card("naltrexone-blocks-opioid", "critical", [ref(ms)])],
                            absent=("opioid-concurrent",)), encounter_id=f"enc-{p}")
        s.shape = IPS
        return s

    def atc_methylnaltrexone_not_duplicate() -> Any:
        pid, p = "pt-atc-methylnaltrexone", "atcmnx"
        ms = statement(pid, f"{p}-ms", cc([(ATC, "A06AH01", "Methylnaltrexoniumbromid")], text="Relistor 12 mg "
                                                                                               "s.c."),
                       days=30, end_days=20)
        s = Scenario(
            "atc-methylnaltrexone-not-duplicate",
            "Alcohol dependence; methylnaltrexone (Relistor, ATC A06AH01) was used for opioid-induced constipation "
            "until 20 days ago. A peripheral antagonist does not cross into the brain: it is neither antagonist "
            "therapy (no duplicate-antagonist) nor an opioid (no opioid card).",
            patient(pid, "Bernd", "Kraus", "male", "1963-06-06"), [*aud_record(pid, p), ms],
            [nal50_draft(pid, p, enc=f"enc-{p}")],
            expect([], absent=("duplicate-antagonist", "opioid-concurrent", "opioid-washout",
                               "urine-screen-needed")), encounter_id=f"enc-{p}")
        s.shape = ISIK
        return s

    # ---------------------------------------------------------------------------------------------- NDC
    def ndc_naltrexone_draft() -> Any:
        pid, p = "pt-ndc-naltrexone-draft", "ndcnal"
        oxy = bf.active_opioid_mr(pid, f"{p}-oxy", authored_days_ago=6, reason="low-back-pain")
        draft = draft_order(pid, f"{p}-nal-draft", cc([(NDC, "50090-6820-0", "Naltrexone HCl 50 mg tablet")]),
                            dosage("Take 50 mg by mouth once daily", 50, "mg"), encounter_id=f"enc-{p}",
                            reason="aud-dependence")
        s = Scenario(
            "ndc-naltrexone-draft",
            "A pharmacy system drafts naltrexone coded with its NDC only (50090-6820-0, the shipped mapping to "
            "RxNorm 1483744) for a patient with an active oxycodone order. The draft is recognised as naltrexone: "
            "opioid-concurrent critical and urine-screen-needed.",
            patient(pid, "Dwayne", "Cole", "male", "1971-01-21"), [*aud_record(pid, p), oxy], [draft],
            expect([card("opioid-concurrent", "critical", [ref(oxy)]),
                    card("urine-screen-needed", "warning", [ref(oxy)])], absent=("opioid-washout",)),
            encounter_id=f"enc-{p}")
        s.shape = US_CORE_MR
        return s

    # ---------------------------------------------------------------------------- text in six languages
    def text_case(scenario_id: str, p: str, text: str, description: str, **kw: Any) -> Any:
        pid = f"pt-{scenario_id}"
        ms = statement(pid, f"{p}-ms", {"text": text}, days=kw.pop("days", 25),
                       note=kw.pop("note", None))
        return current_opioid(scenario_id, p, ms, description, kw.pop("shape", IPS),
                              contains=("recognised from",), **kw)

    def text_morphinsulfat() -> Any:
        return text_case("text-de-morphinsulfat", "txtmor", "Morphinsulfat 30 mg Retardtabletten 1-0-1",
                         "German free text 'Morphinsulfat 30 mg' (INN and salt written as one word, no code). The "
                         "salt suffix is split off and the German INN matched on word boundaries: opioid-concurrent "
                         "critical, and the card says the medicine was recognised from the text.",
                         given="Ute", birth="1960-02-02")

    def text_fr_oxycodone() -> Any:
        return recent_opioid("text-fr-oxycodone", "txtfr", {"text": "Oxycodone chlorhydrate 5 mg, gélule"}, 4,
                             "French free text 'Oxycodone chlorhydrate 5 mg, gélule' taken until 4 days ago. "
                             "Recognised from the text: opioid-washout critical ('4 days'); the card says it was "
                             "recognised from the text.", FHIR_MS, contains=("recognised from",), given="Hugo")

    def text_it_ossicodone() -> Any:
        return text_case("text-it-ossicodone", "txtit", "Ossicodone cloridrato 10 mg compresse",
                         "Italian free text 'Ossicodone cloridrato 10 mg' (INN in Italian spelling): a current "
                         "opioid recognised from the text, opioid-concurrent critical.", given="Chiara")

    def text_es_buprenorfina() -> Any:
        return text_case("text-es-buprenorfina", "txtes", "Buprenorfina 8 mg comprimido sublingual",
                         "Spanish free text 'Buprenorfina 8 mg sublingual' (opioid maintenance). Partial agonist "
                         "maintenance is a contraindication: opioid-concurrent critical, recognised from the text.",
                         given="Lucia", birth="1988-08-18")

    def text_nl_oxycodon() -> Any:
        return text_case("text-nl-oxycodon", "txtnl", "oxycodon 10 mg tablet met gereguleerde afgifte",
                         "Dutch free text 'oxycodon 10 mg' (Dutch INN spelling): opioid-concurrent critical, "
                         "recognised from the text.", given="Sanne", birth="1986-06-16")

    def text_brand_palexia() -> Any:
        return text_case("text-brand-palexia", "txtpal", "Palexia retard 100 mg",
                         "EU brand 'Palexia retard' (tapentadol) written as text only: opioid-concurrent critical, "
                         "recognised from the text.", given="Irene", birth="1965-05-25")

    def text_brand_subutex() -> Any:
        return text_case("text-brand-subutex", "txtsub", "Subutex 8 mg daily (clinic dosed)",
                         "Brand 'Subutex' (buprenorphine) as text only: current opioid maintenance, "
                         "opioid-concurrent critical naming maintenance treatment, recognised from the text.",
                         given="Kevin", gender="male", birth="1991-01-11")

    def text_brand_targin() -> Any:
        return text_case("text-brand-targin", "txttar", "Targin 10 mg/5 mg Retardtabletten",
                         "EU brand 'Targin' (oxycodone/naloxone) as text only: the oxycodone is a current full "
                         "agonist (opioid-concurrent critical); the naloxone in it is an abuse deterrent, not "
                         "antagonist therapy (no duplicate-antagonist).", given="Frieda", birth="1952-12-02")

    def text_brand_durogesic() -> Any:
        return text_case("text-brand-durogesic", "txtdur", "Durogesic 25 µg/h Pflaster alle 72 h",
                         "EU brand 'Durogesic' (transdermal fentanyl) as text only: opioid-concurrent critical, "
                         "recognised from the text.", given="Werner", gender="male", birth="1949-09-29")

    # ------------------------------------------------------------------ non-prescribed agonists (patient report)
    def reported_kratom() -> Any:
        return text_case("reported-kratom", "txtkra", "Kratom powder, about 5 g three times a day (bought online)",
                         "Patient reports daily kratom (mitragynine: a mu-opioid partial agonist with dependence and "
                         "withdrawal). Decision where the catalogue is silent: regular kratom use is current opioid "
                         "exposure; naltrexone can precipitate withdrawal: opioid-concurrent critical, recognised "
                         "from the text.", shape=FHIR_MS, given="Tyler", gender="male", birth="1994-04-14",
                         note="Patient-reported; not prescribed.")

    def reported_street_fentanyl() -> Any:
        return recent_opioid("reported-street-fentanyl", "txtfen", {"text": "Illicit fentanyl (smoked on foil)"}, 2,
                             "Patient reports smoking illicit fentanyl until 2 days ago (a MedicationStatement "
                             "from the patient, text only). Fentanyl is lipophilic and lingers: 2 days is far inside "
                             "the opioid-free interval, opioid-washout critical.", FHIR_MS,
                             contains=("recognised from",), given="Shawn")

    def reported_tianeptine() -> Any:
        return text_case("reported-tianeptine", "txttia", "Tianeptine capsules from a gas station, daily",
                         "Patient reports daily non-prescribed tianeptine (a full mu-opioid agonist sold in US gas "
                         "stations; an antidepressant in some EU countries). Naltrexone precipitates withdrawal: "
                         "opioid-concurrent critical (decision where the catalogue is silent).", shape=FHIR_MS,
                         given="Brandon", gender="male", birth="1989-09-19")

    # ------------------------------------------------------------------ antitussives, mixed agonists, IV-only
    def atc_pholcodine() -> Any:
        pid = "pt-atc-pholcodine"
        ms = statement(pid, "atcpho-ms", cc([(ATC, "R05DA08", "Pholcodine")], text="Pholcodine linctus 5 mg/5 ml"),
                       days=5)
        return current_opioid(
            "atc-pholcodine", "atcpho", ms,
            "Pholcodine cough linctus (ATC R05DA08: opium alkaloids, antitussive), current. An opioid antitussive "
            "is an opioid naltrexone blocks (and would precipitate withdrawal with heavy use): opioid-concurrent "
            "critical.", IPS, given="Agnes", birth="1957-07-27")

    def atc_nalbuphine_yesterday() -> Any:
        return recent_opioid(
            "atc-nalbuphine-1-day", "atcnlb", cc([(ATC, "N02AF02", "Nalbuphine")], text="Nubain 10 mg i.v."), 1,
            "Nalbuphine (ATC N02AF02, a mixed agonist-antagonist) given until yesterday after surgery. Mixed "
            "agonist-antagonists count as opioids for the opioid-free interval: opioid-washout critical.", ISIK,
            given="Rolf", source_patient=False)

    def text_oliceridine() -> Any:
        return recent_opioid(
            "text-oliceridine-iv", "txtoli", {"text": "Olinvyk (oliceridine) 1 mg IV PRN, PACU"}, 2,
            "Oliceridine (Olinvyk, an IV-only mu agonist approved in 2020) given in recovery until 2 days ago: "
            "opioid-washout critical, recognised from the text.", FHIR_MS, contains=("recognised from",),
            given="Derek", source_patient=False)

    def text_vivitrol_duplicate() -> Any:
        pid, p = "pt-text-vivitrol-duplicate", "txtviv"
        ms = statement(pid, f"{p}-ms", {"text": "Vivitrol 380 mg IM every 4 weeks"}, days=60, source_patient=False)
        s = Scenario(
            "text-vivitrol-duplicate",
            "Alcohol dependence on monthly XR naltrexone recorded as text 'Vivitrol 380 mg IM every 4 weeks' (active "
            "statement); a naltrexone tablet is drafted. Two antagonist products: duplicate-antagonist warning, "
            "recognised from the text.",
            patient(pid, "Megan", "Ross", "female", "1987-11-07"), [*aud_record(pid, p), ms],
            [nal50_draft(pid, p, enc=f"enc-{p}")],
            expect([card("duplicate-antagonist", "warning", [ref(ms)])], absent=("opioid-concurrent",)),
            encounter_id=f"enc-{p}")
        s.shape = FHIR_MS
        return s

    # ---------------------------------------------------------------------------------------- conditions
    def icd_who_alcoholic_cirrhosis() -> Any:
        return liver_case("icd10-who-cirrhosis", "whocir",
                          condition("", "", cc([(ICD10_WHO, "K70.3", "Alcoholic cirrhosis of liver")])),
                          "Alcoholic cirrhosis coded in ICD-10 WHO (K70.3, no ICD-10-CM): severe liver disease, "
                          "liver-disease critical.", IPS_COND, ("cirrhosis",))

    def icd_gm_cirrhosis_old_uri() -> Any:
        return liver_case("icd10-gm-cirrhosis", "gmcir",
                          condition("", "", cc([(ICD10_GM_OLD, "K74.6", "Sonstige und nicht näher bezeichnete "
                                                                        "Zirrhose der Leber")])),
                          "Cirrhosis in ICD-10-GM (K74.6) under the older DIMDI system URI, as many German charts "
                          "still send it: liver-disease critical.", BASIS_DE, ("Zirrhose",), given="Dieter")

    def icd_gm_varices_asterisk() -> Any:
        return liver_case("icd10-gm-varices", "gmvar",
                          condition("", "", cc([(ICD10_GM, "I98.2*", "Ösophagusvarizen bei anderenorts "
                                                                     "klassifizierten Krankheiten")])),
                          "Oesophageal varices in ICD-10-GM written with the asterisk of the dagger-asterisk system "
                          "(I98.2*). Varices are a manifestation of portal hypertension in cirrhosis: decision (as a "
                          "hepatologist means 'severe liver disease') liver-disease critical.", BASIS_DE,
                          ("Ösophagusvarizen",), given="Gerd")

    def icd_cm_hepatic_encephalopathy() -> Any:
        return liver_case("icd10-cm-hepatic-encephalopathy", "cmhe",
                          condition("", "", cc([(bf.ICD10, "K76.82", "Hepatic encephalopathy")])),
                          "Hepatic encephalopathy (ICD-10-CM K76.82, FY2023), a manifestation of hepatic failure: "
                          "liver-disease critical.", US_CORE_COND, ("encephalopathy",), given="Ronald")

    def icd_cm_alcoholic_hepatitis() -> Any:
        return liver_case("icd10-cm-alcoholic-hepatitis", "cmah",
                          condition("", "", cc([(bf.ICD10, "K70.11", "Alcoholic hepatitis with ascites")])),
                          "Alcoholic hepatitis with ascites (ICD-10-CM K70.11). Acute hepatitis of any cause, "
                          "alcoholic included, contraindicates naltrexone (tablet labeling: acute hepatitis): "
                          "liver-disease critical.", US_CORE_COND, ("hepatitis",), given="Earl")

    def icd_who_portal_hypertension() -> Any:
        return liver_case("icd10-who-portal-hypertension", "whoph",
                          condition("", "", cc([(ICD10_WHO, "K76.6", "Portal hypertension")])),
                          "Portal hypertension (ICD-10 WHO K76.6) without a cirrhosis code on the list. Clinically "
                          "significant portal hypertension is advanced chronic liver disease (Baveno VII): decision "
                          "liver-disease critical.", IPS_COND, ("portal hypertension",), given="Aldo")

    def text_leberzirrhose() -> Any:
        return liver_case("text-de-leberzirrhose", "txtlz",
                          condition("", "", {"text": "Äthyltoxische Leberzirrhose, Child-Pugh B"}),
                          "A free-text problem-list entry 'Äthyltoxische Leberzirrhose, Child-Pugh B' (no code): "
                          "cirrhosis recognised from the text, liver-disease critical, and the card says so.",
                          FHIR_COND_TEXT, ("recognised from",), given="Horst")

    def text_hepatite_alcoolique() -> Any:
        return liver_case("text-fr-hepatite-alcoolique", "txtha",
                          condition("", "", {"text": "Hépatite alcoolique aiguë (Maddrey 38)"}),
                          "French free text 'Hépatite alcoolique aiguë': acute alcoholic hepatitis recognised from "
                          "the text, liver-disease critical.", FHIR_COND_TEXT, ("recognised from",), given="Alain")

    def snomed_display_portal_hypertension() -> Any:
        return liver_case("snomed-unlisted-varices", "sctvar",
                          condition("", "", cc([(bf.SNOMED, "28670008", "Esophageal varices (disorder)")])),
                          "Oesophageal varices coded in SNOMED CT with a concept the pack does not list: the "
                          "coding's display names the manifestation, so it is recognised from the text and "
                          "liver-disease is critical (the card asks to verify).", US_CORE_COND,
                          ("recognised from",), given="Curtis")

    def chronic_hepatitis_c_not_severe() -> Any:
        pid, p = "pt-chronic-hepatitis-c", "hcv"
        cond = condition(pid, f"{p}-hcv", cc([(bf.ICD10, "B18.2", "Chronic viral hepatitis C")],
                                             text="Chronic hepatitis C, no cirrhosis (FibroScan F1)"))
        s = Scenario(
            "chronic-hepatitis-c-not-severe",
            "Chronic hepatitis C (B18.2) with the text 'no cirrhosis (FibroScan F1)' and normal liver tests. "
            "Chronic viral hepatitis without cirrhosis, failure or an acute flare is not severe liver disease as "
            "hepatologists mean it: no liver-disease card (the negated 'cirrhosis' in the text does not count).",
            patient(pid, "Nadia", "Haddad", "female", "1980-05-15"), [*aud_record(pid, p), cond],
            [nal50_draft(pid, p, enc=f"enc-{p}")],
            expect([], absent=("liver-disease", "liver-enzymes", "liver-tests-missing")), encounter_id=f"enc-{p}")
        s.shape = US_CORE_COND
        return s

    # ---------------------------------------------------------------------------------------- labs
    def alt_p5p_7x() -> Any:
        o = lab("", "altp5p-alt", "1743-4", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or "
                "Plasma by With P-5'-P", 294, "U/L", high=42, low=7)
        return enzyme_case("alt-p5p-7x-uln", "altp5p", [o], "critical", ("7.0",),
                           "ALT measured with pyridoxal phosphate (LOINC 1743-4, the IFCC method many European labs "
                           "use), 294 U/L with reference high 42: 7.0x ULN, liver-enzymes critical. Before, only "
                           "1742-6 was read and the card said there were no liver tests.", EU_LAB)

    def alt_blood_ukat() -> Any:
        o = lab("", "altbld-alt", "76625-3", "Alanine aminotransferase [Enzymatic activity/volume] in Blood", 2.5,
                "ukat/L", unit_display="µkat/L", high=0.75, low=0.1)
        return enzyme_case("alt-blood-ukat", "altbld", [o], "warning", ("3.3",),
                           "ALT in blood (LOINC 76625-3, point-of-care) reported 2.5 µkat/L (x60 = 150 U/L) with "
                           "reference high 0.75 µkat/L (45 U/L): 3.3x ULN, liver-enzymes warning.", EU_LAB,
                           given="Karin")

    def ast_nkat() -> Any:
        o = lab("", "astnk-ast", "48136-6", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or "
                "Plasma by No addition of P-5'-P", 3300, "nkat/L", high=600, low=100)
        return enzyme_case("ast-nkat-5x-uln", "astnk", [o], "critical", ("5.5",),
                           "AST without pyridoxal phosphate (LOINC 48136-6) in nkat/L: 3300 nkat/L (x0.06 = 198 U/L) "
                           "with reference high 600 nkat/L (36 U/L): 5.5x ULN, liver-enzymes critical.", EU_LAB,
                           given="Birgit")

    def alt_umol_per_s() -> Any:
        o = lab("", "altumol-alt", "77144-4", "Alanine aminotransferase [Enzymatic activity/volume] in Serum, "
                "Plasma or Blood", 1.5, "umol/(s.L)", unit_display="µmol/(s·L)", high=0.75, low=0.1)
        return enzyme_case("alt-umol-per-s", "altumol", [o], "info", ("2.0",),
                           "ALT (LOINC 77144-4, serum/plasma/blood) in µmol/(s·L), the SI form of µkat/L: 1.5 "
                           "(= 90 U/L) with reference high 0.75 (45 U/L): 2.0x ULN, liver-enzymes info.",
                           US_CORE_LAB, given="Henrik")

    return [
        atc_oxycodone_statement, atc_level_unlisted_opioid, atc_oid_tilidine_naloxone, atc_levomethadone_maintenance,
        atc_morphine_dispense_3_days, atc_loperamide, atc_opium_tincture, atc_lofexidine_not_opioid,
        atc_nalmefene_duplicate, atc_naltrexone_blocks_opioid, atc_methylnaltrexone_not_duplicate,
        ndc_naltrexone_draft, text_morphinsulfat, text_fr_oxycodone, text_it_ossicodone, text_es_buprenorfina,
        text_nl_oxycodon, text_brand_palexia, text_brand_subutex, text_brand_targin, text_brand_durogesic,
        reported_kratom, reported_street_fentanyl, reported_tianeptine, atc_pholcodine, atc_nalbuphine_yesterday,
        text_oliceridine, text_vivitrol_duplicate, icd_who_alcoholic_cirrhosis, icd_gm_cirrhosis_old_uri,
        icd_gm_varices_asterisk, icd_cm_hepatic_encephalopathy, icd_cm_alcoholic_hepatitis,
        icd_who_portal_hypertension, text_leberzirrhose, text_hepatite_alcoolique, snomed_display_portal_hypertension,
        chronic_hepatitis_c_not_severe, alt_p5p_7x, alt_blood_ukat, ast_nkat, alt_umol_per_s,
    ]
