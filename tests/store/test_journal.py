"""The ledger journal (cds_service.store.journal / .ledger): what the database cannot take is kept on disk,
and replayed in order and exactly once, also across a crash mid-replay and with two processes at it.

The database fails through `SwitchableStore`, a real Store whose switch makes every database call raise the
OperationalError a dead server gives (the HTTP and PostgreSQL tests stop real databases instead).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from cds_service.store import Store
from cds_service.store.journal import Journal, JournalUnavailable
from cds_service.store.ledger import Ledger, LedgerUnavailable, default_journal_dir
from cds_service.store.store import FeedbackError
from tests.store.helpers import accepted, make_card, new_uuid, overridden

HASH_KEY = "test-patient-hash-key"
ROOT = Path(__file__).resolve().parents[2]


class SwitchableStore(Store):
    """A Store whose database 'goes down' while `down` is set (every call raises OperationalError)."""

    down = False

    def _gate(self) -> None:
        if self.down:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    def record_issued(self, **kwargs):  # type: ignore[no-untyped-def]
        self._gate()
        return super().record_issued(**kwargs)

    def record_feedback(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._gate()
        return super().record_feedback(*args, **kwargs)

    def replay(self, writes):  # type: ignore[no-untyped-def]
        self._gate()
        return super().replay(writes)

    def remember_jti(self, *args):  # type: ignore[no-untyped-def]
        self._gate()
        return super().remember_jti(*args)

    def ping(self) -> None:
        self._gate()
        super().ping()


@pytest.fixture
def store(db_url: str):
    s = SwitchableStore(db_url, HASH_KEY)
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def ledger(store: SwitchableStore, tmp_path: Path):
    led = Ledger(store, Journal(tmp_path / "journal"))
    yield led
    led.close()


def issue(ledger: Ledger, *cards, service_id: str = "naltrexone-order-select") -> str:
    return ledger.record_issued(service_id=service_id, hook="order-select", hook_instance=new_uuid(),
                                patient_id="patient-1", cards=list(cards))


def rows(store: Store, sql: str) -> list[tuple]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def card_count(store: Store, uuid: str) -> int:
    return rows(store, f"SELECT count(*) FROM issued_card WHERE card_uuid = '{uuid}'")[0][0]


def test_written_while_down_replayed_in_order_exactly_once(store: SwitchableStore, ledger: Ledger,
                                                           tmp_path: Path) -> None:
    a, b, c = make_card("rule-a"), make_card("rule-b"), make_card("rule-c")
    assert issue(ledger, a) == "stored"
    store.down = True
    assert issue(ledger, b) == "journaled"
    assert ledger.database_down
    assert issue(ledger, c) == "journaled"
    assert ledger.record_feedback("naltrexone-order-select", [accepted(a, a.suggestions[0].uuid)]) == (0, 1)
    assert ledger.record_feedback("naltrexone-order-select", [overridden(b, "benefit")]) == (0, 1)
    journal = ledger.journal
    entries = list(journal.entries())
    assert [e.kind for e in entries] == ["cards", "cards", "feedback", "feedback"]
    assert [e.data["cards"][0]["uuid"] for e in entries[:2]] == [b.uuid, c.uuid]
    assert "patient-1" not in json.dumps([e.data for e in entries])  # only the keyed hash is on disk
    assert ledger.status().pending == 4

    result = ledger.drain_once()  # still down: nothing replayed, nothing lost
    assert result.error is not None and result.replayed == []
    assert journal.count(fresh=True) == 4

    saved = tmp_path / "saved"
    shutil.copytree(journal.pending_dir, saved)  # the files as they are before a replay that "crashes" ...
    store.down = False
    result = ledger.drain_once()
    assert result.complete and [e.kind for e in result.replayed] == ["cards", "cards", "feedback", "feedback"]
    assert not ledger.database_down
    for name in os.listdir(saved):  # ... after its commits, before removing them: all come back
        shutil.copy(saved / name, journal.pending_dir / name)
    assert ledger.drain_once().complete
    assert journal.count(fresh=True) == 0
    for card in (a, b, c):
        assert card_count(store, card.uuid) == 1
    assert rows(store, "SELECT count(*) FROM issued_suggestion")[0][0] == 6
    assert rows(store, "SELECT count(*) FROM issued_override_reason")[0][0] == 9
    assert sorted(rows(store, "SELECT card_uuid, outcome FROM feedback")) == sorted(
        [(a.uuid, "accepted"), (b.uuid, "overridden")])
    # replayed rows keep the time of the call, not of the replay
    issued = rows(store, f"SELECT hook, rule_id, issuer FROM issued_card WHERE card_uuid = '{b.uuid}'")
    assert issued == [("order-select", "rule-b", None)]
    # the same feedback posted again once the database is back: recognised, not stored twice
    assert ledger.record_feedback("naltrexone-order-select", [overridden(b, "benefit")]) == (0, 0)


def test_feedback_waits_behind_pending_cards_of_another_process(store: SwitchableStore, ledger: Ledger) -> None:
    """Database up, but the card is still in the journal (written by another worker): the feedback is queued
    behind it, not refused as an unknown card."""
    card = make_card()
    other_worker = Ledger(store, Journal(ledger.journal.directory))
    store.down = True
    assert issue(other_worker, card) == "journaled"
    store.down = False
    assert ledger.record_feedback("naltrexone-order-select", [overridden(card, "benefit")]) == (0, 1)
    assert ledger.drain_once().complete
    assert rows(store, "SELECT card_uuid FROM feedback") == [(card.uuid,)]
    with pytest.raises(FeedbackError, match="unknown card"):  # nothing pending: validated at once again
        ledger.record_feedback("naltrexone-order-select", [overridden(make_card(), "benefit")])


def test_refused_feedback_is_set_aside_and_the_rest_replayed(store: SwitchableStore, ledger: Ledger) -> None:
    known, stranger = make_card(), make_card()
    store.down = True
    issue(ledger, known)
    ledger.record_feedback("naltrexone-order-select", [overridden(stranger, "benefit")])  # never issued
    later = make_card()
    issue(ledger, later)
    store.down = False
    result = ledger.drain_once()
    assert result.complete
    assert [e.kind for e in result.replayed] == ["cards", "cards"]
    assert len(result.rejected) == 1 and "unknown card" in result.rejected[0][1]
    assert card_count(store, known.uuid) == card_count(store, later.uuid) == 1
    assert rows(store, "SELECT count(*) FROM feedback") == [(0,)]
    rejected = sorted(os.listdir(ledger.journal.rejected_dir))
    assert len(rejected) == 2 and rejected[1] == rejected[0] + ".why"
    assert "unknown card" in (ledger.journal.rejected_dir / rejected[1]).read_text()
    status = ledger.status()
    assert (status.pending, status.rejected) == (0, 1)


def test_names_grow_even_when_the_clock_steps_back(tmp_path: Path) -> None:
    ticks = iter([5_000, 4_000, 4_000, 9_000, 1_000])
    journal = Journal(tmp_path, clock_ns=lambda: next(ticks))
    names = [journal.append("cards", {"n": i}) for i in range(5)]
    assert names == sorted(names) and len(set(names)) == 5
    assert [e.data["n"] for e in journal.entries()] == [0, 1, 2, 3, 4]


def test_full_and_unwritable_journal(store: SwitchableStore, tmp_path: Path) -> None:
    ledger = Ledger(store, Journal(tmp_path / "j", max_entries=2))
    store.down = True
    assert [issue(ledger, make_card()) for _ in range(3)] == ["journaled", "journaled", "lost"]
    status = ledger.status()
    assert status.pending == 2 and status.journal_error == "full (2 of 2 entries)"
    with pytest.raises(LedgerUnavailable, match="journal full"):
        ledger.record_feedback("naltrexone-order-select", [overridden(make_card(), "benefit")])

    broken = Journal(tmp_path / "k")
    shutil.rmtree(broken.pending_dir)
    broken.pending_dir.write_text("not a directory")  # fails for root too (chmod would not)
    with pytest.raises(JournalUnavailable) as err:
        broken.append("cards", {})
    assert err.value.reason == "error" and "NotADirectoryError" in err.value.message
    assert broken.writable() is not None and "NotADirectoryError" in broken.writable()
    assert os.listdir(broken.tmp_dir) == []  # the half-written entry is removed


def test_replay_cache_falls_back_to_memory_and_remembers_the_outage(store: SwitchableStore,
                                                                    ledger: Ledger) -> None:
    until = datetime.now(UTC) + timedelta(minutes=5)
    store.down = True
    assert ledger.remember_jti("https://ehr.example", "jti-1", until) is True
    assert ledger.remember_jti("https://ehr.example", "jti-1", until) is False  # replay caught in-process
    store.down = False
    ledger.drain_once()  # the drainer finds the database back
    assert not ledger.database_down
    # the database never saw jti-1, but it was used during the outage: still a replay
    assert ledger.remember_jti("https://ehr.example", "jti-1", until) is False
    assert ledger.remember_jti("https://ehr.example", "jti-2", until) is True
    assert ledger.remember_jti("https://ehr.example", "jti-2", until) is False


def test_default_journal_dir() -> None:
    from sqlalchemy import make_url

    assert default_journal_dir(make_url("sqlite:////var/lib/x/ledger.sqlite3")) == Path(
        "/var/lib/x/ledger.sqlite3.journal")
    assert default_journal_dir(make_url("sqlite://")) is None
    assert default_journal_dir(make_url("postgresql+psycopg://u@h/db")) == Path("cds-journal")


# --- several processes -------------------------------------------------------------------------------


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


CRASHING_DRAINER = """
    import os, sys
    from cds_service.store import Store
    from cds_service.store.journal import Journal
    store, journal = Store(sys.argv[1], "test-patient-hash-key"), Journal(sys.argv[2])
    done = 0
    def replay(batch):
        global done
        store.replay([(e.kind, e.data) for e in batch])  # committed ...
        done += 1
        if done == 4:
            os._exit(9)  # ... and the process dies before the entry is removed (drain lock held)
    journal.drain(replay, batch_size=1)
