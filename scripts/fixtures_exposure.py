"""Exposure scenarios (issue 11, part B), imported by `build_fixtures.py`.

Administrations in both directions, oral naltrexone's 72-hour blockade, the extended-release interval, partial
dates (FHIR R4 `date`/`dateTime` of year or month precision, dateTimes with offsets) and medication references.
Each scenario says the clinical reasoning in its description and the public document whose data shape it
follows in `shape`. Where the rule catalogue is silent, the description states the decision taken (as an
addiction-medicine specialist would) and why.
"""

from __future__ import annotations

from typing import Any

from build_fixtures import (
    ROUTE,
    RX,
    SNOMED,
    Scenario,
    at,
    aud_patient_record,
    card,
    cc,
    condition,
    day,
    dispense,
    dosage,
    draft_order,
    expect,
    lab,
    med_fields,
    med_request,
    med_statement,
    medication,
    nal50_draft,
    naloxone_mr,
    patient,
    qty,
    rx,
    uds,
)

R4_MA = ("FHIR R4 MedicationAdministration (https://hl7.org/fhir/R4/medicationadministration.html): status, "
         "medication[x], subject, effective[x], performer, dosage.route/dose")
R4_MS = "FHIR R4 MedicationStatement (https://hl7.org/fhir/R4/medicationstatement.html)"
R4_MD = "FHIR R4 MedicationDispense (https://hl7.org/fhir/R4/medicationdispense.html): whenHandedOver, daysSupply"
R4_MR = "FHIR R4 MedicationRequest (https://hl7.org/fhir/R4/medicationrequest.html)"
R4_DATES = ("FHIR R4 data types, date and dateTime (https://hl7.org/fhir/R4/datatypes.html#dateTime): "
            "\"YYYY\", \"YYYY-MM\" and dateTimes with a time-zone offset are valid precisions")
R4_OBS = "FHIR R4 Observation (https://hl7.org/fhir/R4/observation.html)"
CDS_DRAFT = ("CDS Hooks 2.0 order-sign (https://cds-hooks.org/hooks/order-sign/): context.draftOrders is a "
             "Bundle of unsigned FHIR R4 MedicationRequests")

IV = (SNOMED, "47625008", "Intravenous route (qualifier value)")
RX.setdefault("morphine-iv", ("1732006", "1 ML morphine sulfate 4 MG/ML Injection"))
RX.setdefault("fentanyl-iv", ("2168270", "1 ML fentanyl 0.05 MG/ML Injection"))


def partially_dated(observation: dict, written: str) -> dict:
    """The Observation dated only as `written` (an outside result entered by month): no release instant."""
    observation["effectiveDateTime"] = written
    observation.pop("issued", None)
    return observation


# --------------------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------------------
def administration(pid: str, aid: str, med: dict | str, *, status: str = "completed", effective: str | None = None,
                   period: tuple[str, str] | None = None, dose: tuple[float, str] = (380, "mg"),
                   route: tuple[str, str, str] = ROUTE["im"], text: str = "380 mg IM, gluteal",
                   status_reason: str | None = None, contained: list[dict] | None = None) -> dict:
    """A MedicationAdministration as a clinic or ward charts a dose it gave (R4 shape)."""
    res: dict[str, Any] = {"resourceType": "MedicationAdministration", "id": aid}
    if contained:
        res["contained"] = contained
    res["status"] = status
    if status_reason:
        res["statusReason"] = [{"text": status_reason}]
    res.update(med_fields(med))
    res["subject"] = {"reference": f"Patient/{pid}"}
    if effective is not None:
        res["effectiveDateTime"] = effective
    else:
        assert period is not None
        res["effectivePeriod"] = {"start": period[0], "end": period[1]}
    res["performer"] = [{"actor": {"display": "Jordan Alvarez, RN"}}]
    res["dosage"] = {"text": text, "route": cc([route]), "dose": qty(dose[0], dose[1])}
    return res


def vivitrol_dose() -> dict:
    return dosage("Inject 380 mg intramuscularly into the gluteal muscle every 4 weeks", 380, "mg", frequency=1,
                  period=4, period_unit="wk", route="im")


def vivitrol_draft(pid: str, p: str) -> dict:
    return draft_order(pid, f"{p}-viv-draft", rx("vivitrol"), vivitrol_dose(), supply_days=28,
                       encounter_id=f"enc-{p}", reason="aud-dependence")


def opioid_draft(pid: str, p: str, key: str = "hydromorphone-2") -> dict:
    if key == "hydromorphone-2":
        dose = dosage("Take 2 mg by mouth every 4 hours as needed for severe pain", 2, "mg", period=4,
                      period_unit="h", prn=True)
    else:
        dose = dosage("Take 5 mg by mouth every 6 hours as needed for pain", 5, "mg", period=6, period_unit="h",
                      prn=True)
    return draft_order(pid, f"{p}-opioid-draft", rx(key), dose, supply_days=3, encounter_id=f"enc-{p}",
                       reason="renal-colic")


def oral_naltrexone_statement(pid: str, sid: str, *, start: str, end: str) -> dict:
    return med_statement(pid, sid, rx("naltrexone-50"), status="completed", start=start, end=end,
                         dose=dosage("Take 1 tablet by mouth once daily", 1, "{tbl}"),
                         note="Patient stopped naltrexone for planned dental surgery")


def _reverse(sid: str, given: str, family: str, birth: str, record: list[dict], description: str,
             sign: dict, shape: str, key: str = "hydromorphone-2") -> Scenario:
    pid, p = f"pt-{sid}", sid
    return Scenario(sid, description, patient(pid, given, family, "male", birth),
                    [*aud_patient_record(pid, p), *record], [opioid_draft(pid, p, key)], sign,
                    encounter_id=f"enc-{p}", shape=shape)


