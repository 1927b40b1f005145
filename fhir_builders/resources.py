"""One function a FHIR R4 resource type, and the data types they are made of.

The shapes follow the FHIR R4 resource pages (element order as the specification lists it) and US Core where
it constrains them (category, requester, reasonCode); the defaults are an ordinary US outpatient chart. Ids are
the caller's; a resource built twice from the same arguments is the same, byte for byte.
"""

from __future__ import annotations

import uuid
from typing import Any

from fhir_builders.codes import COND, LAB, ROUTE, RX, UDS, Coding
from fhir_builders.dates import TODAY, at, issued
from fhir_builders.systems import (
    ALLERGY_CLINICAL,
    ALLERGY_VER,
    COND_CAT,
    COND_CLINICAL,
    COND_VER,
    INTERP,
    LOINC,
    MR_CAT,
    MRN_SYSTEM,
    MS_CAT,
    OBS_CAT,
    ORDERABLE_FORM,
    RXNORM,
    SNOMED,
    UCUM,
    V2_0203,
    V3_ACT_CODE,
)

NS = uuid.UUID("6f1d7c1e-2b1a-4f0e-9c55-0a7e3b0c2d11")  # namespace for deterministic uuids
USER_ID = "Practitioner/example"  # the ordering clinician of every draft


def uid(*parts: str) -> str:
    """A uuid that depends only on `parts` (fullUrls, hookInstances)."""
    return str(uuid.uuid5(NS, "/".join(parts)))


def ref(resource: dict) -> str:
    """`Type/id`, as references and card evidence spell it."""
    return f"{resource['resourceType']}/{resource['id']}"


def coding(system: str, code: str, display: str) -> dict:
    return {"system": system, "code": code, "display": display}


def cc(codings: list[tuple[str, str, str]], text: str | None = None) -> dict:
    out: dict[str, Any] = {"coding": [coding(*c) for c in codings]}
    out["text"] = text or codings[0][2]
    return out


def rx(key: str, text: str | None = None) -> dict:
    code, display = RX[key]
    return cc([(RXNORM, code, display)], text=text or display)


def qty(value: float, code: str, unit: str | None = None) -> dict:
    return {"value": value, "unit": unit or code, "system": UCUM, "code": code}


def days(n: int) -> dict:
    return qty(n, "d", "days")


def dosage(text: str | None, value: float | None, unit: str = "mg", *, frequency: float = 1, period: float = 1,
           period_unit: str = "d", prn: bool = False, route: str | None = "oral") -> dict:
    """dosageInstruction entry: timing + doseQuantity (UCUM `mg`, or `{tbl}`/`{pill}`/`{actuat}`/`mL`).
    `value` None: no dose given (the amount the order leaves open); `text`, `route` None: none written."""
    unit_display = {"{tbl}": "tablet", "{pill}": "pill", "{actuat}": "spray", "{cap}": "capsule"}.get(unit, unit)
    d: dict[str, Any] = {"sequence": 1}
    if text is not None:
        d["text"] = text
    d["timing"] = {"repeat": {"frequency": frequency, "period": period, "periodUnit": period_unit}}
    if prn:
        d["asNeededBoolean"] = True
    if route is not None:
        d["route"] = cc([ROUTE[route]])
    if value is not None:
        d["doseAndRate"] = [{"doseQuantity": qty(value, unit, unit_display)}]
    return d


# --------------------------------------------------------------------------------------------------------
# Resource constructors
# --------------------------------------------------------------------------------------------------------
def patient(pid: str, given: str, family: str, gender: str, birth: str) -> dict:
    return {
        "resourceType": "Patient",
        "id": pid,
        "meta": {"lastUpdated": at(30, "08:00")},
        "identifier": [{
            "use": "usual",
            "type": cc([(V2_0203, "MR", "Medical record number")]),
            "system": MRN_SYSTEM,
            "value": f"MRN-{abs(hash_str(pid)) % 10_000_000:07d}",
        }],
        "active": True,
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": gender,
        "birthDate": birth,
    }


def hash_str(s: str) -> int:
    """Stable (process-independent) hash for MRNs."""
    return int(uuid.uuid5(NS, s).hex[:12], 16)


def condition(pid: str, cid: str, key: str | list[Coding], *, clinical: str = "active", verification: str = "confirmed",
              onset: str | None = None, abatement: str | None = None, recorded: str | None = None) -> dict:
    """A problem-list Condition; `key` names its codings in conditions.csv, or is the codings themselves."""
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": cc([(COND_CLINICAL, clinical, clinical.capitalize())]),
        "verificationStatus": cc([(COND_VER, verification,
                                   {"entered-in-error": "Entered in Error"}.get(verification,
                                                                                verification.capitalize()))]),
        "category": [cc([(COND_CAT, "problem-list-item", "Problem List Item")])],
        "code": cc(COND[key] if isinstance(key, str) else key),
        "subject": {"reference": f"Patient/{pid}"},
    }
    if onset:
        res["onsetDateTime"] = onset
    if abatement:
        res["abatementDateTime"] = abatement
    res["recordedDate"] = recorded or onset or at(200)
    return res


