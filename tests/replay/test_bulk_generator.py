"""The synthetic export (`python -m benchmarks.bulk`): deterministic by seed, shaped like a real export."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import orjson

from benchmarks.bulk import generate, scenarios
from cds_service.replay.evaluate import ReplayJob, checks_order


def _bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a", 300, seed=3, observations=6)
    generate(tmp_path / "b", 300, seed=3, observations=6)
    generate(tmp_path / "c", 300, seed=4, observations=6)
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    assert _bytes(tmp_path / "a") != _bytes(tmp_path / "c")


def test_shape_of_the_export(tmp_path: Path) -> None:
    manifest = generate(tmp_path, 1000, seed=5, observations=20)
    counts = {o["type"]: o["count"] for o in manifest["output"]}
    listed = json.loads((tmp_path / "manifest.json").read_text())
    assert {o["url"].rsplit("/", 1)[-1] for o in listed["output"]} == {p.name for p in tmp_path.glob("*.ndjson")}
    fixtures = scenarios()
    assert counts["Patient"] == 1000 + len(fixtures)
    assert counts["Observation"] > 10 * counts["Patient"]  # the big file, as in a real export
    by_size = sorted(tmp_path.glob("*.ndjson"), key=lambda p: p.stat().st_size)
    assert by_size[-1].name == "Observation.ndjson"
    # a few percent of the generated patients have an order a pack checks; most have none
    job = ReplayJob(None, None, "k")
    medications = {m["id"]: m for m in map(orjson.loads, (tmp_path / "Medication.ndjson").read_bytes().splitlines())}
    checked = Counter()
    for line in (tmp_path / "MedicationRequest.ndjson").read_bytes().splitlines():
        order = orjson.loads(line)
        patient = order["subject"]["reference"].removeprefix("Patient/")
        if patient.startswith("gen") and checks_order(order, medications, job):
            checked[patient] += 1
    assert 30 <= len(checked) <= 150  # 3% naltrexone + 5% opioid orders of 1,000 patients, give or take
    # every fixture scenario is in it, with its order now signed
    ids = {orjson.loads(line)["id"] for line in (tmp_path / "MedicationRequest.ndjson").read_bytes().splitlines()}
    assert all(ref.removeprefix("MedicationRequest/") in ids for s in fixtures for ref in s.orders)
    assert counts.get("MedicationAdministration", 0) > 0
