"""Look into a ledger database from outside the service (multi-process / SIGKILL tests).

    from tests.store.ledger_probe import count_ledger_rows
    count_ledger_rows("sqlite:////tmp/x/ledger.sqlite3", card_uuid)   # 1 once the card is durable

or, from any process: `python -m tests.store.ledger_probe URL CARD_UUID` prints the ledger row count.
Opens its own short-lived engine (never the service's Store), so it sees only committed rows.
"""

from __future__ import annotations

import sys

from sqlalchemy import Engine, Select, create_engine, func, make_url, select
from sqlalchemy.pool import NullPool

from cds_service.store.models import CardRow, FeedbackRow, SuggestionRow


def _engine(url: str) -> Engine:
    sa_url = make_url(url)
    if sa_url.drivername in ("postgres", "postgresql"):
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    return create_engine(sa_url, poolclass=NullPool)


def _count(url: str, stmt: Select[tuple[int]]) -> int:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())
    finally:
        engine.dispose()


def count_ledger_rows(url: str, card_uuid: str) -> int:
    """Number of ledger rows (issued_card) of this card uuid: 0 or 1."""
    return _count(url, select(func.count()).select_from(CardRow).where(CardRow.card_uuid == card_uuid))


def count_suggestion_rows(url: str, card_uuid: str) -> int:
    return _count(
        url, select(func.count()).select_from(SuggestionRow).where(SuggestionRow.card_uuid == card_uuid)
    )


def count_feedback_rows(url: str, card_uuid: str) -> int:
    return _count(
        url, select(func.count()).select_from(FeedbackRow).where(FeedbackRow.card_uuid == card_uuid)
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tests.store.ledger_probe DATABASE_URL CARD_UUID", file=sys.stderr)
        return 2
    print(count_ledger_rows(argv[0], argv[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
