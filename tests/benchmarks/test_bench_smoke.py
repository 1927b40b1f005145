"""The benchmark's generators and the pipeline on each generated size, once (no timing assertions).

Proves the benchmark measures real work: the typical patient makes the naltrexone rules fire, the bigger
ones are read the same way, the unrelated order stays silent, and the same seed gives the same bytes.
"""

from __future__ import annotations

import asyncio
from datetime import date

import orjson
import pytest

from benchmarks import patients
from cds_service.pipeline import Pipeline
from cds_service.rules.registry import default_packs
from cds_service.settings import Settings

# the typical chart: an active oxycodone prescription, a positive urine opiate screen 5 days ago and an
# ALT/AST at 4x the upper limit 6 days ago
EXPECTED_RULES = {"opioid-concurrent", "urine-screen-positive", "liver-enzymes"}
SIZES = {"typical": (140, 160), "heavy": (1_900, 2_100), "extreme": (20_000, 21_000)}


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    settings = Settings(auth_mode="off", today=date(2026, 11, 25), database_url="sqlite://", log_level="WARNING")
    return Pipeline(settings, default_packs())


def run(pipeline: Pipeline, request: dict) -> set[str]:
    data = orjson.loads(patients.request_bytes(request))  # exactly what the server would parse
    outcome = asyncio.run(pipeline.run("naltrexone-order-sign", data))
    return {c["source"]["topic"]["code"] for c in outcome.response["cards"]}


@pytest.mark.parametrize("name", ["typical", "heavy", "extreme"])
def test_generated_patient(pipeline: Pipeline, name: str) -> None:
    request = patients.order_sign(name)
    low, high = SIZES[name]
    assert low <= patients.resource_count(request) <= high
    assert set(request["prefetch"]) == {"patient", "conditions", "medicationRequests", "medicationStatements",
                                        "medicationDispenses",
                                        "medicationAdministrations", "liverTests", "urineDrugScreens", "allergies"}
    if name == "extreme":
        observations = [e["resource"] for e in request["prefetch"]["liverTests"]["entry"]]
        assert len(observations) >= 20_000
    assert run(pipeline, request) >= EXPECTED_RULES


def test_unrelated_order_is_silent(pipeline: Pipeline) -> None:
    assert run(pipeline, patients.order_sign("typical", unrelated=True)) == set()


@pytest.mark.parametrize("name", ["typical", "heavy"])
def test_deterministic(name: str) -> None:
    first = patients.request_bytes(patients.order_sign(name))
    assert first == patients.request_bytes(patients.order_sign(name))
    assert first != patients.request_bytes(patients.order_sign(name, seed=patients.SEED + 1))


def test_transaction_bundle_matches_prefetch() -> None:
    tx = patients.transaction_bundle("typical")
    assert tx["type"] == "transaction"
    assert len(tx["entry"]) == patients.resource_count(patients.order_sign("typical"))
    assert all(e["request"]["method"] == "PUT" for e in tx["entry"])
    no_prefetch = patients.order_sign("typical", with_prefetch=False)
    assert "prefetch" not in no_prefetch
