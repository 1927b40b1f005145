"""The persistent card ledger, feedback store, JWT replay cache and override analytics.

One `Store` per process (it owns a connection pool). Every public method is synchronous and thread-safe:
call it from a threadpool in async code. Writes are short transactions committed before the method
returns; on SQLite they take the write lock up front (`BEGIN IMMEDIATE`) so concurrent writers queue on
`busy_timeout` instead of failing on a lock upgrade.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    URL,
    Connection,
    Engine,
    case,
    create_engine,
    delete,
    distinct,
    event,
    exists,
    func,
    insert,
    inspect,
    literal_column,
    make_url,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from cds_service.ops.metrics import ledger_timer
from cds_service.store.checkpoint import WalCheckpointer
from cds_service.store.models import (
    AcceptedSuggestionRow,
    CardRow,
    FeedbackReasonRow,
    FeedbackRow,
    HookCallDayRow,
    JwtReplayRow,
    OverrideReasonRow,
    SuggestionRow,
    as_utc,
)
from cds_service.store.non_adherence import non_adherence
from cds_service.store.report import DailyStats, ReasonCount, RuleStats, SuggestionStats

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
OUTCOMES = frozenset({"accepted", "overridden"})
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Key of the PostgreSQL advisory lock that serialises `migrate()` across processes.
MIGRATION_LOCK_KEY = zlib.crc32(b"cds_service.store.migrate")
_IN_CHUNK = 500  # largest IN (...) list sent at once (SQLite caps bound parameters)


@dataclass(frozen=True)
class IssuedSuggestion:
    uuid: str
    label: str


@dataclass(frozen=True)
class IssuedCard:
    """What the ledger keeps of one card sent to the EHR (no patient data)."""

    uuid: str
    rule_id: str  # the card's source.topic.code
    indicator: str
    summary: str
    suggestions: tuple[IssuedSuggestion, ...] = ()
    override_reasons: tuple[tuple[str, str, str], ...] = ()  # (system, code, display)
    silent: bool = False  # silent mode: remembered, not shown (left out of the response)


@dataclass(frozen=True)
class FeedbackItem:
    """One item of a CDS Hooks feedback POST, already parsed (outcome_timestamp: aware datetime)."""

    card: str
    outcome: str  # "accepted" | "overridden"
    accepted_suggestions: tuple[str, ...]
    reason_system: str | None
    reason_code: str | None
    user_comment: str | None  # clinician free text: stored, never logged
    outcome_timestamp: datetime
    # every reason sent ((system, code), in order: overrideReason, overrideReasons, extension reasons);
    # empty: the one in reason_system/reason_code (if any)
    reasons: tuple[tuple[str | None, str], ...] = ()

    def all_reasons(self) -> tuple[tuple[str | None, str], ...]:
        if self.reasons:
            return self.reasons
        return ((self.reason_system, self.reason_code),) if self.reason_code else ()


class FeedbackError(Exception):
    """FeedbackRow refused (nothing stored): unknown card, foreign suggestion, other service, bad outcome."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# what a PostgreSQL server answers to a connection that is set up wrong (psycopg gives no SQLSTATE at connect
# time, only the server's text): measured with psycopg 3 against PostgreSQL 15
SETUP_ERRORS = ("authentication failed", "does not exist", "no pg_hba.conf entry")


def is_unreachable(err: BaseException) -> bool:
    """The database server did not answer or is not taking connections now (refused, timed out, starting up,
    shutting down), as opposed to refusing this set-up (wrong password, unknown role or database), which no
    wait will mend. For a server, not a SQLite file: callers check the dialect."""
    if not isinstance(err, OperationalError):
        return False
    said = str(getattr(err, "orig", None) or err)
    return not any(marker in said for marker in SETUP_ERRORS)


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalise_url(database_url: str | URL) -> URL:
    """SQLAlchemy URL with PostgreSQL always driven by psycopg 3."""
    url = make_url(database_url)
    if url.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def dedupe_key(item: FeedbackItem) -> str:
    """Identity of a feedback event: same card, outcome, instant, suggestions and reason = same event."""
    payload = [
        item.card,
        item.outcome,
        as_utc(item.outcome_timestamp).isoformat(timespec="microseconds"),
        sorted(set(item.accepted_suggestions)),
        item.reason_system,
        item.reason_code,
    ]
    extra = item.all_reasons()[1:]
    if extra:  # several reasons: part of the event's identity (one reason: the same key as before)
        payload.append([list(r) for r in extra])
    return hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()


