"""Schema-driven fuzzing: schemathesis generates requests from the committed OpenAPI document and sends them
to the in-process ASGI app (auth off). Property: never a 5xx; every 4xx is an OperationOutcome."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from cds_service.app import create_app
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
schema = schemathesis.openapi.from_path(ROOT / "openapi" / "cds-naltrexone.openapi.json")
ADMIN_TOKEN = "test-admin-token-not-secret"
SCALE = int(os.environ.get("CDS_FUZZ_SCALE", "1"))  # `make fuzz` raises it (~420 requests per unit)
SERVICES = ["naltrexone-order-sign", "naltrexone-order-select"]
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module")
def asgi_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    yield create_app(make_settings(tmp, admin_token=ADMIN_TOKEN, max_body_bytes=2_000_000))
    total = sum(STATUSES.values())
    by_status = ", ".join(f"{s}: {n}" for s, n in sorted(STATUSES.items()))
    line = f"schemathesis fuzz: {total} generated requests ({by_status})"
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(line)
    assert not any(s >= 500 for s in STATUSES), line


@schema.parametrize()
@settings(max_examples=50 * SCALE, deadline=None, derandomize=SCALE == 1, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_error(case: schemathesis.Case, asgi_app: FastAPI) -> None:
    sid = (case.path_parameters or {}).get("service_id")
    if isinstance(sid, str) and len(sid) % 4:  # most cases reach a real service, not the 404
        case.path_parameters["service_id"] = SERVICES[len(sid) % 2]
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"} if case.path.startswith("/analytics") else None
    response = case.call(app=asgi_app, headers=headers)
    STATUSES[response.status_code] += 1
    case.validate_response(response, checks=[not_a_server_error], headers=headers)
    assert response.status_code < 500, response.text[:1000]
    if response.status_code >= 400:
        body = response.json()
        assert body["resourceType"] == "OperationOutcome", body
        assert body["issue"][0]["diagnostics"], body
