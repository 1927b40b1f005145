"""Ledger down, guidance up, at start-up too (issue 17, finding 11): a worker that starts while PostgreSQL does
not answer serves degraded, and migrates and drains once the database is back.

Found in a full `make test` run: during the one-minute outage test, uvicorn replaced a worker (its
health check had timed out on the loaded machine); the new worker's start-up migration failed with the
database down, and uvicorn stops the whole supervisor when a worker fails its start-up, so every later call
was refused. Each test here runs its own PostgreSQL instance (it is stopped and restarted)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.store.app_helpers import SIGN, engine, hook_request, server_env
from tests.store.test_outage_postgres import ready_and_drained, readyz, wait_for
from tests.support.servers import PostgresServer
from tests.support.uvicorn_server import UvicornServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def card_uuids(http: httpx.Client, calls: int) -> list[str]:
    """`calls` hook calls, each answered 200 with its cards; their uuids."""
    uuids = []
    for _ in range(calls):
        response = http.post(f"/cds-services/{SIGN}", json=hook_request("opioid-stopped-3-days"))
        assert response.status_code == 200, response.text[:300]
        cards = response.json()["cards"]
        assert [c["source"]["topic"]["code"] for c in cards], "no cards"
        uuids += [c["uuid"] for c in cards]
    return uuids


def stored(url: str) -> set[str]:
    eng = engine(url)
    try:
        with eng.connect() as conn:
            return {r[0] for r in conn.execute(text("SELECT card_uuid FROM issued_card"))}
    finally:
        eng.dispose()


def replaced(server: UvicornServer, before: list[int], seconds: float = 120) -> str:
    """Once uvicorn has replaced a killed worker of `before` and the new worker's start-up has ended: its line."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.process is not None and server.process.poll() is None, server.log_tail()
        pids = server.worker_pids()
        new = [p for p in pids if p not in before]
        assert server.log_path is not None
        ended = [line for line in server.log_path.read_text(errors="replace").splitlines()
                 if "Application startup" in line and any(f'"pid":{p}' in line for p in new)]
        if len(pids) == server.workers and ended:
            return ended[-1]
        time.sleep(0.2)
    raise AssertionError(f"no worker replaced within {seconds:.0f} s: {server.log_tail()}")


def test_a_worker_replaced_during_an_outage_keeps_the_instance_serving(tmp_path: Path) -> None:
    with PostgresServer("cds_replaced") as pg:
        env = server_env(pg.url, CDS_JOURNAL_DIR=str(tmp_path / "journal"), CDS_JOURNAL_RETRY_MAX_SECONDS="2")
        with UvicornServer(env, workers=2, log_path=tmp_path / "server.log") as server, \
                httpx.Client(base_url=server.url, timeout=30) as http:
            before = card_uuids(http, 4)
            with pg.stopped():
                wait_for(http, lambda s, b: s == 200 and b["checks"]["database"]["state"] == "degraded", 30,
                         "degraded")
                workers = server.worker_pids()
                os.kill(workers[0], signal.SIGKILL)
                assert "Application startup complete" in replaced(server, workers)
                time.sleep(1.0)  # uvicorn's supervisor checks its workers every 0.5 s
                assert server.process is not None and server.process.poll() is None, server.log_tail()
                during = card_uuids(http, 12)  # both workers answer, the new one included (round robin)
                status, body = readyz(http)
                assert status == 200 and body["status"] == "degraded", body
            wait_for(http, ready_and_drained, 120, "ready with an empty journal")
            log_tail = server.log_tail()
        missing = set(before + during) - stored(pg.url)
        assert not missing, (len(missing), log_tail)


def test_a_service_started_without_its_database_migrates_and_drains_when_it_answers(tmp_path: Path) -> None:
    with PostgresServer("cds_start_down") as pg, contextlib.ExitStack() as running:  # a new database: never migrated
        env = server_env(pg.url, CDS_JOURNAL_DIR=str(tmp_path / "journal"), CDS_JOURNAL_RETRY_MAX_SECONDS="2")
        with pg.stopped():  # the service starts while the database does not answer
            server = running.enter_context(UvicornServer(env, workers=1, log_path=tmp_path / "server.log"))
            http = running.enter_context(httpx.Client(base_url=server.url, timeout=30))
            status, body = readyz(http)
            assert status == 200 and body["status"] == "degraded", body
            assert body["checks"]["database"]["state"] == "degraded", body
            during = card_uuids(http, 5)
            assert readyz(http)[1]["checks"]["journal"]["pending"] >= 5
        # the database answers again, the service still running: it migrates the new database, then drains
        wait_for(http, ready_and_drained, 120, "ready (schema at head) with an empty journal")
        assert not set(during) - stored(pg.url), server.log_tail()
        assert "migrating when it answers" in server.log_tail(200)
