"""The ledger as the app uses it: the database when it answers, the local journal when it does not.

Why: a hook call must answer with its cards whatever the database does (no guidance at all is worse than
guidance not yet recorded), and every card the EHR received must reach the ledger (feedback names cards by
uuid). So `Ledger.record_issued` writes to the database; when that fails it writes the cards to the journal
(fsynced) before returning, and from then on goes straight to the journal (no connection attempt on the
path of a hook call) until the background drainer finds the database back. The drainer replays the journal
in order (cards before the feedback on them), exactly once (inserts keyed on card uuids and feedback dedupe
keys), with exponential backoff, and also at start-up (entries left by a previous run or another worker).

Feedback goes to the journal too while the database is down, or while entries are pending (its card may be
one of them: replaying in order keeps it valid). It is validated against the card when replayed; one refused
then (unknown card, other issuer) is kept in the journal's rejected/ directory and logged. Feedback neither
the database nor the journal can take raises LedgerUnavailable (the app answers 503: the EHR retries).

The JWT replay cache falls back to an in-process one while the database is down (refusing every call would
take guidance down too): a token replayed to another worker during the outage is not caught.

Framework-free: stdlib, SQLAlchemy (through Store) and the metrics module.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import URL
from sqlalchemy.exc import DataError, IntegrityError

from cds_service.ops import metrics
from cds_service.store.journal import DrainResult, Entry, Journal, JournalUnavailable, RejectEntry
from cds_service.store.store import FeedbackError, FeedbackItem, IssuedCard, Store, feedback_data

log = logging.getLogger(__name__)

# an entry that raises one of these when replayed alone can never be stored: set aside, not retried
PERMANENT_ERRORS = (FeedbackError, IntegrityError, DataError, KeyError, TypeError, ValueError)
MAX_MEMORY_JTIS = 100_000


class LedgerUnavailable(Exception):
    """Neither the database nor the journal could take the write (answer 503: the client retries)."""


@dataclass(frozen=True, slots=True)
class LedgerStatus:
    database_down: bool
    database_error: str | None  # exception type of the failure that opened the breaker
    pending: int  # entries waiting in the journal (all processes)
    rejected: int  # entries set aside for good
    max_entries: int
    journal_error: str | None  # why the journal cannot take writes now (None: it can)


def default_journal_dir(url: URL) -> Path | None:
    """Beside a SQLite file (`ledger.sqlite3` -> `ledger.sqlite3.journal/`), `./cds-journal` for a server
    database, None for an in-memory SQLite database (nothing outlives the process anyway)."""
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        return Path(url.database).with_name(Path(url.database).name + ".journal")
    return Path("cds-journal")


def cards_data(store: Store, *, service_id: str, hook: str, hook_instance: str, patient_id: str,
               cards: Sequence[IssuedCard], issued_at: datetime, issuer: str | None,
               tenant: str | None, count_call: bool = False) -> dict[str, Any]:
    """One hook call's cards as a journal entry: what the ledger stores, the patient id already hashed."""
    return {
        "service_id": service_id, "hook": hook, "hook_instance": hook_instance,
        "patient_hash": store.patient_hash(patient_id), "issued_at": issued_at.isoformat(timespec="microseconds"),
        "issuer": issuer, "tenant": tenant, "count_call": count_call,
        "cards": [{"uuid": c.uuid, "rule_id": c.rule_id, "indicator": c.indicator, "summary": c.summary,
                   "suggestions": [[s.uuid, s.label] for s in c.suggestions],
                   "override_reasons": [list(r) for r in c.override_reasons], "silent": c.silent} for c in cards],
    }


