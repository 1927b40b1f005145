"""FHIR R4 resource builders shared by the fixture generators (scripts/), the tests and the benchmarks.

One set, so that a fixture, a rule test and a benchmark chart spell a MedicationRequest the same way and a
code system is written once. A tool, not part of the service: `cds_service` never imports it (import-linter
contract in `.importlinter`); it may import the service's own constants (`cds_service.terminology.systems`).

    systems    code-system URIs (the service's canonical ones plus the HL7 status/category systems)
    dates      the fixed reference day (2026-11-25) and dates counted back from it: never the wall clock
    codes      the code lists the builders use, read from the CSV tables in `codes/` (with their sources)
    resources  one function a resource type, plus the data types (Coding, CodeableConcept, Quantity, Dosage)
    charts     pieces of chart several scenarios share (an alcohol-dependence record, a naltrexone draft...)
"""
