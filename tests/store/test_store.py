"""Card ledger, feedback, JWT replay cache, purge and analytics, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import String, Text, inspect, select

from cds_service.store import FeedbackError, FeedbackItem, Store
from cds_service.store.models import Base, CardRow, FeedbackRow, JwtReplayRow
from tests.store.conftest import HASH_KEY
from tests.store.helpers import (
    REASON_SYSTEM,
    accepted,
    count_rows,
    issue,
    make_card,
    new_uuid,
    overridden,
    row_counts,
)
from tests.store.ledger_probe import count_feedback_rows, count_ledger_rows, count_suggestion_rows


def now() -> datetime:
    """The time of the call. The store compares replay-cache expiries with its own clock, so a test's
    reference time is taken when the test runs, never at import: the suite may need minutes to get here."""
    return datetime.now(UTC)


# --- ledger -------------------------------------------------------------------------------------


def test_record_issued_stores_cards_suggestions_and_reasons(store: Store) -> None:
    cards = issue(
        store, [make_card("rule-a"), make_card("rule-b")], issued_at=datetime(2025, 3, 1, 12, tzinfo=UTC)
    )
    counts = row_counts(store)
    assert counts["issued_card"] == 2
    assert counts["issued_suggestion"] == 4
    assert counts["issued_override_reason"] == 6
    with store.engine.connect() as conn:
        row = conn.execute(select(CardRow).where(CardRow.card_uuid == cards[0].uuid)).one()
    assert (row.rule_id, row.indicator, row.service_id, row.hook) == (
        "rule-a",
        "critical",
        "naltrexone-order-select",
        "order-select",
    )
    assert row.issued_at == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert row.issued_at.tzinfo is not None


def test_record_issued_is_one_transaction(store: Store) -> None:
    card = make_card()
    issue(store, [card])
    with pytest.raises(Exception):  # noqa: B017 - duplicate card uuid: IntegrityError of either driver
        issue(store, [make_card(), card])
    assert count_rows(store, "issued_card") == 1
    assert count_rows(store, "issued_suggestion") == 2


def test_record_issued_nothing_to_record(store: Store) -> None:
    store.record_issued(service_id="s", hook="h", hook_instance="i", patient_id="p", cards=[])
    assert count_rows(store, "issued_card") == 0


def test_ledger_probe_counts_committed_rows(store: Store, db_url: str) -> None:
    card = issue(store, [make_card()])[0]
    assert count_ledger_rows(db_url, card.uuid) == 1
    assert count_suggestion_rows(db_url, card.uuid) == 2
    assert count_feedback_rows(db_url, card.uuid) == 0
    assert count_ledger_rows(db_url, new_uuid()) == 0


def test_patient_id_never_stored_in_clear(store: Store, db_url: str, tmp_path: Path) -> None:
    patient_id = "Patient-zq81-unique-marker"
    issue(store, [make_card(), make_card("rule-b")], patient_id=patient_id)
    expected_hash = hmac.new(HASH_KEY.encode(), patient_id.encode(), hashlib.sha256).hexdigest()
    text_values: list[str] = []
    with store.engine.connect() as conn:
        for name in inspect(conn).get_table_names():
            table = Base.metadata.tables.get(name)
            if table is None:
                continue
            for row in conn.execute(select(table)):
                text_values.extend(str(v) for v in row)
        hashes = set(conn.execute(select(CardRow.patient_hash)).scalars())
    assert text_values
    assert not [v for v in text_values if patient_id.lower() in v.lower()]
    assert hashes == {expected_hash}
    assert expected_hash == store.patient_hash(patient_id)
    # every text column really was looked at
    assert any(isinstance(c.type, (String, Text)) for c in Base.metadata.tables["issued_card"].columns)
    if db_url.startswith("sqlite"):
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.sqlite3*"))
        assert expected_hash.encode() in raw
        assert patient_id.encode() not in raw


# --- feedback -----------------------------------------------------------------------------------


def test_feedback_validation_errors_store_nothing(store: Store) -> None:
    mine, other_card = issue(store, [make_card(), make_card()])
    foreign = issue(store, [make_card()], service_id="another-service")[0]
    good = accepted(mine, mine.suggestions[0].uuid)
    bad_items = {
        "unknown card": overridden(make_card(), "benefit"),
        "suggestion of another card": accepted(mine, other_card.suggestions[0].uuid),
        "unknown suggestion": accepted(mine, new_uuid()),
        "card of another service": overridden(foreign, "benefit"),
        "bad outcome": FeedbackItem(mine.uuid, "ignored", (), None, None, None, now()),
    }
    for why, bad in bad_items.items():
        with pytest.raises(FeedbackError) as excinfo:
            store.record_feedback("naltrexone-order-select", [good, bad])
        assert excinfo.value.message, why
        assert "clinician comment" not in excinfo.value.message
        assert count_rows(store, "feedback") == 0, why
        assert count_rows(store, "feedback_accepted_suggestion") == 0, why
    assert store.record_feedback("naltrexone-order-select", [good]) == 1


def test_feedback_is_idempotent(store: Store) -> None:
    card = issue(store, [make_card()])[0]
    item = accepted(card, card.suggestions[1].uuid, card.suggestions[0].uuid)
    assert store.record_feedback("naltrexone-order-select", [item]) == 1
    assert store.record_feedback("naltrexone-order-select", [item]) == 0
    # same suggestions in another order, same instant in another offset: the same feedback
    same = FeedbackItem(
        card=card.uuid,
        outcome="accepted",
        accepted_suggestions=(card.suggestions[0].uuid, card.suggestions[1].uuid),
        reason_system=None,
        reason_code=None,
        user_comment=None,
        outcome_timestamp=item.outcome_timestamp.astimezone(timezone(timedelta(hours=2))),
    )
    assert store.record_feedback("naltrexone-order-select", [same, same]) == 0
    assert count_rows(store, "feedback") == 1
    assert count_rows(store, "feedback_accepted_suggestion") == 2
    # twice in one post: stored once
    o = overridden(card, "benefit", at=datetime(2025, 2, 1, tzinfo=UTC))
    assert store.record_feedback("naltrexone-order-select", [o, o]) == 1
    assert count_rows(store, "feedback") == 2


def test_feedback_timestamps_are_aware_utc(store: Store) -> None:
    card = issue(store, [make_card()])[0]
    at = datetime(2025, 6, 1, 14, 30, 15, 250000, tzinfo=timezone(timedelta(hours=-5)))
    store.record_feedback("naltrexone-order-select", [overridden(card, "benefit", at=at)])
    with store.engine.connect() as conn:
        row = conn.execute(select(FeedbackRow)).one()
    assert row.outcome_timestamp == at
    assert row.outcome_timestamp.utcoffset() == timedelta(0)
    assert row.received_at.utcoffset() == timedelta(0)
    assert abs(row.received_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert row.user_comment == "clinician comment"


def test_concurrent_feedback_200_items_8_threads(make_store: Callable[[], Store]) -> None:
    stores = [make_store(), make_store()]  # two engines: like two worker processes
    stores[0].migrate()
    cards = issue(stores[0], [make_card(f"rule-{i % 3}") for i in range(50)])
    base = datetime(2025, 1, 1, tzinfo=UTC)
    items: list[FeedbackItem] = []
    for i in range(200):
        card = cards[i % len(cards)]
        at = base + timedelta(seconds=i)
        items.append(
            accepted(card, card.suggestions[i % 2].uuid, at=at)
            if i % 2
            else overridden(card, "benefit", at=at)
        )
    assert len(set(items)) == 200

    def post_each(worker: int) -> int:
        s = stores[worker % 2]
        return sum(s.record_feedback("naltrexone-order-select", [it]) for it in items[worker::8])

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(post_each, range(8))) == 200
    assert count_rows(stores[0], "feedback") == 200
    assert count_rows(stores[0], "feedback_accepted_suggestion") == 100

    def replay_all(worker: int) -> int:
        s = stores[worker % 2]
        shuffled = items[:]
        random.Random(worker).shuffle(shuffled)
        return sum(
            s.record_feedback("naltrexone-order-select", shuffled[i : i + 10]) for i in range(0, 200, 10)
        )

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(replay_all, range(8))) == 0
    assert count_rows(stores[0], "feedback") == 200
    assert count_rows(stores[0], "feedback_accepted_suggestion") == 100


# --- JWT replay cache ---------------------------------------------------------------------------


def test_remember_jti(store: Store) -> None:
    later = now() + timedelta(minutes=5)
    assert store.remember_jti("https://sandbox.cds-hooks.org", "jti-1", later) is True
    assert store.remember_jti("https://sandbox.cds-hooks.org", "jti-1", later) is False
    assert store.remember_jti("https://other-ehr.example", "jti-1", later) is True
    assert store.remember_jti("https://sandbox.cds-hooks.org", "jti-2", later) is True


def test_remember_jti_expired_entry_may_be_reused(store: Store) -> None:
    assert store.remember_jti("iss", "old", now() - timedelta(seconds=1)) is True
    assert store.remember_jti("iss", "old", now() + timedelta(minutes=5)) is True  # old entry had expired
    assert store.remember_jti("iss", "old", now() + timedelta(minutes=5)) is False
    assert count_rows(store, "jwt_replay") == 1


def test_remember_jti_across_two_stores(make_store: Callable[[], Store]) -> None:
    a, b = make_store(), make_store()
    a.migrate()
    later = now() + timedelta(minutes=5)
    assert a.remember_jti("iss", "shared", later) is True
    assert b.remember_jti("iss", "shared", later) is False
    assert a.remember_jti("iss", "shared", later) is False
    # a race on one new jti from 16 threads over two engines: exactly one winner
    barrier = threading.Barrier(16)

    def race(i: int) -> bool:
        barrier.wait()
        return (a if i % 2 else b).remember_jti("iss", "raced", later)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(race, range(16)))
    assert results.count(True) == 1


# --- purge --------------------------------------------------------------------------------------


def test_purge_removes_only_old_rows(store: Store) -> None:
    old = issue(store, [make_card()], issued_at=now() - timedelta(days=500))[0]
    new = issue(store, [make_card()], issued_at=now() - timedelta(days=1))[0]
    store.record_feedback(
        "naltrexone-order-select",
        [
            accepted(old, old.suggestions[0].uuid),
            overridden(old, "benefit"),
            accepted(new, new.suggestions[0].uuid),
            overridden(new, "benefit"),
        ],
    )
    store.remember_jti("iss", "expired", now() - timedelta(minutes=1))
    store.remember_jti("iss", "live", now() + timedelta(minutes=5))

    removed = store.purge(now() - timedelta(days=400))
    # old card + its 2 suggestions + 3 reasons + 2 feedback (1 reason, 1 accepted suggestion) + 1 expired jti
    assert removed == 1 + 2 + 3 + 2 + 1 + 1 + 1
    assert row_counts(store) == {
        "issued_card": 1,
        "issued_suggestion": 2,
        "issued_override_reason": 3,
        "feedback": 2,
        "feedback_reason": 1,
        "feedback_accepted_suggestion": 1,
        "jwt_replay": 1,
        "hook_call_day": 0,
    }
    with store.engine.connect() as conn:
        assert conn.execute(select(CardRow.card_uuid)).scalars().all() == [new.uuid]
        assert conn.execute(select(JwtReplayRow.jti)).scalars().all() == ["live"]
    assert store.purge(now() - timedelta(days=400)) == 0
    with pytest.raises(FeedbackError):  # feedback on a purged card: unknown card
        store.record_feedback("naltrexone-order-select", [overridden(old, "benefit")])


# --- analytics ----------------------------------------------------------------------------------


def test_analytics_numbers(store: Store) -> None:
    day = datetime(2025, 5, 10, tzinfo=UTC)
    a = issue(store, [make_card("rule-a") for _ in range(4)], issued_at=day)
    issue(store, [make_card("rule-b", labels=("Only suggestion",)) for _ in range(2)], issued_at=day)
    c = issue(store, [make_card("rule-c")], issued_at=day - timedelta(days=30))
    t1, t2 = day + timedelta(minutes=1), day + timedelta(minutes=2)
    feedback = [
        accepted(a[0], a[0].suggestions[0].uuid, at=t1),
        overridden(a[1], "benefit", at=t1),
        overridden(a[1], "benefit", at=t1),  # duplicate: ignored
        overridden(a[2], "benefit", at=t1),
        overridden(a[2], "benefit", at=t2),  # same card overridden again later: still one card
        overridden(a[3], "pt-aware", at=t1),
        overridden(c[0], "mystery-code", at=t1),  # a reason we never offered: no display
        overridden(c[0], "not-relevant", system=None, at=t2),  # system not echoed: found by code
    ]
    assert store.record_feedback("naltrexone-order-select", feedback) == 7
    store.record_feedback("naltrexone-order-select", [accepted(a[0], a[0].suggestions[0].uuid, at=t1)])

    stats = {s.rule_id: s for s in store.analytics()}
    assert list(stats) == ["rule-a", "rule-b", "rule-c"]
    sa = stats["rule-a"]
    assert (sa.issued, sa.accepted, sa.overridden) == (4, 1, 3)
    assert sa.override_rate == pytest.approx(0.75)
    assert sa.top_reasons == [
        ("benefit", "Benefit outweighs risk", 2),
        ("pt-aware", "Patient aware, will monitor", 1),
    ]
    assert sa.override_reasons[0].system == REASON_SYSTEM
    assert sa.suggestion_acceptance == [
        ("Cancel the naltrexone order", 4, 1),
        ("Order non-opioid analgesia", 4, 0),
    ]

    sb = stats["rule-b"]
    assert (sb.issued, sb.accepted, sb.overridden, sb.override_rate) == (2, 0, 0, None)
    assert sb.top_reasons == []
    assert sb.suggestion_acceptance == [("Only suggestion", 2, 0)]

    sc = stats["rule-c"]
    assert (sc.issued, sc.accepted, sc.overridden, sc.override_rate) == (1, 0, 1, 1.0)
    assert sc.top_reasons == [("mystery-code", None, 1), ("not-relevant", "Not relevant to this patient", 1)]

    # windows select cards by issue time, [since, until)
    assert [s.rule_id for s in store.analytics(since=day)] == ["rule-a", "rule-b"]
    assert [s.rule_id for s in store.analytics(until=day)] == ["rule-c"]
    assert [
        s.rule_id for s in store.analytics(since=day - timedelta(days=31), until=day - timedelta(days=29))
    ] == ["rule-c"]
    windowed = {s.rule_id: s for s in store.analytics(since=day, until=day + timedelta(days=1))}
    assert windowed["rule-a"] == sa
    assert store.analytics(since=day + timedelta(days=1)) == []