def _naltrexone(sid: str, given: str, family: str, gender: str, birth: str, record: list[dict], description: str,
                sign: dict, shape: str, *, xr: bool = False, aud: bool = True) -> Scenario:
    pid, p = f"pt-{sid}", sid
    draft = vivitrol_draft(pid, p) if xr else nal50_draft(pid, p, enc=f"enc-{p}")
    base = aud_patient_record(pid, p) if aud else []
    return Scenario(sid, description, patient(pid, given, family, gender, birth), [*base, *record], [draft], sign,
                    encounter_id=f"enc-{p}", shape=shape)


def _pid(sid: str) -> str:
    return f"pt-{sid}"


# --------------------------------------------------------------------------------------------------------
# Administrations, both directions
# --------------------------------------------------------------------------------------------------------
def s_xr_administration_12_days() -> Scenario:
    sid = "xr-administration-12-days-opioid-order"
    ma = administration(_pid(sid), f"{sid}-viv", rx("vivitrol"), effective=at(12, "10:15"))
    return _reverse(sid, "Rafael", "Okafor", "1981-02-14", [ma],
                    "Man with alcohol dependence whose clinic charted his Vivitrol 380 mg IM injection as a completed "
                    "MedicationAdministration 12 days ago (how clinics chart injections). In the ED with renal colic, "
                    "hydromorphone is drafted: the injection blocks opioid analgesia for about a month, and "
                    "overcoming the blockade risks respiratory depression -> naltrexone-blocks-opioid critical "
                    "citing the administration.",
                    expect([card("naltrexone-blocks-opioid", "critical", [f"MedicationAdministration/{sid}-viv"],
                                  ("12 days ago",))], absent=("opioid-concurrent", "data-incomplete")),
                    R4_MA)


def s_xr_administration_40_days() -> Scenario:
    sid = "xr-administration-40-days-opioid-order"
    ma = administration(_pid(sid), f"{sid}-viv", rx("vivitrol"), effective=at(40, "10:15"))
    return _reverse(sid, "Tobias", "Lind", "1979-07-01", [ma],
                    "Like xr-administration-12-days-opioid-order, but the injection was 40 days ago: beyond the "
                    "30-day blockade (xr_naltrexone_days), so the opioid works and no card is due.",
                    expect([], absent=("naltrexone-blocks-opioid",)), R4_MA)


def s_xr_administration_not_done() -> Scenario:
    sid = "xr-administration-not-done-opioid-order"
    ma = administration(_pid(sid), f"{sid}-viv", rx("vivitrol"), status="not-done", effective=at(5, "10:15"),
                        status_reason="Patient declined the injection")
    return _reverse(sid, "Emil", "Brandt", "1985-03-09", [ma],
                    "The clinic charted a Vivitrol administration 5 days ago as not-done (the patient declined): "
                    "status not-done means no drug entered the body, so nothing blocks the drafted hydromorphone "
                    "and no card is due.",
                    expect([], absent=("naltrexone-blocks-opioid",)), R4_MA)


def s_opioid_administration_2_days() -> Scenario:
    sid = "opioid-administration-2-days-naltrexone"
    pid = _pid(sid)
    ma = administration(pid, f"{sid}-morphine", rx("morphine-iv"), effective=at(2, "03:40"), dose=(4, "mg"),
                        route=IV, text="Morphine 4 mg IV push for renal colic")
    return _naltrexone(sid, "Grace", "Lindqvist", "female", "1988-05-21", [ma],
                       "Woman with alcohol dependence who received morphine 4 mg IV in the ED two days ago "
                       "(MedicationAdministration). Naltrexone 50 mg is drafted at follow-up: the opioid-free "
                       "interval (7 days) is not met, so naltrexone could precipitate withdrawal -> opioid-washout "
                       "critical and urine-screen-needed warning, both citing the administration.",
                       expect([card("opioid-washout", "critical", [f"MedicationAdministration/{sid}-morphine"],
                                    ("2 days ago",)),
                               card("urine-screen-needed", "warning", [f"MedicationAdministration/{sid}-morphine"])],
                              absent=("opioid-concurrent", "data-incomplete")),
                       R4_MA)


def s_opioid_administration_entered_in_error() -> Scenario:
    sid = "opioid-administration-entered-in-error"
    ma = administration(_pid(sid), f"{sid}-fentanyl", rx("fentanyl-iv"), status="entered-in-error",
                        effective=at(1, "14:00"), dose=(50, "ug"), route=IV, text="Fentanyl 50 mcg IV")
    return _naltrexone(sid, "Henrik", "Dahl", "male", "1975-12-30", [ma],
                       "A fentanyl administration charted yesterday and then marked entered-in-error (charted on the "
                       "wrong patient): it never happened, so naltrexone for this adult with alcohol dependence gets "
                       "no card.",
                       expect([], absent=("opioid-washout", "urine-screen-needed", "opioid-concurrent")), R4_MA)


def s_opioid_administration_infusion_12_days() -> Scenario:
    sid = "opioid-infusion-ended-12-days-naltrexone"
    ma = administration(_pid(sid), f"{sid}-fentanyl", rx("fentanyl-iv"),
                        period=(at(14, "08:00"), at(12, "18:00")), dose=(50, "ug"), route=IV,
                        text="Fentanyl infusion 50 mcg/h after surgery")
    return _naltrexone(sid, "Ines", "Moreau", "female", "1982-08-08", [ma],
                       "A post-operative fentanyl infusion (MedicationAdministration.effectivePeriod) ended 12 days "
                       "ago: beyond the 7-10 opioid-free days, so no washout card; but it is opioid exposure in the "
                       "last 90 days with no negative urine screen -> urine-screen-needed warning citing it.",
                       expect([card("urine-screen-needed", "warning", [f"MedicationAdministration/{sid}-fentanyl"])],
                              absent=("opioid-washout", "opioid-concurrent")), R4_MA)


