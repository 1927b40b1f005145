"""Alembic migrations: from empty, round-trip, equal to the models, concurrent start-up."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from cds_service.store import Store
from cds_service.store.models import Base
from tests.store.conftest import HASH_KEY
from tests.store.helpers import count_rows, issue, make_card, row_counts

TABLES = set(Base.metadata.tables)
HEAD = "0004"  # the newest revision (one head): silent mode after feedback_reason after card issuer
CHAIN = ["0001", "0002", "0003", "0004"]


def _tables(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_from_empty_creates_every_table(make_store: Callable[[], Store]) -> None:
    store = make_store()
    assert _tables(store) == set()
    assert store.current_revision() is None
    store.migrate()
    assert store.current_revision() == HEAD
    assert _tables(store) == TABLES
    store.migrate()  # idempotent
    assert store.current_revision() == HEAD


def test_revisions_form_one_chain_walked_step_by_step(make_store: Callable[[], Store]) -> None:
    """0001 -> 0002 -> 0003 -> 0004, one head: every revision upgrades from the one before and downgrades
    back to it (on both dialects), so a re-chained revision cannot leave a second head or a gap."""
    from alembic.script import ScriptDirectory

    store = make_store()
    script = ScriptDirectory.from_config(store.alembic_config())
    assert script.get_heads() == [HEAD]
    assert [r.revision for r in reversed(list(script.walk_revisions()))] == CHAIN
    assert [r.down_revision for r in reversed(list(script.walk_revisions()))] == [None, *CHAIN[:-1]]
    for rev in CHAIN:
        store.migrate(rev)
        assert store.current_revision() == rev
    for rev in reversed(CHAIN[:-1]):
        store.downgrade(rev)
        assert store.current_revision() == rev
    store.migrate()
    assert store.current_revision() == HEAD
    assert _tables(store) == TABLES


def test_migrations_match_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_0002_keeps_existing_cards_and_adds_issuer_and_tenant(make_store: Callable[[], Store]) -> None:
    store = make_store()
    store.migrate("0001")
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO issued_card (card_uuid, service_id, hook, hook_instance, patient_hash, rule_id, indicator, "
            "summary, issued_at) VALUES ('c1', 's', 'order-sign', 'h', 'x', 'r', 'warning', 'sum', "
            "'2026-11-25 00:00:00.000000')")
    store.migrate()
    assert store.current_revision() == HEAD
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT card_uuid, issuer, tenant FROM issued_card").all() == [("c1", None, None)]
    store.downgrade("0001")
    assert "issuer" not in {c["name"] for c in inspect(store.engine).get_columns("issued_card")}


def test_downgrade_base_then_upgrade_head(store: Store) -> None:
    issue(store, [make_card()])
    store.downgrade("base")
    assert store.current_revision() is None
    assert _tables(store) == set()
    store.migrate()
    assert store.current_revision() == HEAD
    assert row_counts(store) == dict.fromkeys(TABLES, 0)
    issue(store, [make_card()])
    assert row_counts(store)["issued_card"] == 1


def test_concurrent_migrate_from_threads(make_store: Callable[[], Store]) -> None:
    stores = [make_store() for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def run(s: Store) -> None:
        barrier.wait()
        try:
            s.migrate()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(s.current_revision() == HEAD for s in stores)
    assert _tables(stores[0]) == TABLES


def test_concurrent_migrate_from_processes(db_url: str) -> None:
    code = (
        "import sys; from cds_service.store import Store; "
        "s = Store(sys.argv[1], sys.argv[2]); s.migrate(); print(s.current_revision()); s.close()"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, db_url, HASH_KEY],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert out.strip() == HEAD


def test_silent_mode_migration_keeps_existing_cards(make_store: Callable[[], Store]) -> None:
    """0001 -> head: cards issued before silent mode existed read as shown; down again to 0001 (0004 and
    0002 drop their columns natively, no table copy whose cascade would empty the child tables) keeps every row."""
    store = make_store()
    store.migrate("0001")
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO issued_card (card_uuid, service_id, hook, hook_instance, patient_hash, rule_id, "
            "indicator, summary, issued_at) VALUES ('c1', 's', 'order-sign', 'i', 'h', 'opioid-washout', "
            "'critical', 'x', '2026-11-25 08:00:00.000000')")
        conn.exec_driver_sql("INSERT INTO issued_suggestion (card_uuid, suggestion_uuid, position, label) "
                             "VALUES ('c1', 's1', 0, 'Cancel')")
    store.migrate()
    assert [(s.rule_id, s.issued, s.silent) for s in store.analytics()] == [("opioid-washout", 1, 0)]
    store.downgrade("0001")
    assert (count_rows(store, "issued_card"), count_rows(store, "issued_suggestion")) == (1, 1)
def test_0003_copies_existing_reasons(store: Store) -> None:
    """Feedback stored before 0003 keeps its reason: the upgrade copies it into feedback_reason."""
    from sqlalchemy import text

    from tests.store.helpers import overridden

    card = issue(store, [make_card()])[0]
    store.record_feedback("naltrexone-order-select", [overridden(card, "benefit")])
    store.downgrade("0002")
    assert "feedback_reason" not in _tables(store)
    store.migrate()
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT position, code FROM feedback_reason")).all()
    assert [tuple(r) for r in rows] == [(0, "benefit")]
