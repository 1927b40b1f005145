"""Silent mode through HTTP, on SQLite and on PostgreSQL: silent rules run, their cards go to the ledger
marked silent, never reach a response, and analytics count them next to the shown ones per day and per
100 hook calls. Switching a rule back to shown is a setting, not a migration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from cds_service.app import create_app
from cds_service.settings import Settings
from cds_service.store import Store
from tests.conftest import Client, make_settings
from tests.store.app_helpers import ADMIN_TOKEN, SELECT, SIGN, accept, body, by_rule, engine, hook_request, override
from tests.store.helpers import issue, make_card

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# the four cards of this scenario's order-sign (fhir_fixtures/opioid-stopped-3-days/expected.json)
STOPPED = {"opioid-washout": "critical", "urine-screen-needed": "warning", "overdose-risk": "warning",
           "liver-tests-missing": "info"}


@pytest.fixture
def make_client(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Client]]:
    opened: list[TestClient] = []

    def factory(**overrides: object) -> Client:
        settings = make_settings(tmp_path, **{"database_url": db_url, "admin_token": ADMIN_TOKEN, **overrides})
        http = TestClient(create_app(settings))
        http.__enter__()
        opened.append(http)
        return Client(http)

    yield factory
    for http in opened:
        http.__exit__(None, None, None)


def ledger(db_url: str) -> dict[str, list[tuple[str, bool]]]:
    """hook_instance -> [(rule id, silent)] of every card row, read from the database itself."""
    eng = engine(db_url)
    try:
        with eng.connect() as conn:
            rows = conn.execute(text("SELECT hook_instance, rule_id, silent FROM issued_card "
                                     "ORDER BY hook_instance, rule_id")).all()
    finally:
        eng.dispose()
    out: dict[str, list[tuple[str, bool]]] = {}
    for instance, rule, silent in rows:
        out.setdefault(instance, []).append((rule, bool(silent)))
    return out


def analytics(client: Client) -> dict:
    response = client.get("/analytics/rules", headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def test_silent_rules_are_left_out_of_the_response_and_kept_in_the_ledger(
        make_client: Callable[..., Client], db_url: str) -> None:
    client = make_client(silent_rules=["opioid-washout", "overdose-risk"])
    request = hook_request("opioid-stopped-3-days")
    response = client.hook(request)
    assert response.status_code == 200, response.text
    shown = {c["source"]["topic"]["code"]: c["indicator"] for c in response.json()["cards"]}
    assert shown == {"urine-screen-needed": "warning", "liver-tests-missing": "info"}
    assert ledger(db_url) == {request["hookInstance"]: [
        ("liver-tests-missing", False), ("opioid-washout", True), ("overdose-risk", True),
        ("urine-screen-needed", False)]}

    rules = {r["rule_id"]: r for r in analytics(client)["rules"]}
    assert {rule: (r["issued"], r["silent"]) for rule, r in rules.items()} == {
        "opioid-washout": (0, 1), "overdose-risk": (0, 1), "urine-screen-needed": (1, 0),
        "liver-tests-missing": (1, 0)}
    washout = rules["opioid-washout"]
    assert (washout["hook_calls"], washout["shown_per_100_calls"], washout["silent_per_100_calls"]) == (1, 0.0, 100.0)
    assert [(d["issued"], d["silent"], d["hook_calls"]) for d in washout["daily"]] == [(0, 1, 1)]
    assert washout["suggestions"] == []  # a silent card's suggestions were never offered


@pytest.mark.parametrize("profile", ["generic", "sandbox", "epic", "oracle"])
def test_no_client_profile_lets_a_silent_card_through(make_client: Callable[..., Client], db_url: str,
                                                       profile: str) -> None:
    """Whatever shape a profile gives the response, the silent rules' cards are not in it: the response
    holds exactly the ledger's shown cards (by uuid), and the silent ones are counted under their rule id."""
    client = make_client(silent_rules=["opioid-washout", "overdose-risk"], client_profile=profile)
    request = hook_request("opioid-stopped-3-days")
    response = client.hook(request)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    eng = engine(db_url)
    try:
        with eng.connect() as conn:
            rows = conn.execute(text("SELECT card_uuid, rule_id, silent, summary FROM issued_card "
                                     "WHERE hook_instance = :h"), {"h": request["hookInstance"]}).all()
    finally:
        eng.dispose()
    shown = {uuid for uuid, _rule, silent, _summary in rows if not silent}
    assert sorted(rule for _uuid, rule, silent, _s in rows if silent) == ["opioid-washout", "overdose-risk"]
    assert sorted(rule for _uuid, rule, silent, _s in rows if not silent) == ["liver-tests-missing",
                                                                              "urine-screen-needed"]
    assert {c["uuid"] for c in cards} == shown and len(cards) == 2
    silent_summaries = [summary for _uuid, _rule, silent, summary in rows if silent]
    assert len(silent_summaries) == 2
    assert not [x for x in silent_summaries if x[:40] in response.text]  # no trace of either silent card
    rules = {r["rule_id"]: r for r in analytics(client)["rules"]}
    assert {rule: (r["issued"], r["silent"]) for rule, r in rules.items()} == {
        "opioid-washout": (0, 1), "overdose-risk": (0, 1), "urine-screen-needed": (1, 0),
        "liver-tests-missing": (1, 0)}