def s_oral_naltrexone_administered_yesterday() -> Scenario:
    sid = "oral-naltrexone-administered-yesterday-opioid"
    ma = administration(_pid(sid), f"{sid}-ntx", rx("naltrexone-50"), effective=at(1, "08:00"), dose=(50, "mg"),
                        route=ROUTE["oral"], text="Naltrexone 50 mg by mouth")
    return _reverse(sid, "Jonas", "Weber", "1970-04-04", [ma],
                    "Inpatient on the alcohol withdrawal ward: the nurse charted oral naltrexone 50 mg given "
                    "yesterday morning (MedicationAdministration). Oxycodone is drafted after a fall: oral "
                    "naltrexone blocks opioid analgesia for about 72 hours after a dose -> naltrexone-blocks-opioid "
                    "critical.",
                    expect([card("naltrexone-blocks-opioid", "critical", [f"MedicationAdministration/{sid}-ntx"],
                                  ("72 hours",))]), R4_MA, key="oxycodone-5")


def s_xr_administration_contained() -> Scenario:
    sid = "xr-administration-contained-medication"
    contained = {"resourceType": "Medication", "id": "viv", "code": rx("vivitrol")}
    ma = administration(_pid(sid), f"{sid}-viv", "#viv", effective=at(8, "11:00"), contained=[contained])
    return _reverse(sid, "Karl", "Novak", "1984-01-19", [ma],
                    "The injection is charted as a MedicationAdministration whose medicationReference '#viv' points "
                    "to a CONTAINED Medication (Vivitrol 637213), given 8 days ago. It must be recognised: "
                    "naltrexone-blocks-opioid critical on the drafted hydromorphone.",
                    expect([card("naltrexone-blocks-opioid", "critical", [f"MedicationAdministration/{sid}-viv"],
                                  ("8 days ago",))]),
                    R4_MA + "; contained resources (https://hl7.org/fhir/R4/references.html#contained)")


def s_xr_administration_included() -> Scenario:
    sid = "xr-administration-included-medication"
    med = medication(f"{sid}-med", "vivitrol")
    ma = administration(_pid(sid), f"{sid}-viv", f"Medication/{sid}-med", effective=at(15, "09:00"))
    return _reverse(sid, "Lukas", "Horvat", "1986-06-06", [med, ma],
                    "The administration references 'Medication/<id>'; the prefetch brings the Medication as an "
                    "_include entry (search.mode include), and the FHIR fallback asks for "
                    "_include=MedicationAdministration:medication. Vivitrol 15 days ago -> naltrexone-blocks-opioid "
                    "critical.",
                    expect([card("naltrexone-blocks-opioid", "critical", [f"MedicationAdministration/{sid}-viv"])]),
                    R4_MA + "; FHIR R4 search _include (https://hl7.org/fhir/R4/search.html#include)")


# --------------------------------------------------------------------------------------------------------
# Oral naltrexone: 72 hours after the last dose
# --------------------------------------------------------------------------------------------------------
def s_oral_stopped_yesterday() -> Scenario:
    sid = "oral-naltrexone-stopped-yesterday-opioid"
    ms = oral_naltrexone_statement(_pid(sid), f"{sid}-ntx", start=day(60), end=day(1))
    return _reverse(sid, "Marco", "Ricci", "1977-09-12", [ms],
                    "Oral naltrexone 50 mg daily, stopped yesterday (completed MedicationStatement, effectivePeriod "
                    "end yesterday) before dental surgery; oxycodone is drafted today. The blockade lasts about 72 "
                    "hours after the last dose -> naltrexone-blocks-opioid critical (the catalogue covered only "
                    "current naltrexone; decision: a stopped oral product blocks for 72 hours from the last day it "
                    "may have been taken, per the ASAM guideline).",
                    expect([card("naltrexone-blocks-opioid", "critical", [f"MedicationStatement/{sid}-ntx"],
                                  ("72 hours", "1 day ago"))]), R4_MS, key="oxycodone-5")


def s_oral_stopped_4_days() -> Scenario:
    sid = "oral-naltrexone-stopped-4-days-opioid"
    ms = oral_naltrexone_statement(_pid(sid), f"{sid}-ntx", start=day(60), end=day(4))
    return _reverse(sid, "Nils", "Berg", "1972-10-10", [ms],
                    "Like oral-naltrexone-stopped-yesterday-opioid, but the last dose was 4 days ago: more than 72 "
                    "hours, the blockade is over, so the drafted oxycodone gets no card.",
                    expect([], absent=("naltrexone-blocks-opioid",)), R4_MS, key="oxycodone-5")


def s_oral_dispense_supply_ended_2_days() -> Scenario:
    sid = "oral-naltrexone-supply-ended-2-days-opioid"
    md = dispense(_pid(sid), f"{sid}-ntx", rx("naltrexone-50"), handed_over=at(31, "16:00"), days_supply=30,
                  quantity=30)
    return _reverse(sid, "Oskar", "Falk", "1980-11-11", [md],
                    "Oral naltrexone 30 tablets handed over 31 days ago with a 30-day supply: the supply ran out 2 "
                    "days ago, so the last tablet may have been taken 2 days ago -> within 72 hours, "
                    "naltrexone-blocks-opioid critical citing the dispense (same model as orders and statements).",
                    expect([card("naltrexone-blocks-opioid", "critical", [f"MedicationDispense/{sid}-ntx"],
                                  ("72 hours",))]), R4_MD)


