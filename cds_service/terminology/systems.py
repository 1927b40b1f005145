"""The one table of code-system spellings: every URI and OID an EHR may send, mapped to one canonical URI.

Why one table: Epic sends OIDs (`urn:oid:2.16.840.1.113883.6.88` for RxNorm), European EHRs send ATC and
ICD-10 WHO/GM URIs, others add a trailing slash. Every place that reads a `Coding.system` asks `canonical()`
and compares with the constants below, so a new spelling is added here once and is then understood everywhere
(terminology lookups, readers, client profiles).

Sources: HL7 terminology.hl7.org code-system pages (canonical URIs and OIDs); HL7 OID registry
(2.16.840.1.113883.6.88 RxNorm, .6.69 NDC, .6.90 ICD-10-CM, .6.3 ICD-10, .6.96 SNOMED CT, .6.1 LOINC,
.6.73 ATC); Epic's CDS Hooks documentation (OID forms on the wire); HL7 Germany basisprofil (ICD-10-GM URI,
OID 1.2.276.0.76.5.x is versioned per year, the URI is what FHIR resources carry).
"""

from __future__ import annotations

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"  # WHO ICD-10
ICD10GM = "http://fhir.de/CodeSystem/bfarm/icd-10-gm"
LOINC = "http://loinc.org"
ATC = "http://www.whocc.no/atc"
NDC = "http://hl7.org/fhir/sid/ndc"
UCUM = "http://unitsofmeasure.org"

# every ICD-10 flavour: codes compared without dots, upper case
ICD10_FAMILY = frozenset({ICD10CM, ICD10, ICD10GM})

_ALIASES: dict[str, tuple[str, ...]] = {
    RXNORM: ("urn:oid:2.16.840.1.113883.6.88", "http://www.nlm.nih.gov/research/umls/rxnorm/"),
    SNOMED: ("urn:oid:2.16.840.1.113883.6.96", "http://snomed.info/sct/", "http://snomed.info/id"),
    ICD10CM: ("urn:oid:2.16.840.1.113883.6.90", "http://hl7.org/fhir/sid/icd-10-cm/"),
    ICD10: ("urn:oid:2.16.840.1.113883.6.3", "http://hl7.org/fhir/sid/icd-10/", "http://terminology.hl7.org/CodeSystem/icd10"),
    ICD10GM: (
        "http://fhir.de/CodeSystem/dimdi/icd-10-gm",
        "http://fhir.de/CodeSystem/bfarm/icd-10-gm/",
        "http://fhir.de/CodeSystem/dimdi/icd-10-gm/",
    ),
    LOINC: ("urn:oid:2.16.840.1.113883.6.1", "http://loinc.org/"),
    ATC: (
        "urn:oid:2.16.840.1.113883.6.73",
        "http://www.whocc.no/atc/",
        "https://www.whocc.no/atc",
        "http://www.whocc.no/atc_ddd_index",
        "http://fhir.de/CodeSystem/bfarm/atc",
        "http://fhir.de/CodeSystem/dimdi/atc",
    ),
    NDC: ("urn:oid:2.16.840.1.113883.6.69", "http://hl7.org/fhir/sid/ndc/"),
    UCUM: ("urn:oid:2.16.840.1.113883.6.8", "http://unitsofmeasure.org/"),
}

SYSTEM_ALIASES: dict[str, str] = {}
for _canonical, _spellings in _ALIASES.items():
    SYSTEM_ALIASES[_canonical] = _canonical
    for _s in _spellings:
        SYSTEM_ALIASES[_s] = _canonical
        SYSTEM_ALIASES[_s.lower()] = _canonical
del _canonical, _spellings, _s


def canonical(system: str | None) -> str | None:
    """The canonical URI of a code system as sent on the wire, or None when it is not one we know."""
    if not system:
        return None
    s = system.strip()
    hit = SYSTEM_ALIASES.get(s)
    if hit is None:
        hit = SYSTEM_ALIASES.get(s.lower())
    return hit


def canonical_or_self(system: str | None) -> str | None:
    """Like `canonical`, but an unknown system (a site's local code system) is kept as sent (stripped)."""
    if not system:
        return None
    return canonical(system) or system.strip()


_ICD_MARKS = str.maketrans("", "", ".*\u2020+! ")


def normalise_code(system: str | None, code: str) -> str:
    """Codes as compared: ICD-10 of any flavour upper case, without dots, dagger/asterisk/exclamation marks
    (WHO and GM write `I98.2*`, `K74.6†`, `U69.40!`) or spaces; others stripped."""
    if system in ICD10_FAMILY:
        return code.strip().upper().translate(_ICD_MARKS)
    return code.strip()


# Short names people type on a command line (`terminology explain atc|N02AA05`); never read from the wire.
SHORT_NAMES: dict[str, str] = {
    "rxnorm": RXNORM, "snomed": SNOMED, "sct": SNOMED, "icd10cm": ICD10CM, "icd-10-cm": ICD10CM, "icd10": ICD10,
    "icd-10": ICD10, "icd10who": ICD10, "icd10gm": ICD10GM, "icd-10-gm": ICD10GM, "loinc": LOINC, "atc": ATC,
    "ndc": NDC,
}


def from_command_line(system: str) -> str:
    """A system typed by a person: a short name, a URI or an OID (unknown ones are kept as typed)."""
    s = system.strip()
    return SHORT_NAMES.get(s.lower()) or canonical_or_self(s) or s
