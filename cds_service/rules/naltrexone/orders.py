"""Resources the naltrexone cards suggest creating: valid FHIR R4, built and validated once at import.

They are validated with `fhir.resources.R4B` models at start-up; per call only the patient and encounter
references are filled in (validating per call would cost milliseconds for nothing).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.terminology import LOINC, RXNORM, SNOMED

URINE_SCREEN_LOINC = (
    ("19295-5", "Opiates [Presence] in Urine by Screen method"),
    ("58379-9", "fentaNYL+Norfentanyl [Presence] in Urine by Screen method"),
    ("58359-1", "Buprenorphine+Norbuprenorphine [Presence] in Urine by Screen method"),
    ("19550-3", "Methadone [Presence] in Urine by Screen method"),
    ("58430-0", "oxyCODONE+oxyMORphone [Presence] in Urine by Screen method"),
)


def _validated(model: Any, resource: dict[str, Any]) -> bytes:
    """Validated once; kept as JSON bytes so each call gets a fresh copy for microseconds (no deepcopy)."""
    return orjson.dumps(model.model_validate(resource).model_dump(mode="json", exclude_none=True))


_URINE_SCREEN = _validated(ServiceRequest, {
    "resourceType": "ServiceRequest",
    "status": "draft",
    "intent": "order",
    "category": [{"coding": [{"system": SNOMED, "code": "108252007", "display": "Laboratory procedure"}]}],
    "code": {
        "coding": [{"system": SNOMED, "code": "310627008", "display": "Urine drug screening"}]
        + [{"system": LOINC, "code": c, "display": d} for c, d in URINE_SCREEN_LOINC],
        "text": "Urine opioid screen (opiates, fentanyl, buprenorphine, methadone, oxycodone)",
    },
    "subject": {"reference": "Patient/placeholder"},
    "reasonCode": [{"text": "Confirm opioid abstinence before starting naltrexone"}],
})

_HEPATIC_PANEL = _validated(ServiceRequest, {
    "resourceType": "ServiceRequest",
    "status": "draft",
    "intent": "order",
    "category": [{"coding": [{"system": SNOMED, "code": "108252007", "display": "Laboratory procedure"}]}],
    "code": {
        "coding": [{"system": LOINC, "code": "24325-3", "display": "Hepatic function 2000 panel - Serum or Plasma"}],
        "text": "Hepatic function panel (ALT, AST, bilirubin)",
    },
    "subject": {"reference": "Patient/placeholder"},
    "reasonCode": [{"text": "Liver tests before or during naltrexone treatment"}],
})

_NALOXONE = _validated(MedicationRequest, {
    "resourceType": "MedicationRequest",
    "status": "draft",
    "intent": "order",
    "medicationCodeableConcept": {
        "coding": [{"system": RXNORM, "code": "1725059", "display": "naloxone hydrochloride 40 MG/ML Nasal Spray"}],
        "text": "Naloxone 4 mg nasal spray",
    },
    "subject": {"reference": "Patient/placeholder"},
    "dosageInstruction": [{
        "text": "For suspected opioid overdose: 1 spray (4 mg) in one nostril; call emergency services; "
                "repeat in the other nostril after 2-3 minutes if no response",
        "asNeededBoolean": True,
        "route": {"coding": [{"system": SNOMED, "code": "46713006", "display": "Nasal route"}]},
    }],
    "dispenseRequest": {"quantity": {"value": 2, "unit": "spray device"}},
})


def _for_patient(template: bytes, patient_id: str, encounter_id: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = orjson.loads(template)
    resource["id"] = str(uuid.uuid4())
    resource["subject"] = {"reference": f"Patient/{patient_id}"}
    if encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    return resource


def urine_screen_request(patient_id: str, encounter_id: str | None) -> dict[str, Any]:
    return _for_patient(_URINE_SCREEN, patient_id, encounter_id)


def hepatic_panel_request(patient_id: str, encounter_id: str | None) -> dict[str, Any]:
    return _for_patient(_HEPATIC_PANEL, patient_id, encounter_id)


def naloxone_request(patient_id: str, encounter_id: str | None) -> dict[str, Any]:
    return _for_patient(_NALOXONE, patient_id, encounter_id)
