"""Two uvicorn workers on one database: every feedback stored exactly once, under parallel load.

The server starts on an EMPTY database, so both workers run `store.migrate()` at the same time in their
lifespan (SQLite: BEGIN IMMEDIATE write lock; PostgreSQL: advisory lock): neither may crash.
Every request opens a new TCP connection, so the kernel hands them to both workers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cds_service.store import Store
from cds_service.store.models import FeedbackRow
from tests.store.app_helpers import (
    HASH_KEY,
    SIGN,
    body,
    count,
    counts,
    cpu_ticks,
    engine,
    feedback_for,
    head_revision,
    hook_request,
    server_env,
)
from tests.support.uvicorn_server import UvicornServer

pytestmark = pytest.mark.slow

HOOK_CALLS = 55  # x 4 cards (opioid-stopped-3-days) = 220 cards: 200 for the main rounds, 20 for races
THREADS = 24


def parallel(fn: Callable[[Any], Any], args: Iterable[Any]) -> tuple[list[Any], float]:
    start = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(fn, args))
    return results, time.perf_counter() - start


def wait_for_startups(log: Path, n: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text()
        if text.count("Application startup complete") >= n or time.monotonic() > deadline:
            assert text.count("Application startup complete") == n, text
            return text
        time.sleep(0.05)


def stored_feedback(url: str) -> tuple[int, int, set[str]]:
    """(rows, distinct cards, card uuids) of the feedback table."""
    eng = engine(url)
    try:
        with eng.connect() as conn:
            rows, distinct = conn.execute(
                select(func.count(), func.count(FeedbackRow.card_uuid.distinct()))
            ).one()
            cards = set(conn.execute(select(FeedbackRow.card_uuid)).scalars())
    finally:
        eng.dispose()
    return int(rows), int(distinct), cards


def test_two_workers_store_each_feedback_exactly_once(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "uvicorn.log"
    timings: dict[str, float] = {}
    start = time.perf_counter()
    with UvicornServer(server_env(db_url), workers=2, log_path=log) as server:
        timings["start-up of 2 workers on an empty database (both migrate)"] = time.perf_counter() - start
        workers = server.worker_pids()
        assert len(workers) == 2, server.log_tail()
        # both workers ran their lifespan (migrate) and came up; nobody crashed on the concurrent migration
        # (the server answers as soon as ONE worker is up: wait for the other one's lifespan)
        text = wait_for_startups(log, 2)
        timings["until both workers completed start-up"] = time.perf_counter() - start
        assert "Traceback" not in text and "ERROR" not in text, text
        with Store(db_url, HASH_KEY) as store:
            assert store.current_revision() == head_revision()
        assert count(db_url, "alembic_version") == 1

        cpu_before = {pid: cpu_ticks(pid) for pid in workers}

        def post(path: str, payload: dict) -> httpx.Response:
            """A client of its own per request: a new TCP connection, accepted by whichever worker is free.
            (One client without keep-alive shared by the threads once failed in CI with EBADF: its pool closed
            a socket another thread was reading.)"""
            with httpx.Client(base_url=server.url, timeout=60) as client:
                return client.post(path, json=payload)

        def call_hook(_: int) -> list[dict]:
            response = post(f"/cds-services/{SIGN}", hook_request("opioid-stopped-3-days"))
            assert response.status_code == 200, response.text
            return response.json()["cards"]

        responses, timings["issue: 55 hook calls (220 cards)"] = parallel(call_hook, range(HOOK_CALLS))
        cards = [card for cards in responses for card in cards]
        assert len(cards) == 4 * HOOK_CALLS == 220
        assert len({c["uuid"] for c in cards}) == 220
        assert count(db_url, "issued_card") == 220  # every card sent is in the ledger

        def send(item: dict) -> dict:
            response = post(f"/cds-services/{SIGN}/feedback", body(item))
            assert response.status_code == 200, response.text
            return response.json()

        items = [feedback_for(card, n) for n, card in enumerate(cards[:200])]
        assert {i["outcome"] for i in items} == {"accepted", "overridden"}
        answers, timings["200 distinct feedback posts"] = parallel(send, items)
        assert answers == [{"stored": 1, "received": 1}] * 200
        rows, distinct, stored_cards = stored_feedback(db_url)
        assert (rows, distinct) == (200, 200)  # none lost, none duplicated
        assert stored_cards == {c["uuid"] for c in cards[:200]}
        accepted_rows = count(db_url, "feedback_accepted_suggestion")
        assert accepted_rows == sum(i["outcome"] == "accepted" for i in items)

        replay = items[:]
        random.Random(7).shuffle(replay)
        answers, timings["200 replayed feedback posts"] = parallel(send, replay)
        assert answers == [{"stored": 0, "received": 1}] * 200
        assert stored_feedback(db_url)[:2] == (200, 200)
        assert count(db_url, "feedback_accepted_suggestion") == accepted_rows

        # racing duplicates: 20 new feedback items, each posted 5 times at once -> each stored once
        racing = [feedback_for(card, n) for n, card in enumerate(cards[200:])] * 5
        random.Random(11).shuffle(racing)
        answers, timings["100 racing posts of 20 new items"] = parallel(send, racing)
        assert sum(a["stored"] for a in answers) == 20
        assert stored_feedback(db_url)[:2] == (220, 220)

        cpu = {pid: cpu_ticks(pid) - cpu_before[pid] for pid in workers}
        assert all(ticks > 0 for ticks in cpu.values()), f"a worker did nothing: {cpu}"
        assert "Traceback" not in log.read_text(), server.log_tail()
    assert counts(db_url)["issued_card"] == 220
    backend = db_url.split(":", 1)[0]
    print(f"\n[{backend}] " + "; ".join(f"{k}: {v:.2f} s" for k, v in timings.items())
          + f"; worker CPU ticks {sorted(cpu.values())}")