def medication(mid: str, key: str, *, ingredient: tuple[str, float, str] | None = None) -> dict:
    """Medication resource; `ingredient` = (RxNorm key of the ingredient, strength value, strength unit)."""
    res: dict[str, Any] = {"resourceType": "Medication", "id": mid, "code": rx(key)}
    if ingredient:
        ing_key, value, unit = ingredient
        res["form"] = cc([(ORDERABLE_FORM, "TAB", "Tablet")])
        res["ingredient"] = [{
            "itemCodeableConcept": rx(ing_key),
            "isActive": True,
            "strength": {"numerator": qty(value, unit),
                         "denominator": {"value": 1, "unit": "tablet", "system": ORDERABLE_FORM, "code": "TAB"}},
        }]
    return res


def med_fields(med: dict | str) -> dict:
    """`med` is a CodeableConcept dict, or a reference string (Medication/x or #contained)."""
    if isinstance(med, str):
        return {"medicationReference": {"reference": med}}
    return {"medicationCodeableConcept": med}


def med_request(pid: str, mid: str, med: dict | str, *, status: str, authored: str, dose: dict | None = None,
                supply_days: int | None = None, quantity: tuple[float, str] | None = None,
                validity: tuple[str, str] | None = None, reason: str | None = None,
                status_reason: str | None = None, category: str = "community", refills: int = 0) -> dict:
    res: dict[str, Any] = {"resourceType": "MedicationRequest", "id": mid, "status": status}
    if status_reason:
        res["statusReason"] = {"text": status_reason}
    res["intent"] = "order"
    res["category"] = [cc([(MR_CAT, category, category.capitalize())])]
    res.update(med_fields(med))
    res["subject"] = {"reference": f"Patient/{pid}"}
    res["authoredOn"] = authored
    res["requester"] = {"display": "Dana Whitfield, MD"}
    if reason:
        res["reasonCode"] = [cc(COND[reason])]
    if dose is not None:
        res["dosageInstruction"] = [dose]
    dr: dict[str, Any] = {}
    if validity:
        dr["validityPeriod"] = {"start": validity[0], "end": validity[1]}
    dr["numberOfRepeatsAllowed"] = refills
    if quantity:
        dr["quantity"] = qty(quantity[0], quantity[1],
                             {"{tbl}": "tablet", "mL": "mL", "{actuat}": "spray"}.get(quantity[1]))
    if supply_days is not None:
        dr["expectedSupplyDuration"] = days(supply_days)
    res["dispenseRequest"] = dr
    return res