def test_silent_card_cannot_get_feedback(make_client: Callable[..., Client], db_url: str) -> None:
    client = make_client(silent_rules=["opioid-washout"])
    client.hook(hook_request("opioid-stopped-3-days"))
    eng = engine(db_url)
    with eng.connect() as conn:
        silent_uuid = conn.execute(text("SELECT card_uuid FROM issued_card WHERE silent = :s"),
                                   {"s": True}).scalar_one()
    eng.dispose()
    refused = client.post(f"/cds-services/{SIGN}/feedback", json=body(override(silent_uuid, "benefit-outweighs-risk")))
    assert refused.status_code == 400
    assert "unknown card" in refused.json()["issue"][0]["diagnostics"]


def test_all_and_per_service_switch(make_client: Callable[..., Client], db_url: str) -> None:
    # every rule of every service
    everything = make_client(silent_rules=["all"])
    assert everything.hook(hook_request("opioid-stopped-3-days")).json() == {"cards": []}
    assert everything.hook(hook_request("opioid-stopped-3-days", "order-select")).json() == {"cards": []}
    # one service silent, the other shown
    per_service = make_client(silent_services=[SELECT])
    select_call = hook_request("opioid-stopped-3-days", "order-select")
    assert per_service.hook(select_call).json() == {"cards": []}
    sign = per_service.hook(hook_request("opioid-stopped-3-days")).json()["cards"]
    assert {c["source"]["topic"]["code"]: c["indicator"] for c in sign} == STOPPED
    assert all(silent for _rule, silent in ledger(db_url)[select_call["hookInstance"]])

    rules = {r["rule_id"]: r for r in analytics(per_service)["rules"]}
    assert rules["opioid-washout"]["silent"] == 3 and rules["opioid-washout"]["issued"] == 1
    assert rules["opioid-washout"]["hook_calls"] == 4
    assert rules["opioid-washout"]["silent_per_100_calls"] == 75.0


