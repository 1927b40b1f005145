#!/usr/bin/env python3
"""Build `fhir_fixtures/clients/{epic,oracle,sandbox}/<scenario>/` from the generic scenarios.

Each client fixture is a generic scenario's order-sign and order-select requests re-shaped the way that
client's public documentation says it sends them, and the cards expected under that client's profile: the
same rule ids and indicators as the generic twin (the rules must not care who asks), with the topic code
the client receives. The service never reads these files; the tests do (`tests/profiles/test_clients.py`).

Deterministic: running it twice gives byte-identical files.

Run:  .venv/bin/python scripts/build_client_fixtures.py
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fhir_fixtures"
OUT = FIXTURES / "clients"
GENERIC_BASE = "http://127.0.0.1:8091/fhir"

# the generic scenarios each client gets (at least eight; every one without an unresolvable reference)
SCENARIOS = (
    "oxycodone-active", "opioid-stopped-3-days", "buprenorphine-ended-9-days", "alt-6x-uln", "cirrhosis-active",
    "urine-positive", "naltrexone-allergy", "age-17", "ldn-ms", "opioid-order-on-oral-naltrexone",
    "silent-aud-adult", "unrelated-order",
)

OIDS = {
    "http://www.nlm.nih.gov/research/umls/rxnorm": "urn:oid:2.16.840.1.113883.6.88",
    "http://hl7.org/fhir/sid/ndc": "urn:oid:2.16.840.1.113883.6.69",
    "http://hl7.org/fhir/sid/icd-10-cm": "urn:oid:2.16.840.1.113883.6.90",
    "http://snomed.info/sct": "urn:oid:2.16.840.1.113883.6.96",
    "http://loinc.org": "urn:oid:2.16.840.1.113883.6.1",
}
OLD_CATEGORY_SYSTEM = "http://hl7.org/fhir/medication-request-category"  # STU3 spelling, still sent
NO_RESULTS = {"resourceType": "OperationOutcome", "issue": [{
    "severity": "warning", "code": "processing",
    "details": {"coding": [{"system": "urn:oid:1.2.840.114350.1.13.0.1.7.2.657369", "code": "4101",
                            "display": "Resource request returns no results."}],
                "text": "Resource request returns no results."}}]}

DOCUMENTS = {
    "epic": "Epic on FHIR, CDS Hooks documentation (https://fhir.epic.com/Documentation?docId=cds-hooks): "
            "request, prefetch, draftOrders with Medication entries (Feb 2024), OID code systems, searchset "
            "OperationOutcome for no results, the com.epic.cdshooks.request extension, fhirAuthorization",
    "oracle": "Oracle Health CDS Hooks documentation (https://fhir.cerner.com/millennium/cds-hooks/, beta): "
              "fhirServer per tenant, fhirAuthorization with patient and SMART scopes, Millennium code sets "
              "sent beside the standard codings (https://fhir.cerner.com/millennium/r4/ code sets)",
    "sandbox": "cds-hooks/sandbox (commit 3b7e255): the Rx Sign / Rx View requests it built against this "
               "service in a browser: draftOrders without Bundle.type, category as an object, `{pill}` dose "
               "units, fhirServer of its open FHIR server without fhirAuthorization",
}


def _walk(value: Any, fn: Callable[[dict], None]) -> None:
    if isinstance(value, dict):
        fn(value)
        for v in value.values():
            _walk(v, fn)
    elif isinstance(value, list):
        for v in value:
            _walk(v, fn)


def _draft_bundle(request: dict) -> dict:
    return request["context"]["draftOrders"]


# -------------------------------------------------------------------------------------------------- Epic
EPIC_BASE = "https://fhir.example-health.org/api/FHIR/R4"


def epic(request: dict, scenario: str, hook: str) -> dict:
    r = copy.deepcopy(request)
    text = json.dumps(r).replace(GENERIC_BASE, EPIC_BASE)
    r = json.loads(text)

    def to_oid_and_absolute(node: dict) -> None:
        system = node.get("system")
        if isinstance(system, str) and system in OIDS and "code" in node:
            node["system"] = OIDS[system]
        ref = node.get("reference")
        if isinstance(ref, str) and re.fullmatch(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-.]+", ref):
            node["reference"] = f"{EPIC_BASE}/{ref}"

    _walk(r["context"]["draftOrders"], to_oid_and_absolute)
    _walk(r.get("prefetch", {}), to_oid_and_absolute)
    r["context"]["userId"] = "PractitionerRole/epic-role-8675309"
    r["fhirServer"] = EPIC_BASE
    r["fhirAuthorization"] = {"access_token": "epic-access-token-not-a-secret", "token_type": "Bearer",
                              "expires_in": 300, "scope": "Patient.Read MedicationRequest.Read Observation.Read "
                              "Condition.Read AllergyIntolerance.Read", "subject": "cds-naltrexone-client",
                              "patient": r["context"]["patientId"]}
    r["extension"] = {
        "com.epic.cdshooks.request.bpa-trigger-action": "Signing orders" if hook == "order-sign" else "Selecting",
        "com.epic.cdshooks.request.cds-hooks-specification-version": "1.0",
        "com.epic.cdshooks.request.fhir-version": "R4",
        "com.epic.cdshooks.request.criteria-id": "1400045",
        "com.epic.cdshooks.request.important-for-testing": False,
    }
    # draftOrders: each medication order names an extra Medication entry (no contained, no concept)
    bundle = _draft_bundle(r)
    entries = bundle.get("entry", [])
    meds = []
    for n, entry in enumerate(entries):
        order = entry.get("resource", {})
        if order.get("resourceType") != "MedicationRequest":
            continue
        if isinstance(order.get("category"), list) and order["category"]:
            first = copy.deepcopy(order["category"][0])
            for c in first.get("coding", []):
                c["system"] = OLD_CATEGORY_SYSTEM
            order["category"] = first  # a lone object, older system URL
        concept = order.pop("medicationCodeableConcept", None)
        if concept is None:
            continue
        med_id = f"epic-med-{n + 1}-{order['id']}"[:64]
        order["medicationReference"] = {"reference": f"{EPIC_BASE}/Medication/{med_id}",
                                        "display": concept.get("text", "")}
        medication = {"resourceType": "Medication", "id": med_id, "code": concept}
        meds.append({"fullUrl": f"{EPIC_BASE}/Medication/{med_id}", "resource": medication})
    bundle["entry"] = entries + meds
    # empty searches: total 0 and Epic's "no results" OperationOutcome entry
    for value in r.get("prefetch", {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle" and not value.get("entry"):
            value["total"] = 0
            value["entry"] = [{"resource": NO_RESULTS, "search": {"mode": "outcome"}}]
    # order-sign: Epic may also send orders signed earlier in the session; the naltrexone one is "active"
    if hook == "order-sign" and scenario in {"oxycodone-active", "alt-6x-uln"}:
        for entry in entries:
            if entry.get("resource", {}).get("resourceType") == "MedicationRequest":
                entry["resource"]["status"] = "active"
    return r


# ------------------------------------------------------------------------------------------ Oracle Health
ORACLE_BASE = "https://fhir-ehr.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d"


def oracle(request: dict, scenario: str, hook: str) -> dict:
    r = json.loads(json.dumps(request).replace(GENERIC_BASE, ORACLE_BASE))
    r["fhirServer"] = ORACLE_BASE
    r["fhirAuthorization"] = {"access_token": "oracle-access-token-not-a-secret", "token_type": "Bearer",
                              "expires_in": 570, "scope": "patient/Patient.read patient/Condition.read "
                              "patient/MedicationRequest.read patient/Observation.read "
                              "patient/AllergyIntolerance.read", "subject": "cds-naltrexone",
                              "patient": r["context"]["patientId"]}

    def add_code_set(node: dict) -> None:
        # Millennium sends its own code set coding first, beside the standard one
        coding = node.get("coding")
        if isinstance(coding, list) and coding and isinstance(coding[0], dict) and "code" in coding[0] \
                and coding[0].get("system") in {"http://loinc.org", "http://snomed.info/sct",
                                                "http://hl7.org/fhir/sid/icd-10-cm"}:
            code_set = {"http://loinc.org": "72", "http://snomed.info/sct": "400",
                        "http://hl7.org/fhir/sid/icd-10-cm": "400"}[coding[0]["system"]]
            node["coding"] = [{"system": f"https://fhir.cerner.com/ec2458f2-1e24-41c8-b71b-0e701af7583d/"
                                         f"codeSet/{code_set}", "code": str(2000 + len(coding[0]["code"])),
                               "userSelected": True}, *coding]

    _walk(r.get("prefetch", {}), add_code_set)
    return r


# ------------------------------------------------------------------------------------------------ Sandbox
SANDBOX_BASE = "https://launch.smarthealthit.org/v/r4/fhir"


def sandbox(request: dict, scenario: str, hook: str) -> dict:
    r = json.loads(json.dumps(request).replace(GENERIC_BASE, SANDBOX_BASE))
    r["fhirServer"] = SANDBOX_BASE
    r.pop("fhirAuthorization", None)  # its FHIR server is open
    bundle = _draft_bundle(r)
    bundle.pop("type", None)
    bundle.pop("id", None)
    for entry in bundle.get("entry", []):
        order = entry.get("resource", {})
        if order.get("resourceType") != "MedicationRequest":
            continue
        if isinstance(order.get("category"), list) and order["category"]:
            order["category"] = order["category"][0]
        for dosage in order.get("dosageInstruction", []):
            for dr in dosage.get("doseAndRate", []):
                q = dr.get("doseQuantity")
                if isinstance(q, dict) and q.get("code") in {"{tbl}", "{tablet}", "{capsule}"}:
                    q.update({"unit": "{pill}", "code": "{pill}"})
        entry.pop("fullUrl", None)
    return r


SHAPERS = {"epic": epic, "oracle": oracle, "sandbox": sandbox}


def topic_code(client: str, rule_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", rule_id) if client == "epic" else rule_id


def build() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    for client, shape in SHAPERS.items():
        index = []
        for scenario in SCENARIOS:
            src = FIXTURES / scenario
            twin = json.loads((src / "expected.json").read_text())
            dest = OUT / client / scenario
            dest.mkdir(parents=True)
            expected: dict[str, Any] = {"twin": scenario, "profile": client, "document": DOCUMENTS[client],
                                        "description": twin.get("description", ""), "today": twin.get("today")}
            for hook in ("order-sign", "order-select"):
                request = json.loads((src / f"{hook}.json").read_text())
                (dest / f"{hook}.json").write_text(json.dumps(shape(request, scenario, hook), indent=1) + "\n")
                expected[hook] = {"cards": [{"rule": c["rule"], "indicator": c["indicator"],
                                             "topic_code": topic_code(client, c["rule"])}
                                            for c in twin[hook]["cards"]],
                                  "absent_rules": twin[hook].get("absent_rules", [])}
            (dest / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
            index.append(scenario)
        (OUT / client / "index.json").write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    build()
