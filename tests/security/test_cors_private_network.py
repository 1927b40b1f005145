"""CORS preflights from browsers: Chromium's private-network preflight (the hosted Sandbox calling a service on
localhost) is answered for allowed origins, refused for others; a self-hosted Sandbox needs CDS_CORS_ORIGINS."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from tests.conftest import make_settings

SANDBOX = "https://sandbox.cds-hooks.org"
SELF_HOSTED = "http://localhost:3000"


def preflight(tmp_path: Path, origin: str, **settings: object):
    app = create_app(make_settings(tmp_path, **settings))
    with TestClient(app) as http:
        return http.options("/cds-services/naltrexone-order-sign", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
            "Access-Control-Request-Private-Network": "true"})


@pytest.mark.parametrize("auth_mode", ["jwt", "off"])
def test_private_network_preflight_of_the_hosted_sandbox(tmp_path: Path, auth_mode: str) -> None:
    response = preflight(tmp_path, SANDBOX, auth_mode=auth_mode)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-private-network"] == "true"
    assert response.headers["access-control-allow-origin"] in {SANDBOX, "*"}


def test_self_hosted_sandbox_in_jwt_mode_needs_cors_origins(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    refused = preflight(tmp_path / "a", SELF_HOSTED, auth_mode="jwt")
    assert refused.status_code == 400 and "origin" in refused.text
    (tmp_path / "b").mkdir()
    allowed = preflight(tmp_path / "b", SELF_HOSTED, auth_mode="jwt", cors_origins=[SELF_HOSTED, SANDBOX])
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["access-control-allow-origin"] == SELF_HOSTED
    assert allowed.headers["access-control-allow-private-network"] == "true"