def s_oral_order_completed_5_days() -> Scenario:
    sid = "oral-naltrexone-order-ended-5-days-opioid"
    mr = med_request(_pid(sid), f"{sid}-ntx", rx("naltrexone-50"), status="completed", authored=at(34, "10:00"),
                     dose=dosage("Take 1 tablet by mouth once daily", 1, "{tbl}"), supply_days=30,
                     quantity=(30, "{tbl}"), reason="aud-dependence")
    return _reverse(sid, "Pavel", "Kral", "1974-02-02", [mr],
                    "A completed oral naltrexone order authored 34 days ago with a 30-day supply: its last possible "
                    "dose was 5 days ago, beyond 72 hours -> no card for the drafted hydromorphone.",
                    expect([], absent=("naltrexone-blocks-opioid",)), R4_MR)


def s_oral_stopped_yesterday_xr_draft() -> Scenario:
    sid = "oral-naltrexone-stopped-yesterday-xr-draft"
    ms = oral_naltrexone_statement(_pid(sid), f"{sid}-ntx", start=day(21), end=day(1))
    return _naltrexone(sid, "Quentin", "Roy", "male", "1983-03-30", [ms],
                       "Oral naltrexone lead-in for three weeks, last tablet yesterday; the clinician now orders the "
                       "monthly Vivitrol injection. Switching from tablets to the injection is the standard "
                       "sequence, not duplicate therapy (decision: only a CURRENT oral product or an injection "
                       "inside its interval is a duplicate) -> no card.",
                       expect([], absent=("duplicate-antagonist",)), R4_MS, xr=True)


# --------------------------------------------------------------------------------------------------------
# Extended-release naltrexone: the dosing interval
# --------------------------------------------------------------------------------------------------------
XR_DECISION = ("Decision (catalogue silent): Vivitrol is given every 4 weeks (label: 380 mg every 4 weeks or once a "
               "month); a new order from day 26 (xr_next_dose_from_day) is the routine next dose, a couple of days "
               "early allowed; sooner doubles the antagonist exposure")


def s_xr_repeat_administration_14_days() -> Scenario:
    sid = "xr-repeat-administration-14-days"
    ma = administration(_pid(sid), f"{sid}-viv", rx("vivitrol"), effective=at(14, "10:00"))
    return _naltrexone(sid, "Rosa", "Santos", "female", "1987-07-07", [ma],
                       "Vivitrol was injected 14 days ago (MedicationAdministration) and a new Vivitrol order is "
                       "drafted: inside the previous injection's interval -> duplicate-antagonist warning. "
                       + XR_DECISION + ".",
                       expect([card("duplicate-antagonist", "warning", [f"MedicationAdministration/{sid}-viv"],
                                    ("14 days ago",))]), R4_MA, xr=True)


def s_xr_repeat_administration_27_days() -> Scenario:
    sid = "xr-repeat-administration-27-days"
    ma = administration(_pid(sid), f"{sid}-viv", rx("vivitrol"), effective=at(27, "10:00"))
    return _naltrexone(sid, "Sara", "Nilsson", "female", "1990-01-01", [ma],
                       "Vivitrol injected 27 days ago; the next monthly injection is drafted: the routine next dose "
                       "at the end of the interval stays quiet. " + XR_DECISION + ".",
                       expect([], absent=("duplicate-antagonist",)), R4_MA, xr=True)


def s_xr_repeat_dispense_25_days() -> Scenario:
    sid = "xr-repeat-dispense-25-days"
    md = dispense(_pid(sid), f"{sid}-viv", rx("vivitrol"), handed_over=at(25, "09:30"), days_supply=28, quantity=1,
                  unit="{kit}")
    return _naltrexone(sid, "Theo", "Baker", "male", "1982-12-12", [md],
                       "The clinic pharmacy dispensed a Vivitrol kit 25 days ago (injected the same day: "
                       "MedicationDispense is the only record). A new Vivitrol order on day 25 is one day before "
                       "the routine window -> duplicate-antagonist warning. " + XR_DECISION + ".",
                       expect([card("duplicate-antagonist", "warning", [f"MedicationDispense/{sid}-viv"],
                                    ("25 days ago",))]), R4_MD, xr=True)


def s_xr_repeat_dispense_26_days() -> Scenario:
    sid = "xr-repeat-dispense-26-days"
    md = dispense(_pid(sid), f"{sid}-viv", rx("vivitrol"), handed_over=at(26, "09:30"), days_supply=28, quantity=1,
                  unit="{kit}")
    return _naltrexone(sid, "Uma", "Patel", "female", "1984-04-24", [md],
                       "Like xr-repeat-dispense-25-days, one day later: day 26 is the start of the routine window, "
                       "so the next injection stays quiet. " + XR_DECISION + ".",
                       expect([], absent=("duplicate-antagonist",)), R4_MD, xr=True)


def s_xr_repeat_order_7_days() -> Scenario:
    sid = "xr-repeat-order-completed-7-days"
    mr = med_request(_pid(sid), f"{sid}-viv", rx("vivitrol"), status="completed", authored=at(7, "09:00"),
                     dose=vivitrol_dose(), supply_days=28, quantity=(1, "{kit}"), reason="aud-dependence")
    return _naltrexone(sid, "Viktor", "Petrov", "male", "1979-05-05", [mr],
                       "A completed Vivitrol order from 7 days ago (the injection given on that order) and a new "
                       "Vivitrol draft: inside the interval -> duplicate-antagonist warning citing the order. "
                       + XR_DECISION + ".",
                       expect([card("duplicate-antagonist", "warning", [f"MedicationRequest/{sid}-viv"],
                                    ("7 days ago",))]), R4_MR, xr=True)


