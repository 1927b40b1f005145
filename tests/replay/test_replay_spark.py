"""The Spark engine (pyspark, `local[2]`) and the embedded engine give identical outputs on a generated
export of 10,000 patients (plus the fixture scenarios). One SparkSession for the whole test session.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from benchmarks.bulk import generate
from cds_service.replay import spark as spark_engine
from cds_service.replay.run import replay

KEY = "spark-test-key"
PATIENTS = 10_000


@pytest.fixture(scope="session")
def spark_session():  # type: ignore[no-untyped-def]
    session = spark_engine.session("local[2]")
    yield session
    session.stop()
    spark_engine._SESSION = None


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bulk10k")
    # few unrelated Observations per patient: the test is about grouping and identity, not volume
    generate(path, PATIENTS, seed=11, observations=3)
    with (path / "Observation.ndjson").open("ab") as f:  # a malformed line both engines must name alike
        f.write(b'{"resourceType": "Observation", "id": "broken"\n')
    return path


def _without_timing(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("seconds", "engine")}


@pytest.mark.spark
def test_embedded_and_spark_give_identical_outputs(spark_session, export: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    embedded = replay(export, tmp_path / "embedded", hash_key=KEY, show_progress=False)
    spark = replay(export, tmp_path / "spark", engine="spark", hash_key=KEY, show_progress=False)
    cards = (tmp_path / "embedded" / "cards.ndjson").read_bytes()
    assert cards == (tmp_path / "spark" / "cards.ndjson").read_bytes()
    assert _without_timing(embedded) == _without_timing(spark)
    # and the run was not trivially empty
    assert embedded["patients_in_export"] >= PATIENTS
    assert embedded["orders_replayed"] >= 0.05 * PATIENTS
    lines = [orjson.loads(line) for line in cards.splitlines()]
    assert len(lines) == embedded["cards"] >= 500
    rules = {line["rule"] for line in lines}
    assert {"opioid-concurrent", "liver-enzymes", "naltrexone-blocks-opioid", "urine-screen-needed"} <= rules
    assert embedded["malformed_lines"]["count"] == 1
    last = len((export / "Observation.ndjson").read_bytes().splitlines())
    assert embedded["malformed_lines"]["first"][0].startswith(f"{export / 'Observation.ndjson'}:{last}: not valid JSON")
