"""SIGKILL right after a hook response: every card the client received is in the ledger.

Why this holds: `call_service` in `cds_service/app.py` does

    await run_in_threadpool(store.record_issued, ...)   # returns only after COMMIT returned
    return _json(outcome.response)                      # the response object is built only now

`Store.record_issued` runs one transaction in `with conn.begin():` and returns only after the COMMIT
succeeded (SQLite: WAL with `synchronous=NORMAL`, so the commit record was written to the `-wal` file, which
the kernel keeps when a process dies; PostgreSQL: the separate server process acknowledged the commit).
Starlette writes the response bytes to the socket only after the endpoint returned, so a client that could
read a card uuid proves that the transaction holding that uuid was already committed. SIGKILL then only
destroys the worker's memory: what the worker handed to the kernel (SQLite file) or to the PostgreSQL server
survives. A restarted service (SQLite replays the WAL on open) sees the rows and accepts feedback on those
cards. Were the ledger written after the response (a background task, or a deferred commit), a kill between
the send and the write would lose cards the EHR already shows, and their feedback would then be refused as
"unknown card".
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.store.app_helpers import SIGN, body, feedback_for, hook_request, override, server_env
from tests.store.ledger_probe import count_feedback_rows, count_ledger_rows, count_suggestion_rows
from tests.support.uvicorn_server import UvicornServer

pytestmark = pytest.mark.slow


def test_cards_survive_sigkill_right_after_the_response(db_url: str, tmp_path: Path) -> None:
    env = server_env(db_url)
    with UvicornServer(env, workers=2, log_path=tmp_path / "first.log") as server:
        pids = [server.process.pid, *server.worker_pids()]  # type: ignore[union-attr]
        with httpx.Client(base_url=server.url, timeout=30) as http:
            http.post(f"/cds-services/{SIGN}", json=hook_request("cirrhosis-active")).raise_for_status()  # warm
            response = http.post(f"/cds-services/{SIGN}", json=hook_request("opioid-stopped-3-days"))
            cards = response.json()["cards"]  # read the card uuids ...
            received = time.perf_counter()
            server.kill()  # ... and SIGKILL supervisor and workers at once: no shutdown, no lifespan exit
            killed_after = time.perf_counter() - received
        assert response.status_code == 200
        # SIGKILL is delivered at once, but the orphaned workers are torn down and reaped asynchronously
        deadline = time.monotonic() + 10
        while (alive := [pid for pid in pids if not _dead(pid)]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive, f"processes {alive} survived SIGKILL"
    assert len(cards) == 4

    if db_url.startswith("sqlite"):  # the crash left the WAL behind, un-checkpointed
        assert Path(db_url.removeprefix("sqlite:///") + "-wal").exists()
    for card in cards:
        assert count_ledger_rows(db_url, card["uuid"]) == 1, card["source"]["topic"]["code"]
        assert count_suggestion_rows(db_url, card["uuid"]) == len(card.get("suggestions", []))

    restart = time.perf_counter()
    with UvicornServer(env, workers=2, log_path=tmp_path / "second.log") as server:
        restarted_in = time.perf_counter() - restart
        with httpx.Client(base_url=server.url, timeout=30) as http:
            items = [feedback_for(card, n) for n, card in enumerate(cards)]
            answer = http.post(f"/cds-services/{SIGN}/feedback", json=body(*items))
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"stored": 4, "received": 4}
            again = http.post(f"/cds-services/{SIGN}/feedback",
                              json=body(override(cards[0], "record-incorrect", at="2026-11-25T17:00:00Z")))
            assert again.json() == {"stored": 1, "received": 1}
    assert [count_feedback_rows(db_url, c["uuid"]) for c in cards] == [2, 1, 1, 1]
    backend = db_url.split(":", 1)[0]
    print(f"\n[{backend}] SIGKILL {killed_after * 1000:.1f} ms after the response was read; "
          f"restart of 2 workers {restarted_in:.2f} s")


def _dead(pid: int) -> bool:
    """Gone, or a zombie (state Z/X: killed, only waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True