"""


def test_crash_mid_replay(store: SwitchableStore, ledger: Ledger, db_url: str) -> None:
    cards = [make_card(f"rule-{i}") for i in range(10)]
    store.down = True
    for card in cards:
        issue(ledger, card)
    store.down = False
    crashed = run_python(CRASHING_DRAINER, db_url, str(ledger.journal.directory))
    assert crashed.returncode == 9, crashed.stderr
    assert [card_count(store, c.uuid) for c in cards] == [1] * 4 + [0] * 6
    assert ledger.journal.count(fresh=True) == 7  # the 4th entry is committed and still pending
    result = ledger.drain_once()  # the dead process's lock is gone with it
    assert result.complete and len(result.replayed) == 7
    assert [card_count(store, c.uuid) for c in cards] == [1] * 10
    assert rows(store, "SELECT count(*) FROM issued_suggestion") == [(20,)]


WRITER = """
    import sys, time
    from pathlib import Path
    from cds_service.store.journal import Journal
    journal, writer = Journal(sys.argv[1]), sys.argv[2]
    go = Path(sys.argv[1]) / "go"
    while not go.exists():
        time.sleep(0.001)
    for n in range(int(sys.argv[3])):
        journal.append("cards", {"writer": writer, "n": n})
"""

DRAINER = """
    import sqlite3, sys
    from cds_service.store.journal import Journal
    journal = Journal(sys.argv[1])
    db = sqlite3.connect(sys.argv[2], timeout=30, isolation_level=None)
    def replay(batch):
        db.execute("BEGIN IMMEDIATE")
        for e in batch:  # no unique key: an entry replayed twice would show as two rows
            db.execute("INSERT INTO applied (name, writer, n, drainer) VALUES (?, ?, ?, ?)",
                       (e.name, e.data["writer"], e.data["n"], sys.argv[3]))
        db.execute("COMMIT")
    print(len(journal.drain(replay, batch_size=7, wait=True).replayed))