def s_xr_statement_10_days_oral_draft() -> Scenario:
    sid = "xr-statement-10-days-oral-draft"
    ms = med_statement(_pid(sid), f"{sid}-viv", rx("vivitrol"), status="completed", effective=at(10, "10:15"),
                       asserted=at(10, "10:30"), source_patient=False, dose=vivitrol_dose())
    return _naltrexone(sid, "Wanda", "Kowalski", "female", "1986-08-18", [ms],
                       "Vivitrol injected 10 days ago (completed MedicationStatement) and oral naltrexone 50 mg is "
                       "now drafted: adding tablets inside the injection's interval doubles the antagonist -> "
                       "duplicate-antagonist warning.",
                       expect([card("duplicate-antagonist", "warning", [f"MedicationStatement/{sid}-viv"])]), R4_MS)


def s_xr_dispense_20_days_opioid() -> Scenario:
    sid = "xr-dispense-20-days-opioid-order"
    md = dispense(_pid(sid), f"{sid}-viv", rx("vivitrol"), handed_over=at(20, "09:30"), days_supply=28, quantity=1,
                  unit="{kit}")
    return _reverse(sid, "Xaver", "Huber", "1978-03-03", [md],
                    "The only record of the injection is the clinic's MedicationDispense of a Vivitrol kit 20 days "
                    "ago; hydromorphone is drafted -> naltrexone-blocks-opioid critical citing the dispense (any "
                    "record of the injection counts).",
                    expect([card("naltrexone-blocks-opioid", "critical", [f"MedicationDispense/{sid}-viv"],
                                  ("20 days ago",))]), R4_MD)


# --------------------------------------------------------------------------------------------------------
# Partial dates and offsets: the bound that keeps the patient safe
# --------------------------------------------------------------------------------------------------------
def s_opioid_ended_month_only() -> Scenario:
    sid = "opioid-ended-month-only"
    ms = med_statement(_pid(sid), f"{sid}-oxy", rx("oxycodone-5"), status="completed", start="2026-10",
                       end="2026-11", dose=dosage("Take 5 mg by mouth every 6 hours as needed", 5, "mg", period=6,
                                                  period_unit="h", prn=True))
    return _naltrexone(sid, "Yara", "Haddad", "female", "1985-09-09", [ms],
                       "The patient reports oxycodone \"from October until sometime in November\": effectivePeriod "
                       "start 2026-10, end 2026-11 (valid partial dates). Read as 1 November it would be 24 days "
                       "ago and silent; the end may be as late as today (2026-11-25), so the washout is not met -> "
                       "opioid-washout critical and urine-screen-needed warning, and the card says the date was "
                       "imprecise.",
                       expect([card("opioid-washout", "critical", [f"MedicationStatement/{sid}-oxy"],
                                    ("imprecise date", "2026-11")),
                               card("urine-screen-needed", "warning", [f"MedicationStatement/{sid}-oxy"])]),
                       R4_DATES + "; " + R4_MS)


def s_opioid_ended_month_only_september() -> Scenario:
    sid = "opioid-ended-month-only-september"
    ms = med_statement(_pid(sid), f"{sid}-oxy", rx("oxycodone-5"), status="completed", start="2026-08",
                       end="2026-09")
    return _naltrexone(sid, "Zoe", "Fischer", "female", "1983-02-28", [ms],
                       "Oxycodone ended \"in September\" (effectivePeriod.end 2026-09): even its latest possible day "
                       "(2026-09-30) is 56 days ago, beyond the washout, so no washout card; it is opioid exposure in "
                       "the last 90 days -> urine-screen-needed warning.",
                       expect([card("urine-screen-needed", "warning", [f"MedicationStatement/{sid}-oxy"])],
                              absent=("opioid-washout",)), R4_DATES)


def s_opioid_dispense_month_only() -> Scenario:
    sid = "opioid-dispense-month-only"
    md = dispense(_pid(sid), f"{sid}-oxy", rx("oxycodone-5"), handed_over="2026-10", days_supply=30, quantity=120)
    return _naltrexone(sid, "Adam", "Nowak", "male", "1976-06-16", [md],
                       "Oxycodone 120 tablets for 30 days, whenHandedOver recorded only as 2026-10 (a migrated "
                       "pharmacy record). Handed over as late as 31 October, the supply lasts to 29 November: the "
                       "patient may still be taking it -> opioid-concurrent critical (current on the safe bound) and "
                       "urine-screen-needed warning.",
                       expect([card("opioid-concurrent", "critical", [f"MedicationDispense/{sid}-oxy"]),
                               card("urine-screen-needed", "warning", [f"MedicationDispense/{sid}-oxy"])]),
                       R4_DATES + "; " + R4_MD)


def s_opioid_ended_offset() -> Scenario:
    sid = "opioid-ended-datetime-offset"
    ms = med_statement(_pid(sid), f"{sid}-oxy", rx("oxycodone-5"), status="completed", start=day(30),
                       end="2026-11-18T23:30:00-08:00")
    return _naltrexone(sid, "Bianca", "Rossi", "female", "1989-10-10", [ms],
                       "The last oxycodone dose was charted in Pacific time, 2026-11-18T23:30:00-08:00, which is "
                       "2026-11-19 in UTC. The service's day has no zone, so the later day counts: 6 days ago, "
                       "inside the 7-day washout -> opioid-washout critical (the local date alone would give 7 days "
                       "and only a warning); the card names both days.",
                       expect([card("opioid-washout", "critical", [f"MedicationStatement/{sid}-oxy"],
                                    ("6 days ago", "time zone")),
                               card("urine-screen-needed", "warning", [f"MedicationStatement/{sid}-oxy"])]),
                       R4_DATES)


