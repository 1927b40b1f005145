"""Hand-built `PatientRecord`s for rule unit tests: no FHIR, no HTTP, every date explicit.

Ingredients and classes come from the real terminology (by RxNorm code), so a test cannot invent a class the
value sets do not give.
"""

from __future__ import annotations

from datetime import date, timedelta

from cds_service.record.model import ConditionEntry, LabResult, MedicationUse, PatientRecord
from cds_service.rules.base import RuleContext
from cds_service.rules.naltrexone.config import NaltrexoneConfig
from cds_service.terminology import get_terminology
from fhir_builders.codes import LAB, RX, UDS
from fhir_builders.dates import TODAY
from fhir_builders.systems import ICD10CM

NALTREXONE_50 = RX["naltrexone-50"][0]
VIVITROL = RX["vivitrol"][0]
OXYCODONE = RX["oxycodone-5"][0]
BUPRENORPHINE_NALOXONE = RX["bup-nal-film"][0]
NALOXONE_SPRAY = RX["naloxone-nasal"][0]
LOPERAMIDE = RX["loperamide-in"][0]


def ago(days: int, today: date = TODAY) -> date:
    return today - timedelta(days=days)


def use(ref: str, rxcui: str, *, draft: bool = False, current: bool = False, start: date | None = None,
        end: date | None = None, status: str | None = None, daily_mg: float | None = None) -> MedicationUse:
    """A medication use of the RxNorm product `rxcui` (a current one has no end)."""
    product = get_terminology().product(rxcui)
    assert product is not None, f"RxNorm {rxcui} is not in the terminology"
    rtype = ref.split("/", 1)[0]
    return MedicationUse(
        ref=ref, resource_type=rtype, status=status or ("draft" if draft else "active" if current else "completed"),
        display=product.display, ingredients=product.ingredients, matched_by="code", is_current=current,
        is_draft=draft, start=start, end=None if current else end, daily_amount=daily_mg,
        daily_unit="mg" if daily_mg is not None else None, route=product.dose_form, rxnorm_codes=(rxcui,),
        product_classes=product.classes,
    )


def naltrexone_draft(ref: str = "MedicationRequest/draft", rxcui: str = NALTREXONE_50,
                     daily_mg: float | None = 50) -> MedicationUse:
    return use(ref, rxcui, draft=True, daily_mg=daily_mg)


def condition(ref: str, *classes: str, status: str = "active", display: str = "Opioid dependence") -> ConditionEntry:
    return ConditionEntry(ref=ref, display=display, codes=((ICD10CM, "F11.20"),),
                          classes=frozenset(classes), clinical_status=status, verification_status="confirmed")


def liver_lab(ref: str, analyte: str, value: float, when: date, uln: float | None = 40.0) -> LabResult:
    code, display = LAB[analyte]
    return LabResult(ref=ref, display=display, code=code,
                     classes=frozenset({analyte}), status="final", when=when, value=value, unit="U/L",
                     original=f"{value:g} U/L", uln=uln, uln_source="referenceRange" if uln else None,
                     reference_text=f"0-{uln:g} U/L" if uln else None)


def urine_screen(ref: str, positive: bool, when: date) -> LabResult:
    code, display = UDS["opiates"]
    return LabResult(ref=ref, display=display, code=code,
                     classes=frozenset({"urine-opioid-screen"}), status="final", when=when,
                     original="Positive" if positive else "Negative", positive=positive)


def record(today: date = TODAY, **fields: object) -> PatientRecord:
    return PatientRecord(patient_id="pt-unit", today=today, **fields)  # type: ignore[arg-type]


def context(rec: PatientRecord, order: MedicationUse,
            config: NaltrexoneConfig | None = None) -> RuleContext[NaltrexoneConfig]:
    return RuleContext(record=rec, order=order, patient_id=rec.patient_id, encounter_id=None,
                       config=config or NaltrexoneConfig())
