"""Helpers of the app-level security tests: trusted-issuers files, fixture requests, response checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.security.conftest import CdsTestClient

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fhir_fixtures"
SERVICE_ID = "naltrexone-order-sign"
ISS_INLINE = "https://ehr-inline.example.org"
ISS_FILE = "https://ehr-file.example.org"


def load_request(scenario: str = "cirrhosis-active", name: str = "order-sign.json") -> dict[str, Any]:
    return json.loads((FIXTURES / scenario / name).read_text())


def write_trusted_issuers(tmp_path: Path) -> tuple[Path, CdsTestClient, CdsTestClient]:
    """A trusted-issuers JSON file: one issuer with its JWKS inline, one with a `jwks_file` next to it."""
    inline, from_file = CdsTestClient(ISS_INLINE), CdsTestClient(ISS_FILE)
    (tmp_path / "keys").mkdir(exist_ok=True)
    (tmp_path / "keys" / "ehr-file.jwks.json").write_text(json.dumps(from_file.jwks()))
    path = tmp_path / "trusted_issuers.json"
    path.write_text(json.dumps({"issuers": [
        {"iss": ISS_INLINE, "jwks": inline.jwks()},
        {"iss": ISS_FILE, "jwks_file": "keys/ehr-file.jwks.json"},
    ]}))
    return path, inline, from_file


def assert_outcome(response: httpx.Response, status: int, contains: str | None = None) -> str:
    """`response` is `status` with an OperationOutcome whose first diagnostics is non-empty; returns it."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    diagnostics = body["issue"][0]["diagnostics"]
    assert isinstance(diagnostics, str) and diagnostics.strip(), body
    if contains is not None:
        assert contains.lower() in diagnostics.lower(), diagnostics
    return diagnostics


def assert_not_server_error(response: httpx.Response) -> None:
    """Never a 5xx; any 4xx is an OperationOutcome with diagnostics; a 200 to a hook has a cards list."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert_outcome(response, response.status_code)
    elif response.status_code == 200:
        assert isinstance(response.json(), dict)
