"""Code-system URIs the builders write, each spelled once.

The terminologies the service reads (RxNorm, SNOMED CT, ICD-10 flavours, LOINC, ATC, NDC, UCUM) come from the
service's own table (`cds_service.terminology.systems`), so a fixture cannot drift from what the service
canonicalises; the rest are HL7 terminology.hl7.org status and category systems (https://terminology.hl7.org/)
and the spellings some EHRs send (OIDs, the retired DIMDI ICD-10-GM URI, PZN).
"""

from __future__ import annotations

from cds_service.terminology.systems import ATC, ICD10, ICD10CM, ICD10GM, LOINC, NDC, RXNORM, SNOMED, UCUM

__all__ = [
    "ALLERGY_CLINICAL", "ALLERGY_VER", "ATC", "ATC_OID", "COND_CAT", "COND_CLINICAL", "COND_VER", "ICD10",
    "ICD10CM", "ICD10GM", "ICD10GM_OLD", "INTERP", "LOINC", "MRN_SYSTEM", "MR_CAT", "MS_CAT", "NDC", "OBS_CAT",
    "ORDERABLE_FORM", "PZN", "RXNORM", "SNOMED", "UCUM", "V2_0203", "V3_ACT_CODE",
]

COND_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
COND_CAT = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VER = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
MR_CAT = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
MS_CAT = "http://terminology.hl7.org/CodeSystem/medication-statement-category"
ORDERABLE_FORM = "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # identifier types (MR = medical record number)
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.19.5.99999.1"  # HL7's example OID root: a made-up hospital's MRNs
ATC_OID = "urn:oid:2.16.840.1.113883.6.73"
ICD10GM_OLD = "http://fhir.de/CodeSystem/dimdi/icd-10-gm"  # before BfArM took over from DIMDI (2020)
PZN = "http://fhir.de/CodeSystem/ifa/pzn"
