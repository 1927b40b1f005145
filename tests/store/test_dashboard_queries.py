"""The dashboard's queries on SQLite and PostgreSQL: analytics by service, and per rule per UTC day."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

from cds_service.store import Store, daily_json, report_json
from tests.store.helpers import accepted, issue, make_card, overridden

DAY = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)


def test_analytics_filters_by_service(store: Store) -> None:
    a = issue(store, [make_card("rule-a") for _ in range(3)], service_id="naltrexone-order-select", issued_at=DAY)
    b = issue(store, [make_card("rule-a"), make_card("rule-b")], service_id="naltrexone-order-sign", issued_at=DAY)
    store.record_feedback("naltrexone-order-select", [overridden(a[0], "benefit", at=DAY)])
    store.record_feedback("naltrexone-order-sign", [accepted(b[0], b[0].suggestions[0].uuid, at=DAY)])

    every = {s.rule_id: (s.issued, s.accepted, s.overridden) for s in store.analytics()}
    assert every == {"rule-a": (4, 1, 1), "rule-b": (1, 0, 0)}
    select = {s.rule_id: (s.issued, s.accepted, s.overridden)
              for s in store.analytics(service_id="naltrexone-order-select")}
    assert select == {"rule-a": (3, 0, 1)}
    sign = {s.rule_id: (s.issued, s.accepted, s.overridden)
            for s in store.analytics(service_id="naltrexone-order-sign")}
    assert sign == {"rule-a": (1, 1, 0), "rule-b": (1, 0, 0)}
    assert store.analytics(service_id="no-such-service") == []


def test_daily_counts_cards_on_their_utc_day_of_issue(store: Store) -> None:
    # 23:30 UTC on the 20th is the 21st in UTC+2: the day is the UTC one
    first = issue(store, [make_card("rule-a") for _ in range(4)], issued_at=DAY)
    second = issue(store, [make_card("rule-a") for _ in range(2)], issued_at=DAY + timedelta(hours=1))
    other = issue(store, [make_card("rule-b")], service_id="naltrexone-order-sign",
                  issued_at=datetime(2026, 11, 21, 1, 0, tzinfo=timezone(timedelta(hours=2))))  # 20th, 23:00 UTC
    later = DAY + timedelta(days=3)  # feedback days later still counts on the card's day
    store.record_feedback("naltrexone-order-select", [
        overridden(first[0], "benefit", at=later), overridden(first[0], "pt-aware", at=later),  # one card
        overridden(first[1], "benefit", at=later), accepted(first[2], first[2].suggestions[0].uuid, at=later),
        overridden(second[0], "benefit", at=later),
    ])
    store.record_feedback("naltrexone-order-sign", [accepted(other[0], other[0].suggestions[0].uuid, at=later)])

    days = {(d.rule_id, d.day): (d.issued, d.accepted, d.overridden) for d in store.daily()}
    assert days == {("rule-a", date(2026, 11, 20)): (4, 1, 2), ("rule-a", date(2026, 11, 21)): (2, 0, 1),
                    ("rule-b", date(2026, 11, 20)): (1, 1, 0)}
    rows = daily_json(store.daily(since=datetime(2026, 11, 21, tzinfo=UTC)))
    assert rows == [{"rule_id": "rule-a", "day": "2026-11-21", "issued": 2, "accepted": 0, "overridden": 1,
                     "override_rate": 1.0, "silent": 0, "hook_calls": 0, "shown_per_100_calls": None,
                     "silent_per_100_calls": None}]  # `issue` counts no hook call
    assert [(d.rule_id, d.day.isoformat()) for d in store.daily(service_id="naltrexone-order-sign")] == [
        ("rule-b", "2026-11-20")]
    assert store.daily(until=datetime(2026, 11, 20, tzinfo=UTC)) == []
    first_day = next(d for d in store.daily() if d.rule_id == "rule-a")
    assert first_day.override_rate == 2 / 3


def test_silent_firings_per_rule_day_and_service_next_to_the_hook_calls(store: Store) -> None:
    """Silent mode in the dashboard's queries: per rule and UTC day, silent cards next to shown ones and the
    hook calls of that day (of the service asked for), also per 100 calls."""
    sel, sign = "naltrexone-order-select", "naltrexone-order-sign"

    def call(service: str, at: datetime, *cards: object) -> None:
        store.record_issued(service_id=service, hook=service.removeprefix("naltrexone-"), hook_instance="i",
                            patient_id="p", cards=list(cards), issued_at=at, count_call=True)  # type: ignore[arg-type]

    call(sel, DAY, make_card("rule-a"), replace(make_card("rule-b"), silent=True))
    call(sel, DAY)  # no card: counted all the same
    call(sel, DAY + timedelta(hours=1), replace(make_card("rule-b"), silent=True))  # the 21st (UTC)
    call(sign, DAY, replace(make_card("rule-b"), silent=True))
    call(sign, DAY)
    days = {(d.rule_id, d.day.isoformat()): (d.issued, d.silent, d.hook_calls, d.silent_per_100_calls)
            for d in store.daily()}
    assert days == {("rule-a", "2026-11-20"): (1, 0, 4, 0.0),
                    ("rule-b", "2026-11-20"): (0, 2, 4, 50.0), ("rule-b", "2026-11-21"): (0, 1, 1, 100.0)}
    only_select = {(d.rule_id, d.day.isoformat()): (d.issued, d.silent, d.hook_calls)
                   for d in store.daily(service_id=sel)}
    assert only_select == {("rule-a", "2026-11-20"): (1, 0, 2), ("rule-b", "2026-11-20"): (0, 1, 2),
                           ("rule-b", "2026-11-21"): (0, 1, 1)}
    assert store.hook_calls(service_id=sign) == {"2026-11-20": 2}
    rules = {r["rule_id"]: r for r in report_json(store.analytics(service_id=sel))}
    assert (rules["rule-b"]["issued"], rules["rule-b"]["silent"], rules["rule-b"]["hook_calls"]) == (0, 2, 3)
    assert (rules["rule-b"]["shown_per_100_calls"], rules["rule-b"]["silent_per_100_calls"]) == (0.0, 66.67)
    assert [(d["day"], d["silent"], d["hook_calls"]) for d in rules["rule-b"]["daily"]] == [
        ("2026-11-20", 1, 2), ("2026-11-21", 1, 1)]


def test_a_card_counts_once_by_its_final_outcome_in_both_tables(store: Store) -> None:
    cards = issue(store, [make_card("rule-a") for _ in range(3)], issued_at=DAY)
    later = DAY + timedelta(hours=2)
    store.record_feedback("naltrexone-order-select", [
        # accepted, then overridden an hour later: overridden
        accepted(cards[0], cards[0].suggestions[0].uuid, at=later), overridden(cards[0], "benefit", at=later
                                                                               + timedelta(hours=1)),
        # overridden, then accepted: accepted
        overridden(cards[1], "benefit", at=later), accepted(cards[1], cards[1].suggestions[0].uuid,
                                                            at=later + timedelta(hours=1)),
        # both at the same instant, in one post: the override wins, whatever order the rows were stored in
        accepted(cards[2], cards[2].suggestions[0].uuid, at=later), overridden(cards[2], "benefit", at=later),
    ])
    assert {s.rule_id: (s.issued, s.accepted, s.overridden) for s in store.analytics()} == {"rule-a": (3, 1, 2)}
    assert {(d.rule_id, d.day): (d.issued, d.accepted, d.overridden) for d in store.daily()} == {
        ("rule-a", date(2026, 11, 20)): (3, 1, 2)}
