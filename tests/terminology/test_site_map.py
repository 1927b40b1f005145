"""A site's ConceptMap (`CDS_SITE_CONCEPTMAP`): local codes classified; a malformed map stops start-up naming the
element; the audit lists a chart's unknown local codes and stops listing one once it is mapped."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cds_service.terminology import get_terminology
from cds_service.terminology.audit import audit
from cds_service.terminology.site_map import SiteMapError, load_site_map, parse_site_map
from tests.conftest import ROOT, Client, load_fixture, make_settings

EXAMPLE = ROOT / "docs" / "site-conceptmap.example.json"
HOUSE = "urn:oid:1.2.276.0.76.3.1.999.1"
LAB = "https://lab.hospital.example.org/tests"


@pytest.fixture(scope="module")
def mapped():
    base = get_terminology()
    return base.with_site_map(load_site_map(EXAMPLE, base))


def test_example_map_classifies_local_codes(mapped):
    p = mapped.medication([(HOUSE, "APO-88121", "OXY 5 TAB (Hausliste)")])
    assert [(i.name, set(i.classes)) for i in p.ingredients] == [("oxycodone", {"opioid", "opioid-full-agonist"})]
    p = mapped.medication([(HOUSE, "APO-55120", None)])
    assert [i.name for i in p.ingredients] == ["tilidine", "naloxone"]
    assert mapped.medication([(HOUSE, "APO-10007", None)]) is None  # reviewed: not relevant
    assert mapped.observation_classes(LAB, "GPT") == {"alt"}
    assert mapped.observation_classes(LAB, "GOT") == {"ast"}
    assert mapped.observation_classes(LAB, "UOPI") == {"urine-opioid-screen"}
    assert mapped.observation_classes(LAB, "K") == frozenset()
    assert mapped.condition_classes("https://hospital.example.org/problem-list", "LEB-ZIRR") == {
        "severe-liver-disease", "cirrhosis"}
    # the base terminology is untouched
    assert get_terminology().observation_classes(LAB, "GPT") == frozenset()
    assert "site ConceptMap" in mapped.explain(LAB, "GPT").how
    assert mapped.explain(HOUSE, "APO-10007").how.endswith("reviewed, not relevant to any rule")


def _map(**group_overrides: object) -> dict:
    group = {"source": "urn:local", "target": "http://loinc.org",
             "element": [{"code": "ALT1", "target": [{"code": "1742-6", "equivalence": "equivalent"}]}]}
    group.update(group_overrides)
    return {"resourceType": "ConceptMap", "status": "active", "group": [group]}


@pytest.mark.parametrize(("data", "where"), [
    ({"resourceType": "ValueSet"}, "resourceType"),
    ([], "resourceType"),
    ({"resourceType": "ConceptMap"}, "group"),
    ({"resourceType": "ConceptMap", "group": [5]}, "group[0]: not an object"),
    (_map(source=None), "group[0].source"),
    (_map(target="http://example.org/unknown"), "group[0].target"),
    (_map(element=[]), "group[0].element"),
    (_map(element=[{"target": [{"code": "1742-6", "equivalence": "equivalent"}]}]), "group[0].element[0].code"),
    (_map(element=[{"code": "A", "target": []}]), "group[0].element[0].target"),
    (_map(element=[{"code": "A", "target": [{"code": "1742-6", "equivalence": "same"}]}]),
     "group[0].element[0].target[0].equivalence"),
    (_map(element=[{"code": "A", "target": [{"equivalence": "equivalent"}]}]), "group[0].element[0].target[0].code"),
    (_map(element=[{"code": "A", "target": [{"code": "9999-9", "equivalence": "equivalent"}]}]),
     "group[0].element[0].target[0].code: http://loinc.org|9999-9 is not a code the pack classifies"),
])
def test_malformed_map_names_the_element(data, where):
    with pytest.raises(SiteMapError) as err:
        parse_site_map(data, get_terminology())
    assert str(err.value).startswith("CDS_SITE_CONCEPTMAP: ")
    assert where in str(err.value)


def test_unreadable_file_is_named(tmp_path: Path):
    with pytest.raises(SiteMapError, match=r"missing\.json: cannot be read"):
        load_site_map(tmp_path / "missing.json", get_terminology())
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SiteMapError, match=r"bad\.json: is not JSON"):
        load_site_map(bad, get_terminology())


def test_r5_relationship_is_accepted():
    data = _map(element=[{"code": "A", "target": [{"code": "1742-6", "relationship": "equivalent"}]}])
    assert parse_site_map(data, get_terminology()).target("urn:local", "A")[:2] == ("http://loinc.org", "1742-6")


def test_malformed_map_stops_start_up(tmp_path: Path):
    from cds_service.app import create_app

    bad = tmp_path / "map.json"
    bad.write_text(json.dumps(_map(target="urn:nope")))
    with pytest.raises(SystemExit) as err:
        create_app(make_settings(tmp_path, site_conceptmap=bad))
    assert "CDS_SITE_CONCEPTMAP: group[0].target" in str(err.value)


def test_malformed_map_stops_the_server_process(tmp_path: Path):
    bad = tmp_path / "map.json"
    bad.write_text(json.dumps(_map(element=[{"code": "A", "target": [{"code": "0-0", "equivalence": "equal"}]}])))
    env = {"PATH": "/usr/bin:/bin", "CDS_SITE_CONCEPTMAP": str(bad), "CDS_DATABASE_URL":
           f"sqlite:///{tmp_path / 'l.sqlite3'}", "CDS_AUTH_MODE": "off"}
    run = subprocess.run([sys.executable, "-m", "cds_service", "serve", "--port", "1"], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=120)
    assert run.returncode != 0
    assert "CDS_SITE_CONCEPTMAP: group[0].element[0].target[0].code: http://loinc.org|0-0" in run.stderr
    assert "Traceback" not in run.stderr


# ---- through HTTP: a local lab code and a local formulary code, with and without the map
def _local_alt_request() -> dict:
    request = copy.deepcopy(load_fixture("alt-6x-uln", "order-sign.json"))
    for entry in request["prefetch"]["liverTests"]["entry"]:
        code = entry["resource"]["code"]
        if code["coding"][0]["code"] == "1742-6":
            entry["resource"]["code"] = {"coding": [{"system": LAB, "code": "GPT", "display": "ALAT (GPT)"}],
                                         "text": "ALAT (GPT)"}
    return request


def _cards(client: Client, request: dict) -> set[tuple[str, str]]:
    response = client.hook(request)
    assert response.status_code == 200, response.text
    return {(c["source"]["topic"]["code"], c["indicator"]) for c in response.json()["cards"]}


@pytest.fixture
def mapped_client(tmp_path: Path):
    from fastapi.testclient import TestClient

    from cds_service.app import create_app

    with TestClient(create_app(make_settings(tmp_path, site_conceptmap=EXAMPLE))) as http:
        yield Client(http)


def test_local_lab_code_is_read_only_with_the_map(client: Client, mapped_client: Client):
    request = _local_alt_request()
    without = _cards(client, request)
    assert ("liver-enzymes", "critical") not in without  # the ALT 6x ULN is invisible without the map
    assert ("liver-enzymes", "critical") in _cards(mapped_client, request)


def test_local_formulary_code_is_read_only_with_the_map(client: Client, mapped_client: Client):
    request = copy.deepcopy(load_fixture("oxycodone-active", "order-sign.json"))
    for entry in request["prefetch"]["medicationRequests"]["entry"]:
        if entry["resource"]["resourceType"] == "Medication":
            entry["resource"]["code"] = {"coding": [{"system": HOUSE, "code": "APO-88121", "display": "OXY 5"}],
                                         "text": "OXY 5"}
            entry["resource"].pop("ingredient", None)
    assert ("opioid-concurrent", "critical") not in _cards(client, request)
    assert ("opioid-concurrent", "critical") in _cards(mapped_client, request)


# ---- audit: a chart full of unknown local codes
def _local_chart(tmp_path: Path) -> Path:
    def obs(i: int, code: str, display: str) -> dict:
        return {"resourceType": "Observation", "id": f"o{i}", "status": "final",
                "code": {"coding": [{"system": LAB, "code": code, "display": display}]},
                "subject": {"reference": "Patient/p"}, "effectiveDateTime": "2026-11-20",
                "valueQuantity": {"value": 30, "unit": "U/L"}}
    resources = [obs(i, "GPT", "ALAT (GPT)") for i in range(3)] + [obs(10 + i, "NA", "Natrium") for i in range(2)]
    resources += [{"resourceType": "MedicationStatement", "id": "m1", "status": "active",
                   "medicationCodeableConcept": {"coding": [{"system": HOUSE, "code": "APO-88121",
                                                             "display": "OXY 5"}]},
                   "subject": {"reference": "Patient/p"}},
                  {"resourceType": "MedicationStatement", "id": "m2", "status": "active",
                   "medicationCodeableConcept": {"coding": [{"system": HOUSE, "code": "APO-10007",
                                                             "display": "RAMI 5"}]},
                   "subject": {"reference": "Patient/p"}},
                  {"resourceType": "Condition", "id": "c1",
                   "code": {"coding": [{"system": "urn:local:dx", "code": "Z-77", "display": "Leberzirrhose"}]},
                   "subject": {"reference": "Patient/p"}}]
    folder = tmp_path / "export"
    folder.mkdir()
    by_type: dict[str, list[dict]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    for rtype, items in by_type.items():
        (folder / f"{rtype}.ndjson").write_text("\n".join(json.dumps(r) for r in items) + "\n")
    return folder


def test_audit_lists_unknown_local_codes_ranked(tmp_path: Path, mapped):
    folder = _local_chart(tmp_path)
    report = audit(folder, get_terminology()).as_json()
    assert [(r["code"], r["count"]) for r in report["unclassified"]] == [
        ("GPT", 3), ("NA", 2), ("APO-10007", 1), ("APO-88121", 1)]
    assert [(r["code"], r["note"]) for r in report["text_only"]] == [("Z-77", "recognised from the text")]
    # the site's map makes the local codes classified, and the reviewed one is listed apart
    report = audit(folder, mapped).as_json()
    assert [(r["code"], r["count"]) for r in report["unclassified"]] == [("NA", 2)]
    assert [r["code"] for r in report["reviewed"]] == ["APO-10007"]


def test_audit_cli_terminal_and_json(tmp_path: Path):
    folder = _local_chart(tmp_path)
    env = {"PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "cds_service", "terminology", "audit", str(folder), "--json"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=True)
    assert json.loads(run.stdout)["unclassified"][0] == {"kind": "observation", "system": LAB, "code": "GPT",
                                                         "display": "ALAT (GPT)", "count": 3}
    run = subprocess.run([sys.executable, "-m", "cds_service", "terminology", "audit", str(folder)],
                         capture_output=True, text=True, cwd=ROOT, env={**env, "CDS_SITE_CONCEPTMAP": str(EXAMPLE)},
                         timeout=120, check=True)
    assert "Unclassified (no rule can use them" in run.stdout
    assert f"2  observation {LAB}|NA  Natrium" in run.stdout
    assert "APO-88121" not in run.stdout
    bad = subprocess.run([sys.executable, "-m", "cds_service", "terminology", "audit", str(tmp_path / "nope")],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert bad.returncode == 2 and "no such file or directory" in bad.stderr and "Traceback" not in bad.stderr


def test_explain_cli(tmp_path: Path):
    env = {"PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "cds_service", "terminology", "explain", "atc|N02AX99", "--json"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=True)
    out = json.loads(run.stdout)
    assert out["classes"] == ["opioid", "opioid-full-agonist"]
    assert out["how"] == "ATC level N02A Opioids"
    assert out["sources"] == ["ATC/DDD Index N02A (any N02A code is an opioid analgesic)"]
    run = subprocess.run([sys.executable, "-m", "cds_service", "terminology", "explain", "icd10gm|B18.2"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=True)
    assert "(none: no rule reads it)" in run.stdout and "unknown" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "cds_service", "terminology", "explain", "N02AA05"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert bad.returncode == 2 and "SYSTEM|CODE" in bad.stderr
