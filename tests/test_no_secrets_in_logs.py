"""No token, no JWT, no patient name in the logs.

The session-wide guard is `tests/security/log_guard.py` (registered in tests/conftest.py `pytest_plugins`):
it scans every log record of the whole run and the uvicorn subprocess logs, and fails the session at the end.
These tests check the scanner itself and drive the paths most likely to leak (JWT failures, FHIR access
tokens, patient data, errors) through the app, scanning what they log at DEBUG.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from tests.conftest import make_settings
from tests.security import log_guard
from tests.security.app_support import SERVICE_ID, load_request, write_trusted_issuers


def test_scanner_finds_jwts_tokens_and_names() -> None:
    scanner = log_guard.Scanner({"Dennis", "Ward"})
    assert scanner.findings("token eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2ln rejected") == ["a JWT"]
    assert scanner.findings("Authorization: Bearer test-token") == ["the bearer token tes…"]
    assert scanner.findings("patient Dennis") == ["the patient name De…"]
    assert scanner.findings("forwarded to Wardrobe; patient pt-1 ignored Condition/x") == []
    assert "Dennis" in log_guard.patient_names()


def test_fixture_patient_names_are_collected() -> None:
    names = log_guard.patient_names()
    assert len(names) > 20
    patient = load_request()["prefetch"]["patient"]
    assert patient["name"][0]["family"] in names


@pytest.fixture
def debug_logs() -> list[str]:
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(logging.DEBUG)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(old)


def test_the_app_logs_no_secret_at_debug(tmp_path: Path, debug_logs: list[str]) -> None:
    issuers, client, _ = write_trusted_issuers(tmp_path)
    base = "https://cds.example.org"
    settings = make_settings(tmp_path, auth_mode="jwt", public_base_url=base, trusted_issuers=issuers,
                             log_level="DEBUG")
    aud = f"{base}/cds-services/{SERVICE_ID}"
    request = load_request()
    request["fhirAuthorization"] = {"access_token": "test-token", "token_type": "Bearer", "expires_in": 300,
                                    "scope": "patient/*.read", "subject": "cds"}
    other = copy.deepcopy(request)
    other["prefetch"]["conditions"]["entry"][1]["resource"]["subject"] = {"reference": "Patient/other"}
    with TestClient(create_app(settings)) as http:
        path = f"/cds-services/{SERVICE_ID}"
        token = client.token("ec-1", aud=aud)
        assert http.post(path, json=request, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        for bad in (token, client.token("ec-1", aud=base), "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.",
                    "test-token", f"{token}x"):
            assert http.post(path, json=request, headers={"Authorization": f"Bearer {bad}"}).status_code == 401
        assert http.post(path, json=other, headers={"Authorization": f"Bearer {client.token(aud=aud)}"}
                         ).status_code == 200
        broken = copy.deepcopy(request)
        broken["context"]["patientId"] = 5
        assert http.post(path, json=broken, headers={"Authorization": f"Bearer {client.token(aud=aud)}"}
                         ).status_code == 400
    assert any("JWT rejected: kind=replay" in line for line in debug_logs), debug_logs
    assert any("another patient" in line for line in debug_logs), debug_logs
    scanner = log_guard.Scanner()
    leaks = [(line[:120], scanner.findings(line)) for line in debug_logs if scanner.findings(line)]
    assert not leaks


def test_no_secret_logged_so_far_in_this_session() -> None:
    """The session guard's findings up to this point (the rest is checked at session end)."""
    if log_guard._handler is None:
        pytest.skip("log guard not registered: add 'tests.security.log_guard' to pytest_plugins")
    assert log_guard.violations() == []
