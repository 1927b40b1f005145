"""Red-team findings 8 and 10 (issue 17): values from a request cannot forge log lines, and query strings
never reach the access log. In-process (every record the app logs) and over a real uvicorn process."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from cds_service.logsafe import escape
from tests.conftest import Client, load_fixture
from tests.support.uvicorn_server import UvicornServer

FORGED = "\n2026-12-01 00:00:00,000 INFO cds_service: FORGED admin login\r\u2028\x1b[31m"


def test_escape_makes_control_characters_visible() -> None:
    assert escape("a\nb\r\tc\x1b\u2028\x85") == "a\\nb\\r\\tc\\x1b\\u2028\\x85"
    assert escape("naïve ok") == "naïve ok" and escape(5) == 5


def hostile_request() -> dict:
    request = load_fixture("cirrhosis-active", "order-sign.json")
    request["hookInstance"] = "hook" + FORGED
    request["prefetch"]["conditions"]["entry"].append({"resource": {
        "resourceType": "Condition", "id": "c" + FORGED, "subject": {"reference": "Patient/other"}}})
    request["prefetch"]["liverTests"]["entry"].append({"resource": {
        "resourceType": "Observation", "id": "o" + FORGED, "status": "final",
        "subject": {"reference": f"Patient/{request['context']['patientId']}"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]}}})
    return request


def test_no_logged_message_carries_a_line_break(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        response = client.hook(hostile_request())
    assert response.status_code == 200
    messages = [r.getMessage() for r in caplog.records]
    assert any("FORGED" in m for m in messages)  # the values are logged ...
    for m in messages:  # ... but never as a line, a carriage return or a terminal escape of their own
        assert not any(ch in m for ch in "\n\r\u2028\x1b"), m


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_real_server_log_has_no_forged_lines_and_no_query_strings(tmp_path: Path, log_format: str) -> None:
    log = tmp_path / "server.log"
    env = {"CDS_LOG_FORMAT": log_format, "CDS_AUTH_MODE": "off", "CDS_TODAY": "2026-11-25", "CDS_ADMIN_TOKEN": "admin",
           "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}", "CDS_PATIENT_HASH_KEY": "k"}
    with UvicornServer(env, log_path=log) as server:
        assert httpx.post(f"{server.url}/cds-services/naltrexone-order-sign", json=hostile_request(),
                          timeout=30).status_code == 200
        assert httpx.get(f"{server.url}/analytics/rules?since=2026-01-01&secret=QUERYSECRET%0AFORGED",
                         headers={"Authorization": "Bearer admin"}, timeout=30).status_code == 200
        assert httpx.get(f"{server.url}/healthz%0AFORGED%20line", timeout=30).status_code == 404
    text = log.read_text()
    assert "QUERYSECRET" not in text and "since=2026" not in text
    assert "GET /analytics/rules 200" in text
    assert "FORGED" in text
    for line in text.splitlines():
        assert not line.startswith(("2026-12-01 00:00:00,000 INFO cds_service: FORGED", "FORGED")), line
        assert "\x1b" not in line and "\u2028" not in line
