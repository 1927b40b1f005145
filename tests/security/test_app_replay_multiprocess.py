"""The JWT replay cache is shared by every worker process: the same token sent over many connections to a
2-worker uvicorn (SQLite file, then a real PostgreSQL database) is accepted exactly once."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.security import log_guard
from tests.security.app_support import write_trusted_issuers
from tests.support.servers import fresh_postgres_database
from tests.support.uvicorn_server import UvicornServer


def log_lines(path: Path) -> list[dict]:
    """The server's JSON log lines (every line carries the pid of the worker that wrote it)."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def served_by(lines: list[dict]) -> Counter[int]:
    return Counter(line["pid"] for line in lines
                   if line["logger"] == "cds_service.access" and line.get("route") == "/cds-services")


def replays_by(lines: list[dict]) -> Counter[int]:
    return Counter(line["pid"] for line in lines if line["logger"] == "cds_service.security.dependency"
                   and line["message"].startswith("JWT rejected: kind=replay"))


@pytest.fixture
def pg_fresh_url(postgres_url: str) -> Iterator[str]:
    with fresh_postgres_database(postgres_url, "cds_replay") as url:
        yield url


def _get(url: str, token: str) -> int:
    # a new client per request: a new TCP connection, so the kernel may hand it to either worker
    with httpx.Client(timeout=10, headers={"Connection": "close"}) as client:
        r = client.get(f"{url}/cds-services", headers={"Authorization": f"Bearer {token}"})
    if r.status_code == 401:
        assert "JWT rejected: replay" in r.json()["issue"][0]["diagnostics"], r.text
    return r.status_code


def run_replay(tmp_path: Path, database_url: str) -> None:
    issuers, inline, _ = write_trusted_issuers(tmp_path)
    log_path = tmp_path / "uvicorn.log"
    log_guard.watch_file(log_path, json_lines=True)
    env = {"CDS_AUTH_MODE": "jwt", "CDS_TRUSTED_ISSUERS": str(issuers), "CDS_DATABASE_URL": database_url,
           "CDS_PATIENT_HASH_KEY": "test-key", "CDS_LOG_LEVEL": "INFO", "CDS_LOG_FORMAT": "json"}
    with UvicornServer(env, workers=2, log_path=log_path) as server:
        workers = set(server.worker_pids())
        assert len(workers) == 2, workers
        aud = f"{server.url}/cds-services"
        results: dict[str, Counter[int]] = {}
        for label, parallel in (("sequential", 1), ("concurrent", 8)):
            token = inline.token("ec-1" if parallel == 1 else "rsa-1", aud=aud)
            statuses: Counter[int] = Counter()
            with ThreadPoolExecutor(parallel) as pool:
                for _ in range(10):  # rounds of 12 until both workers have answered this token
                    statuses.update(pool.map(_get, [server.url] * 12, [token] * 12))
                    served = set(served_by(log_lines(log_path)))
                    if served >= workers and sum(statuses.values()) >= 24:
                        break
            results[label] = statuses
        log = log_path.read_text()

    served = served_by(log_lines(log_path))
    assert set(served) == workers, (served, workers)
    replays = replays_by(log_lines(log_path))
    assert set(replays) == workers, f"both workers must have refused a replay: {replays}"
    for label, statuses in results.items():
        assert statuses[200] == 1, (label, statuses)
        assert statuses[401] == sum(statuses.values()) - 1, (label, statuses)
    assert not re.search(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", log), "a JWT was logged"


@pytest.mark.slow
def test_replay_refused_across_two_workers_sqlite(tmp_path: Path) -> None:
    run_replay(tmp_path, f"sqlite:///{tmp_path / 'shared.sqlite3'}")


@pytest.mark.slow
def test_replay_refused_across_two_workers_postgres(tmp_path: Path, pg_fresh_url: str) -> None:
    run_replay(tmp_path, pg_fresh_url)