def draft_order(pid: str, mid: str, med: dict | str, dose: dict | None, *, supply_days: int = 30,
                encounter_id: str | None = None, contained: list[dict] | None = None,
                reason: str | None = None) -> dict:
    """A draft MedicationRequest as an EHR sends it in context.draftOrders."""
    res: dict[str, Any] = {"resourceType": "MedicationRequest", "id": mid}
    if contained:
        res["contained"] = contained
    res["status"] = "draft"
    res["intent"] = "order"
    res["category"] = [cc([(MR_CAT, "outpatient", "Outpatient")])]
    res.update(med_fields(med))
    res["subject"] = {"reference": f"Patient/{pid}"}
    if encounter_id:
        res["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    res["authoredOn"] = TODAY.isoformat()
    res["requester"] = {"reference": USER_ID}
    if reason:
        res["reasonCode"] = [cc(COND[reason])]
    if dose is not None:
        res["dosageInstruction"] = [dose]
    res["dispenseRequest"] = {"numberOfRepeatsAllowed": 0, "expectedSupplyDuration": days(supply_days)}
    return res


def med_statement(pid: str, sid: str, med: dict | str, *, status: str, start: str | None = None,
                  end: str | None = None, effective: str | None = None, asserted: str | None = None,
                  dose: dict | None = None, source_patient: bool = True, note: str | None = None) -> dict:
    res: dict[str, Any] = {"resourceType": "MedicationStatement", "id": sid, "status": status,
                           "category": cc([(MS_CAT, "community", "Community")])}
    res.update(med_fields(med))
    res["subject"] = {"reference": f"Patient/{pid}"}
    if effective:
        res["effectiveDateTime"] = effective
    else:
        period = {"start": start} if start is not None else {}
        if end:
            period["end"] = end
        res["effectivePeriod"] = period
    res["dateAsserted"] = asserted or at(1, "10:00")
    res["informationSource"] = ({"reference": f"Patient/{pid}"} if source_patient
                                else {"display": "Dana Whitfield, MD"})
    if note:
        res["note"] = [{"text": note}]
    if dose:
        res["dosage"] = [dose]
    return res


def dispense(pid: str, did: str, med: dict, *, handed_over: str, days_supply: int, quantity: float | None = None,
             unit: str = "{tbl}", prescription: str | None = None) -> dict:
    res: dict[str, Any] = {"resourceType": "MedicationDispense", "id": did, "status": "completed",
                           "medicationCodeableConcept": med, "subject": {"reference": f"Patient/{pid}"}}
    if prescription:
        res["authorizingPrescription"] = [{"reference": prescription}]
    res["type"] = cc([(V3_ACT_CODE, "FF", "First Fill")])
    if quantity is not None:
        res["quantity"] = qty(quantity, unit, {"{tbl}": "tablet", "{film}": "film"}.get(unit, unit))
    res["daysSupply"] = days(days_supply)
    res["whenPrepared"] = handed_over
    res["whenHandedOver"] = handed_over
    return res


def laboratory_result(pid: str, oid: str, loinc: tuple[str, str], when: str, status: str = "final") -> dict[str, Any]:
    """A final laboratory Observation of the LOINC (code, display) taken `when`, released a few hours later;
    the caller adds the value."""
    res: dict[str, Any] = {
        "resourceType": "Observation", "id": oid, "status": status,
        "category": [cc([(OBS_CAT, "laboratory", "Laboratory")])],
        "code": cc([(LOINC, *loinc)]),
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when,
    }
    if "T" in when:  # an `instant` needs a time and zone: a result dated by day only has no release time
        res["issued"] = issued(when)
    return res


def lab(pid: str, oid: str, key: str | tuple[str, str], value: float, unit: str, *, when: str, low: float | None = None,
        high: float | None = None, interp: str | None = None, unit_display: str | None = None) -> dict:
    res = laboratory_result(pid, oid, LAB[key] if isinstance(key, str) else key, when)
    res["valueQuantity"] = qty(value, unit, unit_display)
    if interp:
        res["interpretation"] = [cc([(INTERP, interp, {"H": "High", "N": "Normal", "L": "Low"}[interp])])]
    if high is not None:
        rr: dict[str, Any] = {}
        if low is not None:
            rr["low"] = qty(low, unit, unit_display)
        rr["high"] = qty(high, unit, unit_display)
        res["referenceRange"] = [rr]
    return res


def normal_lfts(pid: str, prefix: str, days_ago: int = 20) -> list[dict]:
    when = at(days_ago, "09:10")
    return [
        lab(pid, f"{prefix}-alt", "alt", 24, "U/L", when=when, low=7, high=42, interp="N"),
        lab(pid, f"{prefix}-ast", "ast", 21, "U/L", when=when, low=10, high=40, interp="N"),
    ]


def uds(pid: str, oid: str, key: str | tuple[str, str], result: str | None, *, when: str,
        value_string: str | None = None, status: str = "final") -> dict:
    """Urine drug screen (`key` in observations.csv, or the LOINC code and display). result POS/NEG ->
    valueCodeableConcept + interpretation; or a bare valueString; None: no result yet."""
    res = laboratory_result(pid, oid, UDS[key] if isinstance(key, str) else key, when, status)
    if value_string is not None:
        res["valueString"] = value_string
        return res
    if result is None:
        return res
    if result == "POS":
        res["valueCodeableConcept"] = cc([(SNOMED, "10828004", "Positive (qualifier value)")], text="Positive")
        res["interpretation"] = [cc([(INTERP, "POS", "Positive")])]
    else:
        res["valueCodeableConcept"] = cc([(SNOMED, "260385009", "Negative (qualifier value)")], text="Negative")
        res["interpretation"] = [cc([(INTERP, "NEG", "Negative")])]
    return res


def allergy(pid: str, aid: str, *, verification: str = "confirmed", clinical: str = "active",
            substance: dict | None = None) -> dict:
    """A high-criticality drug allergy with urticaria; to naltrexone unless `substance` says otherwise."""
    return {
        "resourceType": "AllergyIntolerance", "id": aid,
        "clinicalStatus": cc([(ALLERGY_CLINICAL, clinical, clinical.capitalize())]),
        "verificationStatus": cc([(ALLERGY_VER, verification, verification.capitalize())]),
        "type": "allergy", "category": ["medication"], "criticality": "high",
        "code": substance or rx("naltrexone-in", text="Naltrexone"),
        "patient": {"reference": f"Patient/{pid}"},
        "recordedDate": at(400, "11:00"),
        "reaction": [{"manifestation": [cc([(SNOMED, "126485001", "Urticaria (disorder)")])],
                      "severity": "moderate"}],
    }


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
