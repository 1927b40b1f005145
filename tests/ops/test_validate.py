"""`python -m cds_service validate`: FHIR R4 (fhir.resources R4B, strict) and the CDS Hooks request rules,
each problem with its JSON path."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from cds_service.validate import Problem, validate_document, validate_file
from tests.conftest import FIXTURES, load_fixture
from tests.ops.test_cli import run

GOOD = ["cirrhosis-active", "oxycodone-active", "opioid-stopped-3-days"]


@pytest.mark.parametrize("scenario", GOOD)
def test_fixtures_are_valid(scenario: str) -> None:
    for name in ("bundle.json", "order-sign.json", "order-select.json"):
        kind, problems = validate_file(FIXTURES / scenario / name)
        assert problems == [], (scenario, name, problems)
        expected = "a FHIR Bundle with " if name == "bundle.json" else f"a CDS Hooks {name[:-5]} request"
        assert kind.startswith(expected), kind


def test_every_patient_bundle_is_valid_fhir() -> None:
    found = {p.parent.name: validate_file(p)[1] for p in sorted(FIXTURES.glob("*/bundle.json"))}
    assert len(found) > 20
    assert {name: problems for name, problems in found.items() if problems} == {}


def test_bundle_problems_with_their_paths() -> None:
    bundle = copy.deepcopy(load_fixture("cirrhosis-active", "bundle.json"))
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    condition = kinds.index("Condition")
    bundle["entry"][condition]["resource"]["onsetDateTime"] = "25/11/2026"
    bundle["entry"][condition]["resource"]["status"] = "active"  # R4 Condition has clinicalStatus, not status
    bundle["entry"][0]["resource"]["birthDate"] = 19700101
    problems = validate_document(bundle)
    paths = sorted(p.path for p in problems)
    assert paths == sorted([f"$.entry[{condition}].resource.onsetDateTime", f"$.entry[{condition}].resource.status",
                            "$.entry[0].resource.birthDate"]), problems
    assert any("unknown element" in p.message for p in problems)


def test_not_a_resource() -> None:
    assert validate_document({"resourceType": "Patientt"}) == [
        Problem("$.resourceType", "'Patientt' is not a FHIR R4 resource type")]
    assert validate_document([1]) == [Problem("$", "neither a CDS Hooks request (no 'hook') nor a FHIR resource "
                                              "(no 'resourceType')")]


def test_hook_request_problems_are_all_reported() -> None:
    request = copy.deepcopy(load_fixture("cirrhosis-active", "order-sign.json"))
    del request["hookInstance"]
    request["prefetch"]["conditions"]["entry"][0]["resource"]["onsetDateTime"] = "yesterday"
    paths = [p.path for p in validate_document(request)]
    assert paths == ["$.hookInstance", "$.prefetch.conditions.entry[0].resource.onsetDateTime"]


def test_hook_request_service_rules() -> None:
    request = copy.deepcopy(load_fixture("cirrhosis-active", "order-sign.json"))
    request["context"]["draftOrders"] = {"resourceType": "Parameters"}
    problems = validate_document(request)
    assert problems[0] == Problem("$.context.draftOrders",
                                  "`context.draftOrders` must be a FHIR Bundle (resourceType 'Bundle').")
    request["hook"] = "patient-view"
    assert Problem("$.hook", "no service of this project answers the 'patient-view' hook") in validate_document(
        request)


def test_cli_exit_codes_and_output(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    bundle = load_fixture("cirrhosis-active", "bundle.json")
    bundle["entry"][0]["resource"]["gender"] = ["male"]
    broken.write_text(json.dumps(bundle))
    not_json = tmp_path / "notjson.json"
    not_json.write_text("{\n  \"resourceType\": \n")
    good = FIXTURES / "cirrhosis-active" / "bundle.json"
    done = run("validate", str(good), str(broken), str(not_json))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{good}: a FHIR Bundle with {len(bundle['entry'])} entries: valid"
    assert lines[1] == f"{broken}: a FHIR Bundle with {len(bundle['entry'])} entries: 1 problem(s)"
    assert lines[2].startswith("  $.entry[0].resource.gender: ")
    assert lines[3] == f"{not_json}: not JSON: 1 problem(s)"
    assert lines[4].startswith("  $: not JSON: Expecting value at line 3")
    assert run("validate", str(good)).returncode == 0
