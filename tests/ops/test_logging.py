"""Structured logs and request ids: one JSON format for the app and uvicorn, an access line per request
with the hook call's fields, and `X-Request-ID` on every response."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.ops.logging_config import FIELDS, JsonFormatter, TextFormatter
from tests.conftest import FIXTURES, make_settings
from tests.store.app_helpers import hook_request, server_env
from tests.support.uvicorn_server import UvicornServer

SIGN = "naltrexone-order-sign"
HEX_ID = re.compile(r"[0-9a-f]{32}")


def expected_rules(scenario: str) -> list[str]:
    cards = json.loads((FIXTURES / scenario / "expected.json").read_text())["order-sign"]["cards"]
    return sorted(c["rule"] for c in cards)


@pytest.fixture
def access_lines() -> Iterator[list[dict]]:
    lines: list[dict] = []
    formatter = JsonFormatter()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(formatter.format(record)))

    logger = logging.getLogger("cds_service.access")
    handler, old = Collect(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_request_id_taken_from_the_client_or_generated_on_every_response(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, auth_mode="jwt", max_body_bytes=1000)
    with TestClient(create_app(settings)) as http:
        calls = {
            "discovery 401": lambda h: http.get("/cds-services", headers=h),
            "unknown path 404": lambda h: http.get("/no/such/path", headers=h),
            "too large 413": lambda h: http.post(f"/cds-services/{SIGN}", content=b"x" * 2000, headers=h),
            "liveness": lambda h: http.get("/healthz", headers=h),
            "readiness": lambda h: http.get("/readyz", headers=h),
            "docs": lambda h: http.get("/docs", headers=h),
        }
        for name, call in calls.items():
            assert call({"X-Request-ID": "ehr-req.42:a_b-c"}).headers["x-request-id"] == "ehr-req.42:a_b-c", name
            for bad in ("", "x" * 129, "has space", "semi;colon", "caf\u00e9"):
                generated = call({"X-Request-ID": bad.encode("utf-8")}).headers["x-request-id"]
                assert HEX_ID.fullmatch(generated), (name, bad, generated)
            first, second = call({}).headers["x-request-id"], call({}).headers["x-request-id"]
            assert HEX_ID.fullmatch(first) and first != second, name


def test_access_line_of_a_hook_call(tmp_path: Path, access_lines: list[dict]) -> None:
    request = hook_request("oxycodone-active")
    with TestClient(create_app(make_settings(tmp_path))) as http:
        response = http.post(f"/cds-services/{SIGN}", json=request, headers={"X-Request-ID": "req-1"})
        assert response.status_code == 200
        http.post(f"/cds-services/{SIGN}", content=b"[", headers={"Content-Type": "application/json"})
    hook_lines = [line for line in access_lines if line.get("route") == "/cds-services/{service_id}"]
    assert len(hook_lines) == 2
    line = hook_lines[0]
    assert line["request_id"] == "req-1"
    assert (line["method"], line["status"], line["service"], line["hook"]) == ("POST", 200, SIGN, "order-sign")
    assert line["hook_instance"] == request["hookInstance"]
    assert sorted(line["rule_ids"]) == expected_rules("oxycodone-active")
    assert len(line["indicators"]) == len(line["rule_ids"])
    assert 0 < line["duration_ms"] < 60_000
    assert line["logger"] == "cds_service.access" and line["level"] == "INFO"
    bad = hook_lines[1]
    assert bad["status"] == 400 and "rule_ids" not in bad and HEX_ID.fullmatch(bad["request_id"])
    # the path is logged as its route template, never as sent
    assert all("naltrexone-order-sign" not in line["message"] for line in hook_lines)


def test_text_format_carries_the_same_fields() -> None:
    record = logging.LogRecord("cds_service.access", logging.INFO, __file__, 1, "POST %s 200", ("/x",), None)
    setattr(record, FIELDS, {"status": 200, "rule_ids": ["a", "b"], "request_id": "r-1"})
    text = TextFormatter().format(record)
    assert text.endswith("POST /x 200 status=200 rule_ids=a,b request_id=r-1")
    parsed = json.loads(JsonFormatter().format(record))
    assert parsed["rule_ids"] == ["a", "b"] and parsed["status"] == 200 and parsed["message"] == "POST /x 200"


def test_exceptions_stay_on_one_json_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]


@pytest.mark.slow
def test_uvicorn_and_app_log_only_json_lines(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", CDS_LOG_LEVEL="INFO", CDS_LOG_FORMAT="json")
    log = tmp_path / "uvicorn.log"
    request = hook_request("oxycodone-active")
    with UvicornServer(env, workers=2, log_path=log) as server:
        response = httpx.post(f"{server.url}/cds-services/{SIGN}", json=request,
                              headers={"X-Request-ID": "from-the-ehr-1"}, timeout=30)
        assert response.status_code == 200 and response.headers["x-request-id"] == "from-the-ehr-1"
    lines = [json.loads(line) for line in log.read_text().splitlines()]  # every line parses
    loggers = {line["logger"] for line in lines}
    assert {"uvicorn.error", "cds_service.access"} <= loggers, loggers  # uvicorn's and the app's, one format
    assert any("Started parent process" in line["message"] for line in lines)  # the supervisor too
    access = [line for line in lines
              if line.get("request_id") == "from-the-ehr-1" and line["logger"] == "cds_service.access"]
    assert len(access) == 1 and access[0]["hook_instance"] == request["hookInstance"]
    assert sorted(access[0]["rule_ids"]) == expected_rules("oxycodone-active")
    assert "uvicorn.access" not in loggers  # replaced by the service's own access line
