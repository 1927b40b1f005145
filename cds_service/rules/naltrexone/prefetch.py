"""The naltrexone pack's prefetch keys, written once: each key's FHIR query, its data category and types.

Rules and the engine name data by these keys (`record.unavailable` is keyed by them), never by the category
text a clinician reads, so rewording a category cannot change which rules stay silent.
"""

from __future__ import annotations

from urllib.parse import quote

from cds_service.hooks.prefetch import PrefetchTemplate
from cds_service.terminology import Terminology

PATIENT = "patient"
CONDITIONS = "conditions"
MEDICATION_REQUESTS = "medicationRequests"
MEDICATION_STATEMENTS = "medicationStatements"
MEDICATION_DISPENSES = "medicationDispenses"
MEDICATION_ADMINISTRATIONS = "medicationAdministrations"
LIVER_TESTS = "liverTests"
URINE_SCREENS = "urineDrugScreens"
ALLERGIES = "allergies"

MEDICATION_KEYS = (MEDICATION_REQUESTS, MEDICATION_STATEMENTS, MEDICATION_DISPENSES, MEDICATION_ADMINISTRATIONS)

# key -> (what a clinician calls it, the resource types it brings)
CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    PATIENT: ("patient demographics (age)", ("Patient",)),
    CONDITIONS: ("conditions (diagnoses)", ("Condition",)),
    MEDICATION_REQUESTS: ("medication orders", ("MedicationRequest", "Medication")),
    MEDICATION_STATEMENTS: ("medication statements (including over-the-counter use)",
                            ("MedicationStatement", "Medication")),
    MEDICATION_DISPENSES: ("medication dispenses", ("MedicationDispense", "Medication")),
    MEDICATION_ADMINISTRATIONS: ("medication administrations (doses and injections given)",
                                 ("MedicationAdministration", "Medication")),
    LIVER_TESTS: ("liver tests (ALT, AST)", ("Observation",)),
    URINE_SCREENS: ("urine drug screens", ("Observation",)),
    ALLERGIES: ("allergies", ("AllergyIntolerance",)),
}


def category(key: str) -> str:
    """The clinician's name of a prefetch key's data (the key itself for one this pack does not know)."""
    return CATEGORIES[key][0] if key in CATEGORIES else key


def _codes_query(terminology: Terminology, *classes: str) -> str:
    codes: list[str] = []
    for cls in classes:
        codes.extend(code for _system, code in terminology.observation_codes(cls) if code not in codes)
    return ",".join(quote(c, safe="") for c in codes)


def _query(key: str, terminology: Terminology) -> str:
    patient = "{{context.patientId}}"
    if key == PATIENT:
        return f"Patient/{patient}"
    if key == LIVER_TESTS:
        return f"Observation?patient={patient}&code={_codes_query(terminology, 'alt', 'ast')}"
    if key == URINE_SCREENS:
        return f"Observation?patient={patient}&code={_codes_query(terminology, 'urine-opioid-screen')}"
    rtype = CATEGORIES[key][1][0]
    if key in MEDICATION_KEYS:
        # `_include` brings the Medications the records reference (FHIR R4 search §3.1.1.5.1): a prefetch
        # without them leaves `medicationReference`s to read one by one from the server, or unreadable
        return f"{rtype}?patient={patient}&_include={rtype}:medication"
    return f"{rtype}?patient={patient}"


def prefetch_templates(terminology: Terminology) -> tuple[PrefetchTemplate, ...]:
    return tuple(PrefetchTemplate(key, _query(key, terminology), name, types)
                 for key, (name, types) in CATEGORIES.items())