def s_urine_positive_month_only() -> Scenario:
    sid = "urine-positive-month-only"
    pid = _pid(sid)
    screen = partially_dated(uds(pid, f"{sid}-uds", "fentanyl", "POS", when=at(0)), "2026-11")
    return _naltrexone(sid, "Carla", "Mendes", "female", "1991-03-03", [screen],
                       "A positive fentanyl urine screen dated only 2026-11 (an outside lab result entered by month). "
                       "Read as 1 November it would be 24 days old, outside the 14-day look-back; it may be as "
                       "recent as today -> urine-screen-positive critical, the card saying the date was imprecise.",
                       expect([card("urine-screen-positive", "critical", [f"Observation/{sid}-uds"],
                                    ("imprecise date",))]), R4_DATES + "; " + R4_OBS)


def s_urine_negative_month_only() -> Scenario:
    sid = "urine-negative-month-only"
    pid = _pid(sid)
    screen = partially_dated(uds(pid, f"{sid}-uds", "opiates", "NEG", when=at(0)), "2026-11")
    record = [condition(pid, f"{sid}-oud", "oud-remission", onset=at(400)), screen, naloxone_mr(pid, f"{sid}-nlx")]
    return _naltrexone(sid, "Dora", "Kim", "female", "1984-11-04", record,
                       "Opioid use disorder in remission; the only urine screen is negative and dated 2026-11. A "
                       "negative reassures only if it is recent on every reading of its date: its earliest day (1 "
                       "November) is 24 days ago, outside the 7-day window -> urine-screen-needed warning, saying the "
                       "date was imprecise.",
                       expect([card("urine-screen-needed", "warning",
                                    [f"Condition/{sid}-oud", f"Observation/{sid}-uds"], ("imprecise date",))],
                              absent=("overdose-risk",)), R4_DATES + "; " + R4_OBS)


def s_urine_partial_positive_precise_negative() -> Scenario:
    sid = "urine-partial-positive-precise-negative"
    pid = _pid(sid)
    pos = partially_dated(uds(pid, f"{sid}-pos", "opiates", "POS", when=at(0)), "2026-11")
    neg = uds(pid, f"{sid}-neg", "opiates", "NEG", when=at(5, "09:00"))
    return _naltrexone(sid, "Elias", "Jansen", "male", "1980-07-27", [pos, neg],
                       "Two opiate screens: positive dated 2026-11, negative on 2026-11-20. Which came later cannot "
                       "be known (the positive may be from 21-25 November), so the negative does not supersede the "
                       "positive -> urine-screen-positive critical citing the positive only.",
                       expect([card("urine-screen-positive", "critical", [f"Observation/{sid}-pos"],
                                    not_cited=(f"Observation/{sid}-neg",))],
                              absent=("urine-screen-needed",)), R4_DATES + "; " + R4_OBS)


def s_alt_high_month_only() -> Scenario:
    sid = "alt-high-month-only"
    pid = _pid(sid)
    alt = partially_dated(lab(pid, f"{sid}-alt", "alt", 320, "U/L", when=at(90), low=7, high=40, interp="H"),
                          "2026-08")
    aud = condition(pid, f"{sid}-aud", "aud-dependence", onset=at(700, "10:00"))
    return _naltrexone(sid, "Frida", "Olsen", "female", "1978-01-15", [aud, alt],
                       "ALT 320 U/L (8x ULN) dated only 2026-08. Its latest possible day (31 August) is 86 days "
                       "ago, inside the 90-day look-back (read as 1 August it would be 116 days and dropped) -> "
                       "liver-enzymes critical, the card saying the date was imprecise.",
                       expect([card("liver-enzymes", "critical", [f"Observation/{sid}-alt"], ("imprecise date",))],
                              absent=("liver-tests-missing",)), R4_DATES + "; " + R4_OBS, aud=False)


def s_xr_administration_month_only() -> Scenario:
    sid = "xr-administration-month-only-opioid"
    ma = administration(_pid(sid), f"{sid}-viv", rx("vivitrol"), effective="2026-10")
    return _reverse(sid, "Gustav", "Meyer", "1973-08-30", [ma],
                    "A Vivitrol administration recorded only as 2026-10 (transcribed from an outside clinic). If "
                    "given on 31 October the blockade lasts into late November -> naltrexone-blocks-opioid critical "
                    "on the drafted hydromorphone, the card saying the date was imprecise.",
                    expect([card("naltrexone-blocks-opioid", "critical", [f"MedicationAdministration/{sid}-viv"],
                                  ("imprecise date",))]), R4_DATES + "; " + R4_MA)


SCENARIOS: list = [
    s_xr_administration_12_days, s_xr_administration_40_days, s_xr_administration_not_done,
    s_opioid_administration_2_days, s_opioid_administration_entered_in_error,
    s_opioid_administration_infusion_12_days, s_oral_naltrexone_administered_yesterday, s_xr_administration_contained,
    s_xr_administration_included, s_oral_stopped_yesterday, s_oral_stopped_4_days, s_oral_dispense_supply_ended_2_days,
    s_oral_order_completed_5_days, s_oral_stopped_yesterday_xr_draft, s_xr_repeat_administration_14_days,
    s_xr_repeat_administration_27_days, s_xr_repeat_dispense_25_days, s_xr_repeat_dispense_26_days,
    s_xr_repeat_order_7_days, s_xr_statement_10_days_oral_draft, s_xr_dispense_20_days_opioid,
    s_opioid_ended_month_only, s_opioid_ended_month_only_september, s_opioid_dispense_month_only,
    s_opioid_ended_offset, s_urine_positive_month_only, s_urine_negative_month_only,
    s_urine_partial_positive_precise_negative, s_alt_high_month_only, s_xr_administration_month_only,
]


