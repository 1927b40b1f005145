"""Helpers of the store tests that go through HTTP (test_app_*.py, test_cli_report.py).

Hook requests from the fixtures (with a fresh hookInstance), feedback bodies in the exact shape the
CDS Hooks Sandbox sends (no `display` in the override reason), the env of a real uvicorn server, and
row counts / full-text scans of a ledger database opened from outside the service.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, String, cast, create_engine, func, inspect, make_url, select, table
from sqlalchemy import column as sql_column
from sqlalchemy.pool import NullPool

FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"
TODAY = "2026-11-25"
HASH_KEY = "test-patient-hash-key"
ADMIN_TOKEN = "s3cret-admin-token"
SIGN = "naltrexone-order-sign"
SELECT = "naltrexone-order-select"
REASON_SYSTEM = "urn:cds-naltrexone:override-reason"
STAMP = "2026-11-25T16:33:03.501Z"


@cache
def _fixture(scenario: str, name: str) -> dict:
    return json.loads((FIXTURES / scenario / name).read_text())


def hook_request(scenario: str, hook: str = "order-sign") -> dict:
    """The fixture request of `scenario`, with a fresh hookInstance (each call is a new one)."""
    request = copy.deepcopy(_fixture(scenario, f"{hook}.json"))
    request["hookInstance"] = str(uuid.uuid4())
    return request


def patient_of(scenario: str) -> dict:
    return _fixture(scenario, "order-sign.json")["prefetch"]["patient"]


def override(card: dict | str, code: str, *, system: str = REASON_SYSTEM, at: str = STAMP,
             comment: str | None = None) -> dict:
    """One feedback item as the CDS Hooks Sandbox sends it: the reason without its display."""
    reason: dict = {"reason": {"code": code, "system": system}}
    if comment is not None:
        reason["userComment"] = comment
    return {"card": card if isinstance(card, str) else card["uuid"], "outcome": "overridden",
            "outcomeTimestamp": at, "overrideReason": reason}


def accept(card: dict, *suggestions: str, at: str = STAMP) -> dict:
    """Accepted feedback naming suggestions of `card` (default: its first)."""
    chosen = suggestions or (card["suggestions"][0]["uuid"],)
    return {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": at,
            "acceptedSuggestions": [{"id": s} for s in chosen]}


def feedback_for(card: dict, n: int) -> dict:
    """Accepted (first suggestion) or overridden (a reason offered on the card), alternating."""
    if n % 2 and card.get("overrideReasons"):
        return override(card, card["overrideReasons"][n % len(card["overrideReasons"])]["code"])
    return accept(card)


def body(*items: dict) -> dict:
    return {"feedback": list(items)}


def by_rule(cards: list[dict]) -> dict[str, dict]:
    """Cards of one response keyed by rule id (each rule gives at most one card per call)."""
    keyed = {c["source"]["topic"]["code"]: c for c in cards}
    assert len(keyed) == len(cards), "two cards of the same rule in one response"
    return keyed


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """Environment of a real uvicorn server (auth off, fixture date, quiet logs)."""
    return {"CDS_DATABASE_URL": database_url, "CDS_AUTH_MODE": "off", "CDS_TODAY": TODAY,
            "CDS_PATIENT_HASH_KEY": HASH_KEY, "CDS_LOG_LEVEL": "WARNING", **extra}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- looking into the database from outside the service ------------------------------------------


def engine(url: str) -> Engine:
    sa_url = make_url(url)
    if sa_url.drivername in ("postgres", "postgresql"):
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    return create_engine(sa_url, poolclass=NullPool)


def count(url: str, table_name: str) -> int:
    eng = engine(url)
    try:
        with eng.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table(table_name))).scalar_one())
    finally:
        eng.dispose()


def counts(url: str) -> dict[str, int]:
    names = ("issued_card", "issued_suggestion", "issued_override_reason", "feedback", "feedback_reason",
             "feedback_accepted_suggestion")
    return {name: count(url, name) for name in names}


def find_text(url: str, needle: str) -> list[tuple[str, str, int]]:
    """(table, column, rows) of every column of every table whose value, as text, contains `needle`.

    Every column of the live schema is read and cast to text (ids, timestamps, everything), and
    matched case-sensitively in Python, so no dialect's LIKE rules decide what is found.
    """
    eng = engine(url)
    hits: dict[tuple[str, str], int] = {}
    try:
        inspector = inspect(eng)
        with eng.connect() as conn:
            for table_name in inspector.get_table_names():
                columns = [c["name"] for c in inspector.get_columns(table_name)]
                t = table(table_name, *(sql_column(c) for c in columns))
                for row in conn.execute(select(*(cast(t.c[c], String) for c in columns))):
                    for name, value in zip(columns, row, strict=True):
                        if value is not None and needle in value:
                            hits[(table_name, name)] = hits.get((table_name, name), 0) + 1
    finally:
        eng.dispose()
    return [(t, c, n) for (t, c), n in sorted(hits.items())]


# --- a real server (tests.support.uvicorn_server) --------------------------------------------------


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from cds_service.store import Store

    with Store("sqlite://", HASH_KEY) as store:
        head = ScriptDirectory.from_config(store.alembic_config()).get_current_head()
    assert head is not None
    return head