def test_switching_silent_to_shown_needs_only_the_setting(make_client: Callable[..., Client], db_url: str) -> None:
    silent = make_client(silent_rules=["opioid-washout"])
    assert "opioid-washout" not in by_rule(silent.hook(hook_request("opioid-stopped-3-days")).json()["cards"])
    shown = make_client()  # same database, no silent setting: no migration ran or was needed
    cards = by_rule(shown.hook(hook_request("opioid-stopped-3-days")).json()["cards"])
    assert cards["opioid-washout"]["indicator"] == "critical"
    assert shown.post(f"/cds-services/{SIGN}/feedback", json=body(accept(cards["opioid-washout"]))).status_code == 200
    rules = {r["rule_id"]: r for r in analytics(shown)["rules"]}
    washout = rules["opioid-washout"]
    assert (washout["issued"], washout["silent"], washout["accepted"], washout["hook_calls"]) == (1, 1, 1, 2)
    assert (washout["shown_per_100_calls"], washout["silent_per_100_calls"]) == (50.0, 50.0)


def test_unrelated_orders_are_not_hook_calls_of_the_rules(make_client: Callable[..., Client]) -> None:
    client = make_client(silent_rules=["all"])
    assert client.hook(hook_request("unrelated-order")).json() == {"cards": []}
    data = analytics(client)
    assert data["rules"] == [] and data["hook_calls"] == 0


def test_hook_calls_per_day_and_window(store: Store) -> None:
    day1, day2 = datetime(2026, 11, 24, 23, 59, tzinfo=UTC), datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    issue(store, [make_card("opioid-washout"), replace(make_card("overdose-risk"), silent=True)], issued_at=day1)
    store.record_issued(service_id=SIGN, hook="order-sign", hook_instance="i2", patient_id="p", cards=[],
                        issued_at=day1, count_call=True)  # a call with no card still counts
    for _ in range(3):
        store.record_issued(service_id=SIGN, hook="order-sign", hook_instance="i3", patient_id="p",
                            cards=[replace(make_card("opioid-washout"), silent=True)], issued_at=day2,
                            count_call=True)
    assert store.hook_calls() == {"2026-11-24": 1, "2026-11-25": 3}  # `issue` does not count its call
    stats = {s.rule_id: s for s in store.analytics()}
    washout = stats["opioid-washout"]
    assert (washout.issued, washout.silent, washout.hook_calls) == (1, 3, 4)
    assert [(d.day.isoformat(), d.issued, d.silent, d.hook_calls) for d in washout.daily] == [
        ("2026-11-24", 1, 0, 1), ("2026-11-25", 0, 3, 3)]
    assert (washout.daily[1].silent_per_100_calls, washout.shown_per_100_calls) == (100.0, 25.0)
    assert (stats["overdose-risk"].issued, stats["overdose-risk"].silent) == (0, 1)
    # a window: calls by UTC day, cards by instant
    since = datetime(2026, 11, 25, tzinfo=UTC)
    assert store.hook_calls(since=since) == {"2026-11-25": 3}
    assert store.hook_calls(until=since) == {"2026-11-24": 1}
    assert store.hook_calls(until=since + timedelta(hours=1)) == {"2026-11-24": 1, "2026-11-25": 3}
    later = {s.rule_id: s for s in store.analytics(since=since)}
    assert set(later) == {"opioid-washout"}
    assert (later["opioid-washout"].silent, later["opioid-washout"].hook_calls) == (3, 3)
    # purge removes old counters with the old cards
    store.purge(since)
    assert store.hook_calls() == {"2026-11-25": 3}


def test_settings_parse_comma_lists() -> None:
    assert Settings(silent_rules="opioid-washout, overdose-risk").silent_rules == ["opioid-washout", "overdose-risk"]
    assert Settings(silent_rules='["all"]').is_silent("x", "anything")
    assert not Settings().is_silent(SIGN, "opioid-washout")
    assert Settings(silent_services=SIGN).is_silent(SIGN, "opioid-washout")
    assert not Settings(silent_services=SIGN).is_silent(SELECT, "opioid-washout")


def test_silent_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDS_SILENT_RULES", "opioid-washout,urine-screen-positive")
    monkeypatch.setenv("CDS_SILENT_SERVICES", SELECT)
    settings = Settings()
    assert settings.silent_rules == ["opioid-washout", "urine-screen-positive"]
    assert settings.silent_services == [SELECT]