class _MemoryJtis:
    """(iss, jti) seen while the database was down, until they expire (bounded)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def seen(self, iss: str, jti: str) -> bool:
        with self._lock:
            expiry = self._seen.get((iss, jti))
            return expiry is not None and expiry > time.time()

    def remember(self, iss: str, jti: str, expires_at: datetime) -> bool:
        now = time.time()
        with self._lock:
            expiry = self._seen.get((iss, jti))
            if expiry is not None and expiry > now:
                return False
            if len(self._seen) >= MAX_MEMORY_JTIS:
                for key in [k for k, exp in self._seen.items() if exp <= now]:
                    del self._seen[key]
                while len(self._seen) >= MAX_MEMORY_JTIS:
                    del self._seen[min(self._seen, key=self._seen.__getitem__)]
            self._seen[(iss, jti)] = expires_at.timestamp()
            return True


class Ledger:
    """Store writes with the journal as fallback, and the drainer that replays it. One per process."""

    def __init__(self, store: Store, journal: Journal | None = None, *, retry_initial: float = 0.5,
                 retry_max: float = 15.0, poll_interval: float = 1.0, batch_size: int = 100) -> None:
        self.store = store
        self._own_dir: Path | None = None
        if journal is None:  # in-memory database: a private journal, removed on close
            self._own_dir = Path(tempfile.mkdtemp(prefix="cds-journal-"))
            journal = Journal(self._own_dir)
        self.journal = journal
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self._down = False
        self._error: str | None = None
        self._state_lock = threading.Lock()
        self._drain_mutex = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._jtis = _MemoryJtis()
        self._migrate: Callable[[], None] | None = None  # start-up could not migrate: the drainer does it first

    # --- state ---------------------------------------------------------------------------------

    @property
    def database_down(self) -> bool:
        return self._down

    def _failed(self, operation: str, err: BaseException) -> None:
        metrics.observe_ledger_failure(operation)
        with self._state_lock:
            was_down, self._down, self._error = self._down, True, type(err).__name__
        if not was_down:  # one line per outage, not per call (the driver's text may hold the URL: type only)
            log.warning("ledger: database operation '%s' failed (%s); cards and feedback go to the journal in %s "
                        "until the database answers again", operation, type(err).__name__, self.journal.directory)

    def _recovered(self) -> None:
        with self._state_lock:
            was_down, self._down, self._error = self._down, False, None
        if was_down:
            log.warning("ledger: database answers again; writing to it directly")

    def status(self) -> LedgerStatus:
        pending = self.journal.count(fresh=True)
        metrics.observe_journal_pending(pending)
        if pending >= self.journal.max_entries:
            journal_error: str | None = f"full ({pending} of {self.journal.max_entries} entries)"
        else:
            journal_error = self.journal.writable()
        return LedgerStatus(self._down, self._error, pending, self.journal.rejected_count(),
                            self.journal.max_entries, journal_error)

    # --- writes --------------------------------------------------------------------------------

    def _append(self, kind: str, data: dict[str, Any]) -> None:
        try:
            self.journal.append(kind, data)
        except JournalUnavailable as err:
            metrics.observe_journal_write(kind, err.reason)
            raise
        metrics.observe_journal_write(kind, "written")

    def record_issued(self, *, service_id: str, hook: str, hook_instance: str, patient_id: str,
                      cards: Sequence[IssuedCard], issuer: str | None = None, tenant: str | None = None,
                      count_call: bool = False) -> str:
        """Record one hook call's cards (and count the call, `count_call`) before its response: "stored"
        (database), "journaled", or "lost" (neither could take them: logged as an error; the response still
        carries the cards). Nothing to record: "stored"."""
        if not cards and not count_call:
            return "stored"
        at = datetime.now(UTC)
        if not self._down:
            try:
                self.store.record_issued(service_id=service_id, hook=hook, hook_instance=hook_instance,
                                         patient_id=patient_id, cards=cards, issued_at=at, issuer=issuer,
                                         tenant=tenant, count_call=count_call)
                return "stored"
            except Exception as err:  # any failure: the cards must still be recorded somewhere
                self._failed("cards", err)
        data = cards_data(self.store, service_id=service_id, hook=hook, hook_instance=hook_instance,
                          patient_id=patient_id, cards=cards, issued_at=at, issuer=issuer, tenant=tenant,
                          count_call=count_call)
        try:
            self._append("cards", data)
        except JournalUnavailable as err:
            log.error("ledger: %d card(s) of %s NOT recorded: the database is down and the journal cannot take "
                      "them (%s); the response still carries them (see /readyz)", len(cards), service_id,
                      err.message)
            return "lost"
        return "journaled"

    def record_feedback(self, service_id: str, items: Sequence[FeedbackItem], *, issuer: str | None = None,
                        tenant: str | None = None) -> tuple[int, int]:
        """(stored, queued): stored in the database now, or queued in the journal for replay. FeedbackError:
        refused (database up, nothing pending). LedgerUnavailable: nowhere to keep it (answer 503)."""
        if not items:
            return 0, 0
        received_at = datetime.now(UTC)
        if not self._down and not self.journal.has_pending():
            try:
                return self.store.record_feedback(service_id, items, issuer=issuer, tenant=tenant,
                                                  received_at=received_at), 0
            except FeedbackError:
                raise
            except Exception as err:
                self._failed("feedback", err)
        data = {"service_id": service_id, "issuer": issuer, "tenant": tenant,
                "received_at": received_at.isoformat(timespec="microseconds"),
                "items": [feedback_data(item) for item in items]}
        try:
            self._append("feedback", data)
        except JournalUnavailable as err:
            log.error("ledger: feedback refused with 503: the database is down and the journal cannot take it "
                      "(%s)", err.message)
            raise LedgerUnavailable(err.message) from None
        return 0, len(items)

    def remember_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
        """The JWT replay cache: the database's, or an in-process one while the database is down."""
        if not self._down:
            try:
                first = self.store.remember_jti(iss, jti, expires_at)
            except Exception as err:
                self._failed("replay-cache", err)
            else:
                return first and not self._jtis.seen(iss, jti)  # also refuse a jti used during the outage
        return self._jtis.remember(iss, jti, expires_at)

    # --- replay --------------------------------------------------------------------------------

    def _replay(self, batch: Sequence[Entry]) -> None:
        try:
            self.store.replay([(e.kind, e.data) for e in batch])
        except PERMANENT_ERRORS as err:
            if len(batch) == 1:
                raise RejectEntry(f"{type(err).__name__}: {err}" if isinstance(err, FeedbackError)
                                  else type(err).__name__) from None
            raise
        # the database takes writes again: new calls go to it at once, not into the journal being drained
        # (which would then grow as fast as it drains under load)
        self._recovered()

    def drain_once(self, *, wait: bool = False) -> DrainResult:
        """Replay what is pending now (unless another process is at it: `locked_out`, or `wait` for it)."""
        with self._drain_mutex:  # the outcome below is this drain's: another thread's cannot overtake it
            return self._drain(wait)

    def _drain(self, wait: bool) -> DrainResult:
        result = self.journal.drain(self._replay, batch_size=self.batch_size, wait=wait,
                                    stop=self._stopping.is_set)
        for kind in ("cards", "feedback"):
            n = sum(1 for e in result.replayed if e.kind == kind)
            if n:
                metrics.observe_journal_replay(kind, "stored", n)
        for entry, _why in result.rejected:
            metrics.observe_journal_replay(entry.kind if isinstance(entry, Entry) else "unreadable", "rejected")
        if result.replayed:
            log.info("ledger: %d journal entr%s replayed into the database", len(result.replayed),
                     "y" if len(result.replayed) == 1 else "ies")
        if result.error is not None:
            self._failed("replay", result.error)
        elif not result.locked_out:
            self._recovered()
        metrics.observe_journal_pending(self.journal.count(fresh=True))
        return result

    def _probe(self) -> None:
        try:
            self.store.ping()
        except Exception as err:
            self._failed("probe", err)
            raise
        self._recovered()

    def defer_migration(self, migrate: Callable[[], None], err: BaseException) -> None:
        """Start-up found the database unreachable: serve degraded (cards and feedback to the journal) and let
        the drainer migrate the schema once the database answers, before it replays anything."""
        self._migrate = migrate
        self._failed("migrate", err)
        log.error("ledger: the database did not answer at start-up (%s); serving with the journal, migrating "
                  "when it answers", type(err).__name__)

    def _migrate_if_deferred(self) -> None:
        if self._migrate is not None:
            self._migrate()  # raises while the database is still unreachable: the round fails, backs off
            self._migrate = None
            log.warning("ledger: database answers; schema migrated after a start-up without it")

    def _run(self) -> None:
        delay = self.retry_initial
        while not self._stopping.is_set():
            failing, busy = False, False
            try:
                self._migrate_if_deferred()
                pending = self.journal.count(fresh=True)
                metrics.observe_journal_pending(pending)
                if pending:
                    result = self.drain_once()
                    failing = result.error is not None
                    busy = bool(result.replayed)
                    if result.locked_out and self._down:
                        self._probe()
                elif self._down:
                    self._probe()
            except Exception as err:  # the drainer must not die: a probe failure, a full disk...
                failing = True
                log.debug("ledger: drainer round failed (%s)", type(err).__name__)
            if failing:
                wait, delay = delay, min(delay * 2, self.retry_max)
            else:
                wait, delay = (0.0 if busy else self.poll_interval), self.retry_initial
            self._stopping.wait(wait)

    def start(self) -> None:
        """Start the drainer thread (its first round drains what a previous run left)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="cds-ledger-drainer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def close(self) -> None:
        self.stop()
        if self._own_dir is not None:
            with contextlib.suppress(OSError):
                if not self.journal.has_pending():
                    shutil.rmtree(self._own_dir)
