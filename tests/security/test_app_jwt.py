"""JWT authentication through the real app (CDS Hooks 2.0 §6): a test CDS client signing real ES384 and
RS384 tokens, trusted through a trusted-issuers file (one issuer inline, one by `jwks_file`), on the
discovery, service and feedback endpoints; every failure kind is a 401 OperationOutcome naming it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from cds_service.app import create_app
from tests.conftest import make_settings
from tests.security.app_support import (
    SERVICE_ID,
    assert_outcome,
    load_request,
    write_trusted_issuers,
)
from tests.security.conftest import CdsTestClient, b64url_json

BASE = "https://cds.example.org/base"
DISCOVERY_AUD = f"{BASE}/cds-services"
SERVICE_AUD = f"{BASE}/cds-services/{SERVICE_ID}"
FEEDBACK_AUD = f"{SERVICE_AUD}/feedback"
SANDBOX = "https://sandbox.cds-hooks.org"


class Env:
    def __init__(self, http: TestClient, inline: CdsTestClient, from_file: CdsTestClient) -> None:
        self.http = http
        self.inline = inline
        self.from_file = from_file

    @staticmethod
    def auth(token: str | None) -> dict[str, str]:
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    def discovery(self, token: str | None) -> Any:
        return self.http.get("/cds-services", headers=self.auth(token))

    def service(self, token: str | None, body: dict | None = None) -> Any:
        return self.http.post(f"/cds-services/{SERVICE_ID}", json=body or load_request(), headers=self.auth(token))

    def feedback(self, token: str | None, body: dict) -> Any:
        return self.http.post(f"/cds-services/{SERVICE_ID}/feedback", json=body, headers=self.auth(token))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    issuers, inline, from_file = write_trusted_issuers(tmp_path)
    settings = make_settings(tmp_path, auth_mode="jwt", public_base_url=BASE + "/", trusted_issuers=issuers)
    with TestClient(create_app(settings)) as http:
        yield Env(http, inline, from_file)


def feedback_body(card: dict) -> dict:
    reason = card["overrideReasons"][0]
    return {"feedback": [{
        "card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-25T16:33:03Z",
        "overrideReason": {"reason": {"system": reason["system"], "code": reason["code"]}, "userComment": "ok"},
    }]}


@pytest.mark.parametrize("kid", ["ec-1", "rsa-1"])
@pytest.mark.parametrize("issuer", ["inline", "from_file"])
def test_valid_tokens_on_all_three_endpoints(env: Env, issuer: str, kid: str) -> None:
    client: CdsTestClient = getattr(env, issuer)
    assert jwt.get_unverified_header(client.token(kid, aud=DISCOVERY_AUD))["alg"] == ("ES384" if kid == "ec-1"
                                                                                    else "RS384")
    r = env.discovery(client.token(kid, aud=DISCOVERY_AUD))
    assert r.status_code == 200, r.text
    assert SERVICE_ID in {s["id"] for s in r.json()["services"]}

    r = env.service(client.token(kid, aud=SERVICE_AUD))
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    liver = [c for c in cards if c["source"]["topic"]["code"] == "liver-disease"]
    assert liver and liver[0]["indicator"] == "critical"

    # feedback: both audiences clients use (the feedback URL and the service URL)
    for aud in (FEEDBACK_AUD, SERVICE_AUD):
        r = env.feedback(client.token(kid, aud=aud), feedback_body(liver[0]))
        assert r.status_code == 200, r.text
        assert r.json()["received"] == 1


def _none_token(client: CdsTestClient, aud: str) -> str:
    return f"{b64url_json({'alg': 'none', 'typ': 'JWT', 'kid': 'ec-1'})}.{b64url_json(client.claims(aud=aud))}."


def _hs256_token(client: CdsTestClient, aud: str) -> str:
    return jwt.encode(client.claims(aud=aud), "a-shared-secret-of-at-least-32-bytes!!", algorithm="HS256",
                      headers={"kid": "ec-1"})


def _bad_signature(client: CdsTestClient, aud: str) -> str:
    return client.token("ec-1", aud=aud, signing_key=ec.generate_private_key(ec.SECP384R1()))


FAILURES: dict[str, Any] = {
    "missing-token": lambda c, aud: None,
    "untrusted-issuer": lambda c, aud: CdsTestClient("https://evil.example.org").token("ec-1", aud=aud),
    "bad-signature": _bad_signature,
    "expired": lambda c, aud: c.token("rsa-1", aud=aud, now=time.time() - 1000),
    "alg-none": _none_token,
    "hs256": _hs256_token,
}
EXPECTED_KIND = {"alg-none": "disallowed-algorithm", "hs256": "disallowed-algorithm"}
WRONG_AUD = {"discovery": SERVICE_AUD, "service": DISCOVERY_AUD, "feedback": DISCOVERY_AUD}
AUD = {"discovery": DISCOVERY_AUD, "service": SERVICE_AUD, "feedback": FEEDBACK_AUD}


def _call(env: Env, endpoint: str, token: str | None) -> Any:
    if endpoint == "discovery":
        return env.discovery(token)
    if endpoint == "service":
        return env.service(token)
    return env.feedback(token, {"feedback": [{"card": "x", "outcome": "overridden",
                                              "outcomeTimestamp": "2026-11-25T16:33:03Z"}]})


def _assert_401(response: Any, kind: str) -> None:
    diagnostics = assert_outcome(response, 401, f"JWT rejected: {kind}")
    assert response.json()["issue"][0]["code"] == "security"
    assert response.headers["www-authenticate"] == "Bearer"
    assert "eyJ" not in diagnostics


@pytest.mark.parametrize("endpoint", ["discovery", "service", "feedback"])
@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_each_failure_kind_is_a_401_naming_it(env: Env, endpoint: str, failure: str) -> None:
    token = FAILURES[failure](env.inline, AUD[endpoint])
    _assert_401(_call(env, endpoint, token), EXPECTED_KIND.get(failure, failure))


@pytest.mark.parametrize("endpoint", ["discovery", "service", "feedback"])
def test_wrong_audience(env: Env, endpoint: str) -> None:
    _assert_401(_call(env, endpoint, env.from_file.token("ec-1", aud=WRONG_AUD[endpoint])), "wrong-audience")


def test_feedback_rejects_feedback_aud_of_another_service(env: Env) -> None:
    token = env.inline.token("ec-1", aud=f"{BASE}/cds-services/naltrexone-order-select/feedback")
    _assert_401(_call(env, "feedback", token), "wrong-audience")


@pytest.mark.parametrize("endpoint", ["discovery", "service", "feedback"])
def test_replay(env: Env, endpoint: str) -> None:
    token = env.inline.token("ec-1", aud=AUD[endpoint])
    first = _call(env, endpoint, token)
    assert first.status_code != 401, first.text
    _assert_401(_call(env, endpoint, token), "replay")
    _assert_401(_call(env, endpoint, token), "replay")


def test_replay_is_per_jti_not_per_token_bytes(env: Env) -> None:
    """The same jti signed again (new signature, other key) is still a replay."""
    claims = env.inline.claims(aud=SERVICE_AUD)
    first = jwt.encode(claims, env.inline.keys["ec-1"][1], algorithm="ES384", headers={"kid": "ec-1"})
    second = jwt.encode(claims, env.inline.keys["rsa-1"][1], algorithm="RS384", headers={"kid": "rsa-1"})
    assert env.service(first).status_code == 200
    _assert_401(env.service(second), "replay")


def test_failed_token_does_not_burn_its_jti(env: Env) -> None:
    """A token refused for its audience must not use up the jti (only verified tokens are remembered)."""
    jti = "fixed-jti-1"
    _assert_401(env.service(env.inline.token("ec-1", aud=DISCOVERY_AUD, jti=jti)), "wrong-audience")
    assert env.service(env.inline.token("ec-1", aud=SERVICE_AUD, jti=jti)).status_code == 200


def test_not_bearer_and_garbage(env: Env) -> None:
    r = env.http.get("/cds-services", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    _assert_401(r, "missing-token")
    r = env.http.get("/cds-services", headers={"Authorization": "Bearer not-a-jwt"})
    _assert_401(r, "malformed-token")


@pytest.mark.parametrize("path", ["/cds-services", f"/cds-services/{SERVICE_ID}",
                                  f"/cds-services/{SERVICE_ID}/feedback"])
def test_cors_preflight_needs_no_token_and_allows_the_sandbox(env: Env, path: str) -> None:
    r = env.http.options(path, headers={"Origin": SANDBOX, "Access-Control-Request-Method": "POST",
                                        "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status_code in (200, 204), r.text
    assert r.headers["access-control-allow-origin"] == SANDBOX
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    assert r.headers["x-content-type-options"] == "nosniff"


def test_cors_other_origin_not_allowed_in_jwt_mode(env: Env) -> None:
    r = env.http.options("/cds-services", headers={"Origin": "https://evil.example.org",
                                                   "Access-Control-Request-Method": "GET"})
    assert r.headers.get("access-control-allow-origin") is None
    assert r.status_code < 500


def test_401_carries_cors_and_security_headers(env: Env) -> None:
    r = env.http.get("/cds-services", headers={"Origin": SANDBOX})
    _assert_401(r, "missing-token")
    assert r.headers["access-control-allow-origin"] == SANDBOX
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["server"] == "cds-service"


def test_healthz_needs_no_token(env: Env) -> None:
    assert env.http.get("/healthz").status_code == 200