def feedback_data(item: FeedbackItem) -> dict[str, Any]:
    """A FeedbackItem as JSON-able data (the journal's form); `feedback_item` reads it back."""
    return {"card": item.card, "outcome": item.outcome, "accepted_suggestions": list(item.accepted_suggestions),
            "reason_system": item.reason_system, "reason_code": item.reason_code, "user_comment": item.user_comment,
            "outcome_timestamp": as_utc(item.outcome_timestamp).isoformat(timespec="microseconds"),
            "reasons": [list(r) for r in item.reasons]}


def feedback_item(data: dict[str, Any]) -> FeedbackItem:
    return FeedbackItem(card=data["card"], outcome=data["outcome"],
                        accepted_suggestions=tuple(data["accepted_suggestions"]),
                        reason_system=data["reason_system"], reason_code=data["reason_code"],
                        user_comment=data["user_comment"],
                        outcome_timestamp=datetime.fromisoformat(data["outcome_timestamp"]),
                        reasons=tuple((s, c) for s, c in data["reasons"]))


# the ledger's columns in the order `record_issued` sends them (checked against the models at start-up)
LEDGER_COLUMNS = {
    "card": ("card_uuid", "service_id", "hook", "hook_instance", "patient_hash", "rule_id", "indicator", "summary",
             "issued_at", "issuer", "tenant", "silent"),
    "suggestion": ("card_uuid", "suggestion_uuid", "position", "label"),
    "reason": ("card_uuid", "system", "code", "display"),
}


def _insert_sql(model: Any, columns: Sequence[str], marker: str) -> str:
    """`INSERT INTO table (a, b) VALUES (?, ?)` for the driver, from the model (unknown column: KeyError)."""
    table = model.__table__
    names = ", ".join(table.c[c].name for c in columns)
    return f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([marker] * len(columns))})"


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i : i + _IN_CHUNK]


def _set_wal(cur: Any) -> None:
    """Switch to WAL. On a brand-new file, concurrent connections may get SQLITE_BUSY here at once (the
    busy handler does not cover the journal-mode change), so retry with backoff for up to ~10 s."""
    import sqlite3
    import time

    delay = 0.005
    for _attempt in range(60):
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err):
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
    cur.execute("PRAGMA journal_mode = WAL")