# --------------------------------------------------------------------------------------------------------
# No silent draft: references the request does not carry
# --------------------------------------------------------------------------------------------------------
NOT_CHECKED = card("data-incomplete", "warning", (), ("could **not** be checked",))


def _no_include(s: Scenario) -> dict:
    """The prefetch a client builds from a template without `_include` (the CDS Hooks Sandbox, ehr-clients.md):
    the searchsets hold the matches only, never the Medications they reference."""
    from build_fixtures import prefetch

    saved, s.prefetch_override = s.prefetch_override, None
    try:
        out = prefetch(s)
    finally:
        s.prefetch_override = saved
    for value in out.values():
        if value.get("resourceType") == "Bundle" and "entry" in value:
            value["entry"] = [e for e in value["entry"] if e.get("search", {}).get("mode") != "include"]
            if not value["entry"]:
                del value["entry"]
            for link in value.get("link", []):
                link["url"] = link["url"].split("&_include=")[0]
    return out


def s_draft_reference_on_server() -> Scenario:
    sid = "draft-reference-on-fhir-server"
    pid = _pid(sid)
    nal = medication(f"{sid}-nal", "naltrexone-50", ingredient=("naltrexone-in", 50, "mg"))
    oxy = med_request(pid, f"{sid}-oxy", rx("oxycodone-5"), status="active", authored=at(6, "11:20"),
                      dose=dosage("Take 1 tablet by mouth every 6 hours as needed for pain", 1, "{tbl}", period=6,
                                  period_unit="h", prn=True), supply_days=30, quantity=(60, "{tbl}"))
    draft = draft_order(pid, f"{sid}-nal-draft", f"Medication/{sid}-nal",
                        dosage("Take 1 tablet by mouth once daily", 1, "{tbl}"), encounter_id=f"enc-{sid}",
                        reason="aud-dependence")
    return Scenario(
        sid,
        "The naltrexone draft names its drug only as medicationReference 'Medication/<id>', and neither the "
        "draftOrders nor the prefetch carries that Medication (it is on the EHR's FHIR server). The patient takes "
        "oxycodone. The service reads the Medication from the FHIR server BEFORE deciding the order is unrelated: "
        "opioid-concurrent critical and urine-screen-needed warning. With the prefetch alone and no FHIR server "
        "(prefetch-only), it cannot tell what the order is and says so: data-incomplete warning 'could not be "
        "checked', never cards: [].",
        patient(pid, "Hugo", "Stein", "male", "1980-02-20"),
        [*aud_patient_record(pid, sid), oxy, nal], [draft],
        expect([card("opioid-concurrent", "critical", [f"MedicationRequest/{sid}-oxy"]),
                card("urine-screen-needed", "warning", [f"MedicationRequest/{sid}-oxy"])],
               absent=("data-incomplete",)),
        encounter_id=f"enc-{sid}", shape=CDS_DRAFT + "; FHIR R4 Reference (https://hl7.org/fhir/R4/references.html)",
        prefetch_only=expect([card("data-incomplete", "warning", (), ("could **not** be checked",
                                                                      "no fhirServer"))],
                             absent=("opioid-concurrent",)),
    )


def s_draft_reference_nowhere() -> Scenario:
    sid = "draft-reference-nowhere"
    pid = _pid(sid)
    draft = draft_order(pid, f"{sid}-draft", f"Medication/{sid}-gone",
                        dosage("Take 1 tablet by mouth once daily", 1, "{tbl}"), encounter_id=f"enc-{sid}")
    return Scenario(
        sid,
        "A draft whose medicationReference points at a Medication that exists nowhere (not in the request, 404 on "
        "the FHIR server). Nobody can tell whether it is naltrexone or an opioid: data-incomplete warning saying "
        "the order could not be checked and why (decision: an unclassifiable order is reported on every call, "
        "since silence would look like a passed check).",
        patient(pid, "Ida", "Lund", "female", "1979-09-19"), aud_patient_record(pid, sid), [draft],
        expect([NOT_CHECKED], absent=("opioid-concurrent", "naltrexone-blocks-opioid")),
        encounter_id=f"enc-{sid}", shape=CDS_DRAFT + "; FHIR R4 Reference (https://hl7.org/fhir/R4/references.html)",
    )


def s_draft_contained_missing() -> Scenario:
    sid = "draft-contained-reference-missing"
    pid = _pid(sid)
    draft = draft_order(pid, f"{sid}-draft", "#med9", vivitrol_dose(), supply_days=28, encounter_id=f"enc-{sid}",
                        contained=[{"resourceType": "Medication", "id": "med1", "code": rx("vivitrol")}])
    return Scenario(
        sid,
        "A draft whose medicationReference '#med9' names a contained Medication the order does not contain (it "
        "contains only '#med1'): the reference cannot be resolved anywhere -> data-incomplete warning naming the "
        "missing contained Medication, never cards: [].",
        patient(pid, "Jan", "Vos", "male", "1983-05-15"), aud_patient_record(pid, sid), [draft],
        expect([card("data-incomplete", "warning", (), ("could **not** be checked", "contained Medication"))]),
        encounter_id=f"enc-{sid}", not_strict={f"MedicationRequest/{sid}-draft"},
        shape=CDS_DRAFT + "; contained resources (https://hl7.org/fhir/R4/references.html#contained)",
    )


