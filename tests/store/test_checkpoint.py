"""SQLite WAL checkpoints run in the service's background thread, not inside a hook call's commit.

Real SQLite files; the thread really runs. What must hold: the request connections never checkpoint, the
WAL is rewound under steady writes (it must not grow without bound), nothing written is lost, and a clean
shutdown folds the WAL into the database.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from cds_service.store import Store
from cds_service.store.checkpoint import WalCheckpointer
from tests.store.helpers import make_card, new_uuid


def _issue(store: Store, n: int) -> None:
    for _ in range(n):
        store.record_issued(service_id="s", hook="order-sign", hook_instance=new_uuid(), patient_id="p",
                            cards=[make_card() for _ in range(3)])


def _autocheckpoint(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one()


def test_request_connections_stop_checkpointing(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/ledger.sqlite3", "k")
    try:
        store.migrate()
        assert _autocheckpoint(store) == 1000  # SQLite's default: a commit may run the checkpoint
        checkpointer = store.start_background_checkpoints(interval=0.05)
        assert checkpointer is not None
        assert _autocheckpoint(store) == 0
    finally:
        store.close()


def _wal_frames(db: Path) -> int:
    """Frames in the WAL now (a PASSIVE checkpoint reports them and changes nothing else)."""
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def test_wal_is_rewound_under_steady_writes_and_nothing_is_lost(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite3"
    store = Store(f"sqlite:///{db}", "k")
    store.migrate()
    checkpointer = store.start_background_checkpoints(interval=0.01, restart_frames=100)
    assert checkpointer is not None
    commits = 400
    try:
        for _ in range(commits // 20):
            _issue(store, 20)
            time.sleep(0.005)  # steady load: the thread gets its turns between requests
        # a quiet moment: a round that starts now checkpoints every frame, and the next commit then starts
        # the WAL from its beginning (waits for two more rounds; a slow disk may take a while)
        rounds = checkpointer.checkpoints
        deadline = time.monotonic() + 20
        while checkpointer.checkpoints < rounds + 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.restarts > 0  # the WAL went over restart_frames and was made to wrap
        _issue(store, 1)
        assert _wal_frames(db) < 40  # one commit's frames, not the thousands written before
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM issued_card")).scalar_one() == (commits + 1) * 3
    finally:
        store.close()
    # a clean shutdown truncates the WAL: the database file alone holds everything
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM issued_card").fetchone()[0] == (commits + 1) * 3
        assert conn.execute("SELECT count(*) FROM issued_suggestion").fetchone()[0] == (commits + 1) * 3 * 2


def test_not_for_memory_databases() -> None:
    store = Store("sqlite://", "k")
    try:
        store.migrate()
        assert store.start_background_checkpoints() is None
    finally:
        store.close()


def test_a_failing_checkpoint_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    checkpointer = WalCheckpointer(str(tmp_path / "missing-dir" / "ledger.sqlite3"), interval=0.01)
    with caplog.at_level(logging.WARNING, logger="cds_service.store.checkpoint"):
        checkpointer.start()
        deadline = time.monotonic() + 20
        while checkpointer.failures < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        checkpointer._stop.set()
        checkpointer._thread.join(5)  # type: ignore[union-attr]
    assert checkpointer.failures >= 5
    failures = [r for r in caplog.records if "WAL checkpoint failed" in r.getMessage()]
    assert len(failures) == 1