class Store:
    """Card ledger + feedback + JWT replay cache on SQLite (one host) or PostgreSQL (several instances)."""

    def __init__(
        self,
        database_url: str | URL,
        patient_hash_key: str,
        *,
        pool_size: int = 5,
        max_overflow: int = 10,
        echo: bool = False,
    ) -> None:
        if not patient_hash_key:
            raise ValueError("patient_hash_key must not be empty")
        if patient_hash_key == "change-me-in-production":
            log.warning("store: CDS_PATIENT_HASH_KEY is the default value; set a secret key in production")
        self._hash_key = patient_hash_key.encode()
        self.url = normalise_url(database_url)
        self.dialect = self.url.get_backend_name()
        self._checkpointer: WalCheckpointer | None = None
        if self.dialect == "sqlite":
            self.engine = self._sqlite_engine(self.url, echo=echo)
        elif self.dialect == "postgresql":
            self.engine = create_engine(
                self.url,
                echo=echo,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=10,
                pool_pre_ping=True,
                pool_recycle=1800,
                connect_args={"connect_timeout": 10, "application_name": "cds-naltrexone"},
            )
        else:
            raise ValueError(f"unsupported database (use sqlite or postgresql): {self.dialect}")
        marker = "?" if self.dialect == "sqlite" else "%s"
        self._ledger_sql = {
            "card": _insert_sql(CardRow, LEDGER_COLUMNS["card"], marker),
            "suggestion": _insert_sql(SuggestionRow, LEDGER_COLUMNS["suggestion"], marker),
            "reason": _insert_sql(OverrideReasonRow, LEDGER_COLUMNS["reason"], marker),
            # one counter row per service and day; SQLite >= 3.24 and PostgreSQL share the upsert syntax
            "call": f"INSERT INTO {HookCallDayRow.__tablename__} (service_id, day, calls) VALUES ({marker}, "
                    f"{marker}, 1) ON CONFLICT (service_id, day) DO UPDATE SET calls = "
                    f"{HookCallDayRow.__tablename__}.calls + 1",
        }

    # --- engine --------------------------------------------------------------------------------

    def _sqlite_engine(self, url: URL, *, echo: bool) -> Engine:
        in_memory = url.database in (None, "", ":memory:")
        kwargs: dict[str, Any] = {
            "echo": echo,
            "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        }
        if in_memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy (the "begin" hook below) issue BEGIN, so DDL is transactional too.
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            try:
                cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
                if not in_memory:
                    _set_wal(cur)
                # WAL + NORMAL: a committed card survives the process being killed (the ledger's promise;
                # tested with SIGKILL) at ~0.25 ms a commit instead of ~1 ms; only an OS crash or power loss
                # can lose the last commits. Deployments that need that too use PostgreSQL.
                cur.execute("PRAGMA synchronous = NORMAL")
                if self._checkpointer is not None:
                    cur.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpointer thread does it
                cur.execute("PRAGMA foreign_keys = ON")
            finally:
                cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("sqlite_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed on exit (rolled back on error)."""
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection in a read transaction seeing one consistent snapshot."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn

    def _insert(self, model: Any) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(model)

    def start_background_checkpoints(self, **options: Any) -> WalCheckpointer | None:
        """SQLite file: WAL checkpoints from a thread from now on, not inside commits (the service does this
        at start-up; scripts and the CLI keep SQLite's automatic checkpoints). No-op elsewhere.
        `options`: WalCheckpointer's interval / restart_frames (tests)."""
        if self.dialect != "sqlite" or self.url.database in (None, "", ":memory:") or self._checkpointer:
            return self._checkpointer
        self._checkpointer = WalCheckpointer(self.url.database, **options)
        self.engine.dispose()  # pooled connections reconnect with automatic checkpoints off
        self._checkpointer.start()
        return self._checkpointer

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- migrations ----------------------------------------------------------------------------

    def alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
        cfg.set_main_option(
            "sqlalchemy.url", self.url.render_as_string(hide_password=False).replace("%", "%%")
        )
        return cfg

    @contextmanager
    def _migration_connection(self) -> Iterator[Connection]:
        """A transaction holding the migration lock (advisory lock / SQLite write lock) until commit."""
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            yield conn

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema (default: to head). Safe to call from several processes at once."""
        cfg = self.alembic_config()
        with self._migration_connection() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def downgrade(self, revision: str = "base") -> None:
        """Downgrade the schema (tests, operators). `base` drops every table of the store."""
        cfg = self.alembic_config()
        with self._migration_connection() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)

    def head_revision(self) -> str | None:
        """The revision the migrations end at (what `current_revision()` is once migrated)."""
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self.alembic_config()).get_current_head()

    def schema_revision(self) -> str | None:
        """The revision the database is at, read quietly (the readiness probe calls it every few seconds;
        alembic's MigrationContext logs each time). None when the database was never migrated."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # --- ledger --------------------------------------------------------------------------------

    def patient_hash(self, patient_id: str) -> str:
        """HMAC-SHA256(patient_hash_key, patient_id) as hex: the only form of a patient id stored."""
        return hmac.new(self._hash_key, patient_id.encode(), hashlib.sha256).hexdigest()

    def record_issued(
        self,
        *,
        service_id: str,
        hook: str,
        hook_instance: str,
        patient_id: str,
        cards: Sequence[IssuedCard],
        issued_at: datetime | None = None,
        issuer: str | None = None,
        tenant: str | None = None,
        count_call: bool = False,
    ) -> None:
        """Remember the cards of one hook call, in one transaction committed before returning.

        `issuer`/`tenant`: the verified JWT client that receives the cards (None with auth off); only it may
        post feedback on them. `count_call`: also count the call in `hook_call_day` (same transaction), the
        denominator of the analytics' "per 100 hook calls"; the service does this for every call that
        reached the rules, with or without cards."""
        if not cards and not count_call:
            return
        at = as_utc(issued_at) if issued_at is not None else utcnow()
        # SQLite keeps naive UTC text in exactly the form SQLAlchemy's DateTime writes and reads back
        stamp: Any = at.replace(tzinfo=None).isoformat(" ", "microseconds") if self.dialect == "sqlite" else at
        patient_hash = self.patient_hash(patient_id)
        card_rows = [(c.uuid, service_id, hook, hook_instance, patient_hash, c.rule_id, c.indicator, c.summary,
                      stamp, issuer, tenant, c.silent) for c in cards]
        suggestion_rows = [(c.uuid, s.uuid, i, s.label) for c in cards for i, s in enumerate(c.suggestions)]
        reason_rows = [(c.uuid, *reason) for c in cards for reason in c.override_reasons]
        # Driver-level executemany on a pooled connection (measured: 0.2 ms instead of 0.6 ms through Core
        # statements, on the path of every hook call that answers cards); same transaction, same commit.
        with ledger_timer(self.dialect):
            self._write_ledger_rows(card_rows, suggestion_rows, reason_rows,
                                    (service_id, at.date().isoformat()) if count_call else None)
        log.debug("store: recorded %d card(s) of %s/%s", len(card_rows), service_id, hook)

    def _write_ledger_rows(self, card_rows: list[tuple], suggestion_rows: list[tuple],
                           reason_rows: list[tuple], call_row: tuple[str, str] | None = None) -> None:
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                if self.dialect == "sqlite":
                    cursor.execute("BEGIN IMMEDIATE")
                if call_row is not None:  # the hook call counted with its cards, in the same commit
                    cursor.execute(self._ledger_sql["call"], call_row)
                if card_rows:
                    cursor.executemany(self._ledger_sql["card"], card_rows)
                if suggestion_rows:
                    cursor.executemany(self._ledger_sql["suggestion"], suggestion_rows)
                if reason_rows:
                    cursor.executemany(self._ledger_sql["reason"], reason_rows)
                raw.commit()
            except BaseException:
                raw.rollback()
                raise
            finally:
                cursor.close()
        finally:
            raw.close()  # back to the pool

    # --- feedback ------------------------------------------------------------------------------

    def record_feedback(self, service_id: str, items: Sequence[FeedbackItem], *, issuer: str | None = None,
                        tenant: str | None = None, received_at: datetime | None = None) -> int:
        """Validate every item, then store the new ones; returns how many were newly stored.

        Raises FeedbackError (and stores nothing) if any item names an unknown card, a card issued by
        another service, a card issued to another issuer or tenant (reported as unknown: a client learns
        nothing about others' cards), a suggestion not of that card, or an unknown outcome. Posting the same
        feedback again stores nothing new (unique dedupe key + INSERT .. ON CONFLICT DO NOTHING).
        """
        if not items:
            return 0
        for n, item in enumerate(items):
            if item.outcome not in OUTCOMES:
                raise FeedbackError(f"feedback[{n}]: outcome must be 'accepted' or 'overridden'")
        with self._write() as conn:
            stored = self._store_feedback(conn, service_id, items, issuer, tenant, received_at or utcnow())
        log.debug("store: %d feedback item(s) received, %d new", len(items), stored)
        return stored

    def _store_feedback(self, conn: Connection, service_id: str, items: Sequence[FeedbackItem],
                        issuer: str | None, tenant: str | None, received_at: datetime) -> int:
        """record_feedback's validation and inserts, inside the caller's transaction."""
        card_ids = sorted({item.card for item in items})
        keyed = sorted(((dedupe_key(item), item) for item in items), key=lambda pair: pair[0])
        services: dict[str, str] = {}
        owners: dict[str, tuple[str | None, str | None]] = {}
        suggestions: set[tuple[str, str]] = set()
        for chunk in _chunks(card_ids):
            for card_uuid, card_service, card_issuer, card_tenant in conn.execute(
                # a silent card was never shown: the EHR cannot give feedback on it (unknown card)
                select(CardRow.card_uuid, CardRow.service_id, CardRow.issuer, CardRow.tenant)
                .where(CardRow.card_uuid.in_(chunk), CardRow.silent.is_(False))
            ):
                services[card_uuid] = card_service
                owners[card_uuid] = (card_issuer, card_tenant)
            suggestions.update(
                conn.execute(
                    select(SuggestionRow.card_uuid, SuggestionRow.suggestion_uuid).where(
                        SuggestionRow.card_uuid.in_(chunk)
                    )
                ).all()
            )
        for n, item in enumerate(items):
            card_service = services.get(item.card)
            if card_service is None or owners[item.card] != (issuer, tenant):
                raise FeedbackError(f"feedback[{n}]: unknown card {item.card!r}")
            if card_service != service_id:
                raise FeedbackError(f"feedback[{n}]: card {item.card!r} was not issued by this service")
            for suggestion in item.accepted_suggestions:
                if (item.card, suggestion) not in suggestions:
                    raise FeedbackError(
                        f"feedback[{n}]: suggestion {suggestion!r} is not one of card {item.card!r}"
                    )
        stored = 0
        # Inserted in dedupe-key order: concurrent posts of overlapping batches cannot deadlock.
        for key, item in keyed:
            feedback_id = conn.execute(
                self._insert(FeedbackRow)
                .values(
                    card_uuid=item.card,
                    outcome=item.outcome,
                    reason_system=item.reason_system,
                    reason_code=item.reason_code,
                    user_comment=item.user_comment,
                    outcome_timestamp=item.outcome_timestamp,
                    received_at=received_at,
                    dedupe_key=key,
                )
                .on_conflict_do_nothing(index_elements=[FeedbackRow.dedupe_key])
                .returning(FeedbackRow.id)
            ).scalar_one_or_none()
            if feedback_id is None:
                continue  # already stored (earlier post, or twice in this one)
            stored += 1
            reasons = item.all_reasons()
            if reasons:
                conn.execute(insert(FeedbackReasonRow), [
                    {"feedback_id": feedback_id, "position": i, "system": system, "code": code}
                    for i, (system, code) in enumerate(reasons)])
            accepted = sorted(set(item.accepted_suggestions))
            if accepted:
                conn.execute(
                    insert(AcceptedSuggestionRow),
                    [
                        {"feedback_id": feedback_id, "card_uuid": item.card, "suggestion_uuid": s}
                        for s in accepted
                    ],
                )
        return stored

    # --- replay of journaled writes (cds_service.store.ledger) -----------------------------------

    def ping(self) -> None:
        """One round trip to the database (raises when it does not answer)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def replay(self, writes: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Store journaled writes (`("cards", data)` / `("feedback", data)`, the ledger module's forms) in
        order, in one transaction. Idempotent: a card already there (same uuid) and feedback already there
        (same dedupe key) are skipped, so a write replayed twice (crash after the commit) is stored once.
        A hook call is counted (`count_call`) only with cards not yet there; a call without cards has no key,
        so only a crash between a replay's commit and the removal of its entry could count it twice.
        FeedbackError: a feedback write the ledger refuses (nothing of the batch is stored).

        Cards of consecutive writes go in together (one executemany per table, the statement compiled once:
        measured 55 ms an entry one by one on a loaded machine); feedback waits for the cards before it."""
        rows: dict[Any, list[dict[str, Any]]] = {CardRow: [], SuggestionRow: [], OverrideReasonRow: []}
        calls: list[tuple[str, str, str | None]] = []  # (service_id, day, first card uuid) of counted calls

        def flush(conn: Connection) -> None:
            firsts = [first for _s, _d, first in calls if first is not None]
            there: set[str] = set()
            for chunk in _chunks(firsts):
                there.update(conn.execute(select(CardRow.card_uuid).where(CardRow.card_uuid.in_(chunk))).scalars())
            per_day: dict[tuple[str, str], int] = {}
            for service_id, day, first in calls:
                if first is None or first not in there:  # already replayed once: counted then
                    per_day[(service_id, day)] = per_day.get((service_id, day), 0) + 1
            calls.clear()
            for (service_id, day), n in sorted(per_day.items()):
                stmt = self._insert(HookCallDayRow).values(service_id=service_id, day=day, calls=n)
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=[HookCallDayRow.service_id, HookCallDayRow.day],
                    set_={"calls": HookCallDayRow.calls + stmt.excluded.calls}))
            for model, pending in rows.items():
                if pending:
                    conn.execute(self._insert(model).on_conflict_do_nothing(), pending)
                    pending.clear()

        with self._write() as conn:
            for kind, data in writes:
                if kind == "cards":
                    self._card_rows(data, rows)
                    if data.get("count_call"):
                        day = as_utc(datetime.fromisoformat(data["issued_at"])).date().isoformat()
                        calls.append((data["service_id"], day, data["cards"][0]["uuid"] if data["cards"] else None))
                elif kind == "feedback":
                    flush(conn)
                    items = [feedback_item(d) for d in data["items"]]
                    for n, item in enumerate(items):
                        if item.outcome not in OUTCOMES:
                            raise FeedbackError(f"feedback[{n}]: outcome must be 'accepted' or 'overridden'")
                    self._store_feedback(conn, data["service_id"], items, data.get("issuer"),
                                         data.get("tenant"), datetime.fromisoformat(data["received_at"]))
                else:
                    raise ValueError(f"unknown journaled write {kind!r}")
            flush(conn)

    @staticmethod
    def _card_rows(data: dict[str, Any], rows: dict[Any, list[dict[str, Any]]]) -> None:
        at = as_utc(datetime.fromisoformat(data["issued_at"]))
        cards = data["cards"]
        rows[CardRow].extend(
            {"card_uuid": c["uuid"], "service_id": data["service_id"], "hook": data["hook"],
             "hook_instance": data["hook_instance"], "patient_hash": data["patient_hash"], "rule_id": c["rule_id"],
             "indicator": c["indicator"], "summary": c["summary"], "issued_at": at, "issuer": data.get("issuer"),
             "tenant": data.get("tenant"), "silent": bool(c.get("silent", False))} for c in cards)
        rows[SuggestionRow].extend({"card_uuid": c["uuid"], "suggestion_uuid": u, "position": i, "label": label}
                                   for c in cards for i, (u, label) in enumerate(c.get("suggestions", ())))
        rows[OverrideReasonRow].extend({"card_uuid": c["uuid"], "system": system, "code": code, "display": display}
                                       for c in cards for system, code, display in c.get("override_reasons", ()))

    # --- JWT replay cache ----------------------------------------------------------------------

    def remember_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
        """True the first time (iss, jti) is seen (or after its previous entry expired), else False.

        One atomic statement (INSERT .. ON CONFLICT DO UPDATE .. WHERE expired), so it is correct across
        threads, processes and hosts sharing the database.
        """
        now = utcnow()
        stmt = self._insert(JwtReplayRow).values(iss=iss, jti=jti, expires_at=as_utc(expires_at))
        stmt = stmt.on_conflict_do_update(
            index_elements=[JwtReplayRow.iss, JwtReplayRow.jti],
            set_={"expires_at": stmt.excluded.expires_at},
            where=JwtReplayRow.expires_at <= now,
        ).returning(JwtReplayRow.id)
        with self._write() as conn:
            return conn.execute(stmt).first() is not None

    # --- retention -----------------------------------------------------------------------------

    def purge(self, older_than: datetime) -> int:
        """Delete cards issued before `older_than` with their suggestions, reasons and feedback, and the
        expired JWT replay entries. Returns the number of rows removed (all tables)."""
        cutoff = as_utc(older_than)
        old_cards = select(CardRow.card_uuid).where(CardRow.issued_at < cutoff)
        old_feedback = select(FeedbackRow.id).where(FeedbackRow.card_uuid.in_(old_cards))
        statements = [
            delete(FeedbackReasonRow).where(FeedbackReasonRow.feedback_id.in_(old_feedback)),
            delete(AcceptedSuggestionRow).where(AcceptedSuggestionRow.card_uuid.in_(old_cards)),
            delete(FeedbackRow).where(FeedbackRow.card_uuid.in_(old_cards)),
            delete(OverrideReasonRow).where(OverrideReasonRow.card_uuid.in_(old_cards)),
            delete(SuggestionRow).where(SuggestionRow.card_uuid.in_(old_cards)),
            delete(CardRow).where(CardRow.issued_at < cutoff),
            delete(JwtReplayRow).where(JwtReplayRow.expires_at <= utcnow()),
            delete(HookCallDayRow).where(HookCallDayRow.day < cutoff.date().isoformat()),
        ]
        removed = 0
        with self._write() as conn:
            for stmt in statements:
                removed += conn.execute(stmt).rowcount or 0
        log.info("store: purge before %s removed %d row(s)", cutoff.isoformat(), removed)
        return removed

    # --- analytics -----------------------------------------------------------------------------

    @staticmethod
    def _window(since: datetime | None, until: datetime | None, service_id: str | None) -> Any:
        """A filter for statements over issued cards: issued in [since, until), by `service_id` if given."""

        def window(stmt: Any) -> Any:
            if since is not None:
                stmt = stmt.where(CardRow.issued_at >= as_utc(since))
            if until is not None:
                stmt = stmt.where(CardRow.issued_at < as_utc(until))
            if service_id is not None:
                stmt = stmt.where(CardRow.service_id == service_id)
            return stmt

        return window

    @staticmethod
    def _calls_query(since: datetime | None, until: datetime | None, service_id: str | None = None) -> Any:
        """Hook calls per UTC day (of `service_id`, when given); a day counts when any of it lies inside
        [since, until)."""
        calls_q = select(HookCallDayRow.day, func.sum(HookCallDayRow.calls)).group_by(HookCallDayRow.day)
        if since is not None:
            calls_q = calls_q.where(HookCallDayRow.day >= as_utc(since).date().isoformat())
        if until is not None:
            end = as_utc(until)
            last = end.date() if end.time() != datetime.min.time() else end.date() - timedelta(days=1)
            calls_q = calls_q.where(HookCallDayRow.day <= last.isoformat())
        if service_id is not None:
            calls_q = calls_q.where(HookCallDayRow.service_id == service_id)
        return calls_q.order_by(HookCallDayRow.day)

    def hook_calls(self, since: datetime | None = None, until: datetime | None = None, *,
                   service_id: str | None = None) -> dict[str, int]:
        """Hook calls that reached the rules (all services, or `service_id`), per UTC day:
        `{"2026-11-25": 12, ...}`."""
        with self._read() as conn:
            return {d: int(n) for d, n in conn.execute(self._calls_query(since, until, service_id))}

    def _utc_day(self) -> Any:
        """`YYYY-MM-DD` of `issued_at`, in UTC, as SQL."""
        if self.dialect == "sqlite":  # naive UTC text 'YYYY-MM-DD HH:MM:SS...'
            return func.substr(CardRow.issued_at, literal_column("1"), literal_column("10"))
        # literals, not bound parameters: PostgreSQL must see the same expression in GROUP BY
        return func.to_char(func.timezone(literal_column("'UTC'"), CardRow.issued_at),
                            literal_column("'YYYY-MM-DD'"))

    def _daily_rows(self, conn: Any, since: datetime | None, until: datetime | None,
                    service_id: str | None) -> list[DailyStats]:
        window = self._window(since, until, service_id)
        day = self._utc_day()
        issued_q = window(select(CardRow.rule_id, day.label("day"), CardRow.silent, func.count())
                          .group_by(CardRow.rule_id, day, CardRow.silent))
        final = _final_outcomes()  # one outcome per card, as in `analytics`: accepted + overridden <= issued
        outcome_q = window(
            select(CardRow.rule_id, day.label("day"), final.c.outcome, func.count())
            .join_from(final, CardRow, final.c.card_uuid == CardRow.card_uuid)
            .where(CardRow.silent.is_(False))
            .group_by(CardRow.rule_id, day, final.c.outcome)
        )
        issued: dict[tuple[str, str], list[int]] = {}  # (rule, day) -> [shown, silent]
        for rule, d, silent, n in conn.execute(issued_q):
            issued.setdefault((rule, d), [0, 0])[1 if silent else 0] += int(n)
        outcomes = {(rule, d, outcome): int(n) for rule, d, outcome, n in conn.execute(outcome_q)}
        calls = {d: int(n) for d, n in conn.execute(self._calls_query(since, until, service_id))}
        return [
            DailyStats(rule_id=rule, day=date.fromisoformat(d), issued=n[0],
                       accepted=outcomes.get((rule, d, "accepted"), 0),
                       overridden=outcomes.get((rule, d, "overridden"), 0),
                       silent=n[1], hook_calls=calls.get(d, 0))
            for (rule, d), n in sorted(issued.items())
        ]

    def daily(self, since: datetime | None = None, until: datetime | None = None, *,
              service_id: str | None = None) -> list[DailyStats]:
        """Per rule id and UTC day of issue, over the cards issued in [since, until) (by `service_id`, when
        given): cards shown (`issued`), and of them how many were accepted / overridden (cards, as in
        `analytics`); cards kept silent (silent mode); the hook calls of that day that reached the rules.

        A card counts on the day it was issued, whenever its feedback came, by its final outcome (as in
        `analytics`): the override rate of a day is that of the cards shown that day. Days without cards
        (shown or silent) are absent.
        """
        with self._read() as conn:
            return self._daily_rows(conn, since, until, service_id)

    def analytics(self, since: datetime | None = None, until: datetime | None = None, *,
                  service_id: str | None = None) -> list[RuleStats]:
        """Per rule id, over the cards issued in [since, until) (by `service_id`, when given): issued,
        accepted, overridden, override rate, override reasons (most frequent first, display from the issued
        card), suggestion acceptance; silent cards, the hook calls of the period and, per UTC day, shown and
        silent cards next to the hook calls of that day (`daily`, as `Store.daily`).

        Silent cards (silent mode) were never shown: they count only in `silent`, never in issued, feedback
        or suggestion figures.

        Accepted / overridden / reason counts count cards (a card posted twice with different timestamps
        counts once). A card with both outcomes counts by its latest feedback (`_final_outcomes`); every
        event stays stored. Each reason of an event counts (`overrideReasons`); reasons are
        also rolled up by HL7 non-adherence reason code where one fits (`non_adherence`). All aggregation
        happens in SQL (the HL7 roll-up in Python over the same snapshot).
        """
        window = self._window(since, until, service_id)
        final = _final_outcomes()
        issued_q = window(select(CardRow.rule_id, CardRow.silent, func.count())
                          .group_by(CardRow.rule_id, CardRow.silent))
        outcome_q = window(
            select(CardRow.rule_id, final.c.outcome, func.count())
            .join_from(final, CardRow, final.c.card_uuid == CardRow.card_uuid)
            .where(CardRow.silent.is_(False))
            .group_by(CardRow.rule_id, final.c.outcome)
        )
        display = (
            select(func.max(OverrideReasonRow.display))
            .where(
                OverrideReasonRow.card_uuid == FeedbackRow.card_uuid,
                OverrideReasonRow.code == FeedbackReasonRow.code,
                or_(
                    FeedbackReasonRow.system.is_(None), OverrideReasonRow.system == FeedbackReasonRow.system
                ),
            )
            .scalar_subquery()
        )
        # reasons of the override events of cards whose outcome is overridden
        given = window(
            select(
                CardRow.rule_id,
                FeedbackRow.card_uuid,
                FeedbackReasonRow.system,
                FeedbackReasonRow.code,
                display.label("display"),
            )
            .join_from(FeedbackReasonRow, FeedbackRow, FeedbackReasonRow.feedback_id == FeedbackRow.id)
            .join(final, final.c.card_uuid == FeedbackRow.card_uuid)
            .join(CardRow, FeedbackRow.card_uuid == CardRow.card_uuid)
            .where(FeedbackRow.outcome == "overridden", final.c.outcome == "overridden", CardRow.silent.is_(False))
        ).subquery()
        n_cards = func.count(distinct(given.c.card_uuid))
        reasons_q = (
            select(
                given.c.rule_id,
                given.c.system,
                given.c.code,
                func.max(given.c.display),
                n_cards,
            )
            .group_by(given.c.rule_id, given.c.system, given.c.code)
            .order_by(given.c.rule_id, n_cards.desc(), given.c.code, given.c.system)
        )
        non_adherence_q = select(given.c.rule_id, given.c.card_uuid, given.c.system, given.c.code)
        was_accepted = (
            exists()
            .where(
                AcceptedSuggestionRow.card_uuid == SuggestionRow.card_uuid,
                AcceptedSuggestionRow.suggestion_uuid == SuggestionRow.suggestion_uuid,
            )
            .correlate(SuggestionRow)
        )
        suggestions_q = window(
            select(
                CardRow.rule_id,
                SuggestionRow.label,
                func.count(),
                func.coalesce(func.sum(case((was_accepted, 1), else_=0)), 0),
            )
            .join_from(SuggestionRow, CardRow, SuggestionRow.card_uuid == CardRow.card_uuid)
            .where(CardRow.silent.is_(False))
            .group_by(CardRow.rule_id, SuggestionRow.label)
            .order_by(CardRow.rule_id, func.min(SuggestionRow.position), SuggestionRow.label)
        )

        with self._read() as conn:
            issued: dict[str, list[int]] = {}  # rule -> [shown, silent]
            for rule, silent, n in conn.execute(issued_q):
                issued.setdefault(rule, [0, 0])[1 if silent else 0] += int(n)
            hook_calls = sum(int(n) for _, n in conn.execute(self._calls_query(since, until, service_id)))
            days: dict[str, list[DailyStats]] = {}
            for d in self._daily_rows(conn, since, until, service_id):
                days.setdefault(d.rule_id, []).append(d)
            outcomes = {(rule, outcome): n for rule, outcome, n in conn.execute(outcome_q)}
            reasons: dict[str, list[ReasonCount]] = {}
            for rule, system, code, disp, n in conn.execute(reasons_q):
                reasons.setdefault(rule, []).append(
                    ReasonCount(code=code, display=disp, count=n, system=system,
                                non_adherence=non_adherence(system, code))
                )
            mapped: dict[str, dict[tuple[str, str], set[str]]] = {}
            for rule, card, system, code in conn.execute(non_adherence_q):
                hl7 = non_adherence(system, code)
                if hl7 is not None:
                    mapped.setdefault(rule, {}).setdefault(hl7, set()).add(card)
            suggestions: dict[str, list[SuggestionStats]] = {}
            for rule, label, n_issued, n_accepted in conn.execute(suggestions_q):
                suggestions.setdefault(rule, []).append(
                    SuggestionStats(label=label, issued=int(n_issued), accepted=int(n_accepted))
                )
        return [
            RuleStats(
                rule_id=rule,
                issued=issued[rule][0],
                silent=issued[rule][1],
                hook_calls=hook_calls,
                daily=tuple(days.get(rule, ())),
                accepted=int(outcomes.get((rule, "accepted"), 0)),
                overridden=int(outcomes.get((rule, "overridden"), 0)),
                override_reasons=tuple(reasons.get(rule, ())),
                suggestions=tuple(suggestions.get(rule, ())),
                non_adherence=tuple(sorted(((c, d, len(cards)) for (c, d), cards in mapped.get(rule, {}).items()),
                                           key=lambda x: (-x[2], x[0]))),
            )
            for rule in sorted(issued)
        ]


def _final_outcomes() -> Any:
    """One outcome per card: its latest feedback by outcomeTimestamp; at the same instant an override wins
    over an acceptance (a committee must see every override), then the later arrival.

    A card accepted and later overridden counts as overridden; every event stays stored. The same instant
    needs a rule of its own because one post's items are inserted in dedupe-key order (no deadlocks), so
    their row ids do not follow the order the EHR sent them in.
    """
    overridden_first = case((FeedbackRow.outcome == "overridden", 1), else_=0)
    ranked = select(
        FeedbackRow.card_uuid,
        FeedbackRow.outcome,
        func.row_number().over(
            partition_by=FeedbackRow.card_uuid,
            order_by=(FeedbackRow.outcome_timestamp.desc(), overridden_first.desc(), FeedbackRow.id.desc()),
        ).label("rank"),
    ).subquery()
    return select(ranked.c.card_uuid, ranked.c.outcome).where(ranked.c.rank == 1).subquery()