"""


def test_two_processes_write_and_two_drain_one_directory(tmp_path: Path) -> None:
    directory, n = tmp_path / "journal", 300
    Journal(directory)
    writers = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), str(directory), w, str(n)],
                                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}) for w in ("w1", "w2")]
    (directory / "go").touch()  # both start appending at once
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    journal = Journal(directory)
    entries = list(journal.entries())
    assert len(entries) == 2 * n and len({e.name for e in entries}) == 2 * n
    for w in ("w1", "w2"):  # each writer's entries in the order it wrote them
        assert [e.data["n"] for e in entries if e.data["writer"] == w] == list(range(n))
    pids = {e.name.split("-")[1] for e in entries}
    assert len(pids) == 2

    db = tmp_path / "applied.sqlite3"
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE applied (name TEXT, writer TEXT, n INTEGER, drainer TEXT)"))
    drainers = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(DRAINER), str(directory), str(db), d],
                                 cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                                 text=True) for d in ("d1", "d2")]
    outputs = [d.communicate(timeout=120)[0] for d in drainers]
    assert [d.returncode for d in drainers] == [0, 0]
    assert sorted(int(o) for o in outputs) == [0, 2 * n]  # one drained everything, the other waited: none left
    with engine.connect() as conn:
        applied = [tuple(r) for r in conn.execute(text("SELECT name, writer, n FROM applied ORDER BY rowid"))]
    engine.dispose()
    assert [name for name, _w, _n in applied] == sorted(e.name for e in entries)  # once each, in order
    assert journal.count(fresh=True) == 0


def test_silent_cards_and_call_counts_replayed_once(store: SwitchableStore, ledger: Ledger, tmp_path: Path) -> None:
    from dataclasses import replace

    shown, silent = make_card("rule-shown"), replace(make_card("rule-silent"), silent=True)
    store.down = True
    for cards in ([shown, silent], []):  # a call with cards, and one that reached the rules without any
        assert ledger.record_issued(service_id="naltrexone-order-select", hook="order-select",
                                    hook_instance=new_uuid(), patient_id="patient-1", cards=cards,
                                    count_call=True) == "journaled"
    with_cards = ledger.journal.names()[0]
    saved = (ledger.journal.pending_dir / with_cards).read_bytes()
    store.down = False
    assert ledger.drain_once().complete
    (ledger.journal.pending_dir / with_cards).write_bytes(saved)  # replayed again after a crash ...
    assert ledger.drain_once().complete
    assert rows(store, "SELECT sum(calls) FROM hook_call_day") == [(2,)]  # ... the call is not counted twice
    assert sorted(rows(store, "SELECT rule_id, silent FROM issued_card")) == [("rule-shown", False),
                                                                             ("rule-silent", True)]
    with pytest.raises(FeedbackError, match="unknown card"):  # a silent card was never shown
        ledger.record_feedback("naltrexone-order-select", [overridden(silent, "benefit")])
