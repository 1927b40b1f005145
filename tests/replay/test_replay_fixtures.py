"""Replay of the fixture scenarios as a Bulk Data export: for each scenario's order, the cards the hook gives.

The export holds what each scenario's order-sign prefetch held, and its draft orders as signed orders. The
hook side is a real order-sign call over HTTP to the app (`CDS_TODAY` = the fixtures' day); the replay side
is `python -m cds_service replay`'s function on the export, as of each order's `authoredOn`.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest

from benchmarks.bulk import write_scenarios
from cds_service.replay.run import replay
from cds_service.store import Store
from tests.conftest import Client, load_fixture

HASH_KEY = "replay-test-key"


def _cards(out: Path) -> list[dict]:
    return [orjson.loads(line) for line in (out / "cards.ndjson").read_bytes().splitlines()]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[list, Path, dict]:
    export = tmp_path_factory.mktemp("export")
    scenarios = write_scenarios(export)
    out = tmp_path_factory.mktemp("out")
    summary = replay(export, out, hash_key=HASH_KEY, show_progress=False)
    return scenarios, out, summary


def test_every_scenario_order_gets_the_cards_of_the_hook(client: Client, replayed: tuple[list, Path, dict]) -> None:
    scenarios, out, summary = replayed
    cards = _cards(out)
    compared = 0
    for scenario in scenarios:
        hook = client.hook(load_fixture(scenario.name, "order-sign.json"))
        assert hook.status_code == 200, (scenario.name, hook.text)
        expected = sorted((c["source"]["topic"]["code"], c["indicator"], c["summary"]) for c in hook.json()["cards"])
        got = sorted((c["rule"], c["indicator"], c["summary"]) for c in cards if c["order"] in scenario.orders)
        assert got == expected, scenario.name
        compared += bool(expected)
    assert compared >= 35  # most scenarios have cards (unrelated-order and the all-clear ones have none)
    # the unrelated order is not one a pack checks: not replayed at all
    assert "MedicationRequest/unrel-atorvastatin-draft" not in {c["order"] for c in cards}
    assert "MedicationRequest/unrel-atorvastatin-draft" not in summary["orders_without_cards"]


def test_cards_name_the_patient_by_the_ledgers_keyed_hash(replayed: tuple[list, Path, dict]) -> None:
    _scenarios, out, _summary = replayed
    with Store("sqlite://", HASH_KEY) as store:
        expected = store.patient_hash("pt-cirrhosis-active")
    cirrhosis = [c for c in _cards(out) if c["order"] == "MedicationRequest/cirr-nal-draft"]
    assert cirrhosis and {c["patient"] for c in cirrhosis} == {expected}
    assert set(cirrhosis[0]) == {"order", "rule", "indicator", "summary", "patient"}  # the public contract
    assert "pt-cirrhosis-active" not in (out / "cards.ndjson").read_text()


def test_summary_numbers(replayed: tuple[list, Path, dict]) -> None:
    scenarios, out, summary = replayed
    cards = _cards(out)
    assert json.loads((out / "summary.json").read_text())["orders_replayed"] == summary["orders_replayed"]
    # every checked order of every scenario (drafts and the checked orders in their histories)
    assert summary["orders_replayed"] >= len(scenarios) - 1
    assert summary["cards"] == len(cards)
    assert sum(r["cards"] for r in summary["cards_per_rule"].values()) == len(cards)
    washout = summary["cards_per_rule"]["opioid-washout"]
    assert washout["cards"] == sum(c["rule"] == "opioid-washout" for c in cards)
    orders_with = len({c["order"] for c in cards if c["rule"] == "opioid-washout"})
    assert washout["per_100_orders"] == round(100 * orders_with / summary["orders_replayed"], 2)
    assert sum(m["orders"] for m in summary["per_month"]) == summary["orders_replayed"]
    with_cards = {c["order"] for c in cards}
    assert len(with_cards) + len(summary["orders_without_cards"]) + len(summary["orders_refused"]) \
        == summary["orders_replayed"]
    assert not set(summary["orders_without_cards"]) & with_cards
    # the scenario with no liver tests at all is counted as missing that category
    assert summary["data_missing"]["none_for_patient"]["liver tests (ALT, AST)"] >= 1
    assert summary["malformed_lines"]["count"] == 0


def test_html_report_is_offline_with_charts(replayed: tuple[list, Path, dict]) -> None:
    _scenarios, out, _summary = replayed
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 4  # rate over time, indicator mix, two evidence-pattern charts
    assert "<script" not in html and "<link" not in html and "src=" not in html  # nothing fetched
    assert "opioid-washout" in html and "Firing rate per rule over time" in html


def test_gzip_export_gives_the_same_cards(tmp_path: Path, replayed: tuple[list, Path, dict]) -> None:
    _scenarios, out, _summary = replayed
    export = tmp_path / "gz"
    write_scenarios(export, gz=True)
    assert all(p.name.endswith(".ndjson.gz") for p in export.glob("*.ndjson*"))
    with gzip.open(next(export.glob("Patient.ndjson.gz")), "rb") as f:
        assert f.readline().startswith(b'{"resourceType":"Patient"')
    replay(export, tmp_path / "out", hash_key=HASH_KEY, show_progress=False)
    assert (tmp_path / "out" / "cards.ndjson").read_bytes() == (out / "cards.ndjson").read_bytes()