def s_sandbox_prefetch_without_include() -> Scenario:
    sid = "sandbox-prefetch-without-include"
    pid = _pid(sid)
    med = medication(f"{sid}-oxy-med", "oxycodone-5")
    oxy = med_request(pid, f"{sid}-oxy", f"Medication/{sid}-oxy-med", status="active", authored=at(9, "11:20"),
                      dose=dosage("Take 1 tablet by mouth every 6 hours as needed for pain", 1, "{tbl}", period=6,
                                  period_unit="h", prn=True), supply_days=30, quantity=(60, "{tbl}"))
    return Scenario(
        sid,
        "The active oxycodone order references 'Medication/<id>', and the client built its prefetch from a "
        "template without _include (as the CDS Hooks Sandbox does), so the Medication is not in the prefetch. With "
        "a FHIR server the service reads the Medication and the order is an active opioid: opioid-concurrent "
        "critical and urine-screen-needed warning, not a mere 'check incomplete'. With the prefetch alone "
        "(prefetch-only) the oxycodone order is unreadable and data-incomplete says so.",
        patient(pid, "Kai", "Lehmann", "male", "1976-12-01"), [*aud_patient_record(pid, sid), oxy, med],
        [nal50_draft(pid, sid, enc=f"enc-{sid}")],
        expect([card("opioid-concurrent", "critical", [f"MedicationRequest/{sid}-oxy"]),
                card("urine-screen-needed", "warning", [f"MedicationRequest/{sid}-oxy"])],
               absent=("data-incomplete",)),
        encounter_id=f"enc-{sid}", prefetch_override=_no_include,
        shape="CDS Hooks Sandbox prefetch (cds-hooks/sandbox, ehr-clients.md: templates used as written, no "
              "_include); " + R4_MR,
        prefetch_only=expect([card("data-incomplete", "warning", (f"MedicationRequest/{sid}-oxy",))],
                             absent=("opioid-concurrent",)),
    )


def s_draft_reference_display_only() -> Scenario:
    sid = "draft-reference-display-only"
    pid = _pid(sid)
    tram = med_request(pid, f"{sid}-tramadol", rx("tramadol-50"), status="active", authored=at(10, "11:00"),
                       dose=dosage("Take 1 tablet by mouth every 6 hours as needed", 1, "{tbl}", period=6,
                                   period_unit="h", prn=True), supply_days=30, quantity=(120, "{tbl}"))
    draft = draft_order(pid, f"{sid}-nal-draft", f"Medication/{sid}-x", dosage("Take 50 mg by mouth daily", 50, "mg"),
                        encounter_id=f"enc-{sid}", reason="aud-dependence")
    draft["medicationReference"] = {"display": "Naltrexone 50 mg tablet"}
    return Scenario(
        sid,
        "The draft's medicationReference has only a display ('Naltrexone 50 mg tablet', a valid R4 Reference "
        "without a reference). The display is the only clue and names naltrexone: the order is checked, and the "
        "patient's active tramadol gives opioid-concurrent critical plus urine-screen-needed warning.",
        patient(pid, "Lena", "Graf", "female", "1985-06-26"), [*aud_patient_record(pid, sid), tram], [draft],
        expect([card("opioid-concurrent", "critical", [f"MedicationRequest/{sid}-tramadol"]),
                card("urine-screen-needed", "warning", [f"MedicationRequest/{sid}-tramadol"])]),
        encounter_id=f"enc-{sid}", shape=CDS_DRAFT + "; FHIR R4 Reference.display "
                                                     "(https://hl7.org/fhir/R4/references.html)",
    )


def s_opioid_draft_reference_on_server() -> Scenario:
    sid = "opioid-draft-reference-on-fhir-server"
    pid = _pid(sid)
    med = medication(f"{sid}-hm", "hydromorphone-2")
    ma = administration(pid, f"{sid}-viv", rx("vivitrol"), effective=at(10, "10:00"))
    draft = draft_order(pid, f"{sid}-opioid-draft", f"Medication/{sid}-hm",
                        dosage("Take 2 mg by mouth every 4 hours as needed for severe pain", 2, "mg", period=4,
                               period_unit="h", prn=True), supply_days=3, encounter_id=f"enc-{sid}",
                        reason="renal-colic")
    return Scenario(
        sid,
        "The reverse direction of draft-reference-on-fhir-server: the drafted opioid names its drug only by a "
        "reference to a Medication on the FHIR server, and Vivitrol was injected 10 days ago "
        "(MedicationAdministration). Read from the server, it is hydromorphone: naltrexone-blocks-opioid critical. "
        "Prefetch alone: data-incomplete 'could not be checked'.",
        patient(pid, "Mats", "Ek", "male", "1978-10-21"), [*aud_patient_record(pid, sid), ma, med], [draft],
        expect([card("naltrexone-blocks-opioid", "critical", [f"MedicationAdministration/{sid}-viv"])],
               absent=("data-incomplete",)),
        encounter_id=f"enc-{sid}", shape=CDS_DRAFT + "; " + R4_MA,
        prefetch_only=expect([NOT_CHECKED], absent=("naltrexone-blocks-opioid",)),
    )


SCENARIOS += [
    s_draft_reference_on_server, s_draft_reference_nowhere, s_draft_contained_missing,
    s_sandbox_prefetch_without_include, s_draft_reference_display_only, s_opioid_draft_reference_on_server,
]
