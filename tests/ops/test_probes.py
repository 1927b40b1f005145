"""`/healthz` and `/readyz`: readiness follows the real database (the suite's PostgreSQL is stopped and
started again), the schema's migration state, and the checks other modules add."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.ops.probes import Check, add_readiness_check
from cds_service.store import Store
from tests.conftest import make_settings
from tests.support.servers import PostgresServer, fresh_postgres_database


def readyz(http: TestClient) -> tuple[int, dict]:
    response = http.get("/readyz")
    return response.status_code, response.json()


def assert_not_ready(status_body: tuple[int, dict], check: str, *words: str) -> None:
    status, body = status_body
    assert status == 503, body
    assert body["resourceType"] == "OperationOutcome"
    named = [i for i in body["issue"] if i.get("expression") == [check]]
    assert named, body
    for word in words:
        assert word in named[0]["diagnostics"], (word, named[0])


def test_ready_on_a_migrated_database(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert readyz(http) == (200, {"status": "ready", "checks": {"database": {"state": "ok"},
                                                                     "terminology": {"state": "ok"},
                                                                     "journal": {"state": "ok", "pending": 0}}})


def test_not_ready_until_migrated(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, migrate_on_start=False)
    with TestClient(create_app(settings)) as http:
        assert http.get("/healthz").status_code == 200  # alive, but not ready
        assert_not_ready(readyz(http), "database", "no revision", "python -m cds_service migrate")
        with Store(settings.database_url, settings.patient_hash_key) as store:
            store.migrate()
        assert readyz(http)[0] == 200


@pytest.mark.postgres
def test_readyz_follows_the_postgres_server(postgres_server: PostgresServer, tmp_path: Path) -> None:
    with fresh_postgres_database(postgres_server.url, "cds_ready") as url, \
            TestClient(create_app(make_settings(tmp_path, database_url=url))) as http:
        assert readyz(http)[0] == 200
        with postgres_server.stopped():
            # still answering cards (into the journal): degraded, not pulled from the load balancer
            status, body = readyz(http)
            assert (status, body["status"]) == (200, "degraded"), body
            assert body["checks"]["database"]["state"] == "degraded"
            assert body["checks"]["database"]["detail"].startswith("database unreachable (OperationalError)")
            assert http.get("/healthz").status_code == 200
        assert readyz(http) == (200, {"status": "ready", "checks": {"database": {"state": "ok"},
                                                                     "terminology": {"state": "ok"},
                                                                     "journal": {"state": "ok", "pending": 0}}})


def test_added_checks_degraded_and_failing(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    state = {"replica": Check("degraded", "read replica lagging")}  # not a built-in check's name
    add_readiness_check(app, "replica", lambda: state["replica"])
    with TestClient(app) as http:
        status, body = readyz(http)
        assert (status, body["status"]) == (200, "degraded")
        assert body["checks"]["replica"] == {"state": "degraded", "detail": "read replica lagging"}
        metrics = http.get("/metrics").text
        assert 'cds_readiness{check="replica",state="degraded"} 1.0' in metrics
        assert 'cds_readiness{check="replica",state="ok"} 0.0' in metrics

        def broken() -> Check:
            raise RuntimeError("password=hunter2")

        add_readiness_check(app, "broken", broken)
        status_body = readyz(http)
        assert_not_ready(status_body, "broken", "check raised RuntimeError")
        assert "hunter2" not in str(status_body)

        async def slow_but_fine() -> Check:
            return Check("ok")

        app.state.readiness_checks[-1] = ("async", slow_but_fine)
        assert readyz(http)[0] == 200
