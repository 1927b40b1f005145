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

TODAY = date(2026, 11, 25)
NALTREXONE_50 = "1483744"
VIVITROL = "637213"
OXYCODONE = "1049621"
BUPRENORPHINE_NALOXONE = "1010604"
NALOXONE_SPRAY = "1725059"
LOPERAMIDE = "6468"


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
    return ConditionEntry(ref=ref, display=display, codes=(("http://hl7.org/fhir/sid/icd-10-cm", "F11.20"),),
                          classes=frozenset(classes), clinical_status=status, verification_status="confirmed")


def liver_lab(ref: str, analyte: str, value: float, when: date, uln: float | None = 40.0) -> LabResult:
    code, name = ("1742-6", "ALT") if analyte == "alt" else ("1920-8", "AST")
    return LabResult(ref=ref, display=f"{name} [Enzymatic activity/volume] in Serum or Plasma", code=code,
                     classes=frozenset({analyte}), status="final", when=when, value=value, unit="U/L",
                     original=f"{value:g} U/L", uln=uln, uln_source="referenceRange" if uln else None,
                     reference_text=f"0-{uln:g} U/L" if uln else None)


def urine_screen(ref: str, positive: bool, when: date) -> LabResult:
    return LabResult(ref=ref, display="Opiates [Presence] in Urine by Screen method", code="19295-5",
                     classes=frozenset({"urine-opioid-screen"}), status="final", when=when,
                     original="Positive" if positive else "Negative", positive=positive)


def record(today: date = TODAY, **fields: object) -> PatientRecord:
    return PatientRecord(patient_id="pt-unit", today=today, **fields)  # type: ignore[arg-type]


def context(rec: PatientRecord, order: MedicationUse,
            config: NaltrexoneConfig | None = None) -> RuleContext[NaltrexoneConfig]:
    return RuleContext(record=rec, order=order, patient_id=rec.patient_id, encounter_id=None,
                       config=config or NaltrexoneConfig())
