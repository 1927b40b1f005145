from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx
import pytest
from fastapi import FastAPI, Request

from cds_service.security.dependency import (
    audiences_for,
    auth_error_handler,
    auth_error_response,
    authenticate,
    cors_options,
    cors_origins,
)
from cds_service.security.jwt import AuthError, JwtVerifier
from cds_service.settings import Settings

from .conftest import BASE, ISS, SERVICE_ID, CdsTestClient


def test_audiences_for():
    settings = Settings(public_base_url="https://cds.example.org/base/")
    assert audiences_for(settings, "discovery", None) == ["https://cds.example.org/base/cds-services"]
    assert audiences_for(settings, "service", "svc") == ["https://cds.example.org/base/cds-services/svc"]
    assert audiences_for(settings, "feedback", "svc") == [
        "https://cds.example.org/base/cds-services/svc/feedback",
        "https://cds.example.org/base/cds-services/svc",
    ]
    with pytest.raises(ValueError):
        audiences_for(settings, "admin", None)
    with pytest.raises(ValueError):
        audiences_for(settings, "service", None)


def test_cors_origins():
    assert cors_origins(Settings(cors_origins=["https://ehr.example.org"])) == ["https://ehr.example.org"]
    assert cors_origins(Settings(auth_mode="off")) == ["*"]
    assert cors_origins(Settings(auth_mode="jwt")) == ["https://sandbox.cds-hooks.org"]
    options = cors_options(Settings(auth_mode="jwt"))
    assert "Authorization" in options["allow_headers"] and options["allow_credentials"] is False


def test_auth_error_response():
    response = auth_error_response(AuthError("expired", "the JWT has expired", iss=ISS, jti="j1"), log=False)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/json"
    body = json.loads(response.body)
    assert body["resourceType"] == "OperationOutcome"
    (issue,) = body["issue"]
    assert issue["code"] == "security" and issue["severity"] == "error"
    assert issue["diagnostics"].startswith("JWT rejected: expired")


def make_app(settings: Settings, verifier: JwtVerifier | None) -> FastAPI:
    app = FastAPI()
    app.add_exception_handler(AuthError, auth_error_handler)

    @app.get("/cds-services")
    async def discovery(request: Request) -> dict:
        client = await authenticate(request, settings, verifier, "discovery", None)
        return {"iss": client.iss if client else None}

    @app.post("/cds-services/{service_id}")
    async def service(service_id: str, request: Request) -> dict:
        client = await authenticate(request, settings, verifier, "service", service_id)
        return {"iss": client.iss if client else None, "tenant": client.tenant if client else None}

    @app.post("/cds-services/{service_id}/feedback")
    async def feedback(service_id: str, request: Request) -> dict:
        client = await authenticate(request, settings, verifier, "feedback", service_id)
        return {"iss": client.iss if client else None}

    return app


async def _call(app, method, url, token=None, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://internal:8080") as client:
        return await client.request(method, url, headers=headers, **kwargs)


def call(app, method, url, token=None, **kwargs) -> httpx.Response:
    return asyncio.run(_call(app, method, url, token, **kwargs))


def test_routes_authenticate_against_public_base_url(settings, inline_verifier, cds_client):
    app = make_app(settings, inline_verifier)
    # the request goes to http://internal:8080 (behind a proxy); aud is the public URL
    assert call(app, "POST", f"/cds-services/{SERVICE_ID}", cds_client.token(), json={}).status_code == 200
    discovery = cds_client.token(aud=f"{BASE}/cds-services")
    assert call(app, "GET", "/cds-services", discovery).json() == {"iss": ISS}
    feedback = cds_client.token(aud=f"{BASE}/cds-services/{SERVICE_ID}/feedback")
    assert call(app, "POST", f"/cds-services/{SERVICE_ID}/feedback", feedback, json={}).status_code == 200
    feedback_service_aud = cds_client.token()
    assert (
        call(app, "POST", f"/cds-services/{SERVICE_ID}/feedback", feedback_service_aud, json={}).status_code
        == 200
    )
    # a token for one service is not valid on another
    response = call(app, "POST", "/cds-services/other", cds_client.token(), json={})
    assert response.status_code == 401
    assert response.json()["issue"][0]["diagnostics"].startswith("JWT rejected: wrong-audience")
    assert response.headers["www-authenticate"] == "Bearer"


def test_missing_token_is_401(settings, inline_verifier):
    response = call(make_app(settings, inline_verifier), "GET", "/cds-services")
    assert response.status_code == 401
    assert response.json()["issue"][0]["code"] == "security"


def test_auth_off_returns_none(cds_client):
    settings = Settings(auth_mode="off")
    app = make_app(settings, None)
    assert call(app, "GET", "/cds-services").json() == {"iss": None}


def test_authenticate_without_verifier_in_jwt_mode_is_a_bug(settings):
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    with pytest.raises(RuntimeError):
        asyncio.run(authenticate(request, settings, None, "discovery", None))


def test_logs_never_contain_the_token(settings, inline_verifier, cds_client, caplog):
    attacker = CdsTestClient(iss="https://evil.example.org")
    now = time.time()
    tokens = {
        "untrusted-issuer": attacker.token(),
        "bad-signature": CdsTestClient().token("ec-1"),
        "expired": cds_client.token(now=now - 1000),
        "wrong-audience": cds_client.token(aud="https://x.example.org"),
        "unknown-key": cds_client.token("nope", signing_key=cds_client.keys["ec-1"][1]),
        "malformed-token": cds_client.token(exp="soon"),
    }
    app = make_app(settings, inline_verifier)
    caplog.set_level(logging.DEBUG)
    for kind, token in tokens.items():
        caplog.clear()
        response = call(app, "POST", f"/cds-services/{SERVICE_ID}", token, json={})
        assert response.status_code == 401
        assert response.json()["issue"][0]["diagnostics"].startswith(f"JWT rejected: {kind}")
        assert token not in response.text
        warnings = [
            r for r in caplog.records if r.levelno == logging.WARNING and "JWT rejected" in r.getMessage()
        ]
        assert len(warnings) == 1, kind
        assert f"kind={kind}" in warnings[0].getMessage()
        signature = token.rsplit(".", 1)[1]
        for record in caplog.records:
            text = record.getMessage() + str(record.args) + (record.exc_text or "")
            assert token not in text and signature not in text, (kind, text)
        assert token not in caplog.text


def test_log_line_has_iss_kid_jti(settings, inline_verifier, cds_client, caplog):
    token = cds_client.token(jti="jti-42", aud="https://x.example.org")
    caplog.set_level(logging.WARNING)
    call(make_app(settings, inline_verifier), "POST", f"/cds-services/{SERVICE_ID}", token, json={})
    (line,) = [r.getMessage() for r in caplog.records if "JWT rejected" in r.getMessage()]
    assert f"iss={ISS}" in line and "kid=ec-1" in line and "jti=jti-42" in line
