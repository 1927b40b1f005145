"""JWTs as Epic signs them, through the app: RS384, `sub` and `nbf`, the organisation's FHIR base as `iss`, keys
at a `jku` on the EHR's host, and an `aud` typed by hand into Epic's configuration (declared on the issuer).

Epic on FHIR, CDS Hooks documentation, "Trusting CDS Clients" (https://fhir.epic.com/Documentation?docId=
cds-hooks): alg RS384; jku `{base}/api/epic/2019/Security/Open/PublicKeys/...`; nbf typically 5 minutes
before iat; sub the CDS client id; aud "must be manually configured by the health system".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.security.issuers import load_trusted_issuers
from cds_service.security.jwt import JwtVerifier, MemoryReplayCache
from tests.conftest import Client, make_settings
from tests.security.app_support import assert_outcome, load_request
from tests.security.conftest import CdsTestClient, FakeClock

EPIC_ISS = "https://fhir.example-health.org/api/FHIR/R4"
EPIC_JKU = "https://fhir.example-health.org/api/epic/2019/Security/Open/PublicKeys/530013/530013"
HAND_SET_AUD = "https://example.com/savecdshooksrequest"  # what the analyst typed into Epic
BASE = "https://cds.example.org"
SERVICE = "naltrexone-order-sign"


class EpicKeys:
    """Epic's key set at its jku, counting fetches; `publish` swaps the keys (rotation)."""

    def __init__(self, client: CdsTestClient, kids: tuple[str, ...]) -> None:
        self.client = client
        self.kids = kids
        self.fetches = 0

    def publish(self, *kids: str) -> None:
        self.kids = kids

    def handler(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) != EPIC_JKU:
            return httpx.Response(404)
        self.fetches += 1
        return httpx.Response(200, json={"keys": [self.client.public_jwk(k) for k in self.kids]})


class Env:
    def __init__(self, http: Client, epic: CdsTestClient, keys: EpicKeys, clock: FakeClock) -> None:
        self.http, self.epic, self.keys, self.clock = http, epic, keys, clock

    def call(self, token: str) -> httpx.Response:
        return self.http.post(f"/cds-services/{SERVICE}", json=load_request(),
                              headers={"Authorization": f"Bearer {token}"})

    def token(self, kid: str = "epic-rs-1", **claims: Any) -> str:
        now = self.clock.now
        defaults: dict[str, Any] = {"aud": HAND_SET_AUD, "sub": "cds-naltrexone-client-id", "nbf": int(now) - 300}
        return self.epic.token(kid, headers={"jku": EPIC_JKU}, now=now, **{**defaults, **claims})


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    epic = CdsTestClient(EPIC_ISS)
    for kid in ("epic-rs-1", "epic-rs-2", "epic-rs-3"):
        epic.add_key(kid, "RS384", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    keys = EpicKeys(epic, ("epic-rs-1",))
    issuers = tmp_path / "trusted_issuers.json"
    issuers.write_text(json.dumps({"issuers": [
        {"iss": EPIC_ISS, "jku": [EPIC_JKU], "profile": "epic", "audiences": [HAND_SET_AUD]}]}))
    settings = make_settings(tmp_path, auth_mode="jwt", public_base_url=BASE, trusted_issuers=issuers)
    clock = FakeClock()
    verifier = JwtVerifier(settings, MemoryReplayCache(clock=clock), issuers=load_trusted_issuers(issuers),
                           http_client=httpx.AsyncClient(transport=httpx.MockTransport(keys.handler)), clock=clock)
    with TestClient(create_app(settings, verifier=verifier)) as http:
        yield Env(Client(http, "epic"), epic, keys, clock)  # every 200 is checked against Epic's limits


def test_epic_shaped_rs384_token_is_accepted_and_answered_under_the_epic_profile(env: Env) -> None:
    response = env.call(env.token())
    assert response.status_code == 200, response.text
    codes = {c["source"]["topic"]["code"] for c in response.json()["cards"]}
    assert "liverdisease" in codes  # the Epic-safe topic code of liver-disease
    assert env.keys.fetches == 1


def test_the_computed_url_is_accepted_too(env: Env) -> None:
    assert env.call(env.token(aud=f"{BASE}/cds-services/{SERVICE}")).status_code == 200


def test_future_nbf_is_refused_with_its_kind(env: Env) -> None:
    response = env.call(env.token(nbf=int(env.clock.now) + 600))
    assert_outcome(response, 401, "JWT rejected: not-yet-valid")
    assert "nbf" in response.json()["issue"][0]["diagnostics"]


def test_nbf_within_the_clock_skew_is_accepted(env: Env) -> None:
    assert env.call(env.token(nbf=int(env.clock.now) + 30)).status_code == 200  # skew 60 s


@pytest.mark.parametrize("sub", ["", 42])
def test_sub_must_be_a_string(env: Env, sub: object) -> None:
    assert_outcome(env.call(env.token(sub=sub)), 401, "JWT rejected: malformed-token")


def test_wrong_audience_names_the_expected_value_and_the_settings(env: Env,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    token = env.token(aud="https://typo.example.com/hooks")
    with caplog.at_level(logging.WARNING, logger="cds_service.security.dependency"):
        response = env.call(token)
    diagnostics = assert_outcome(response, 401, "JWT rejected: wrong-audience")
    expected = f"{BASE}/cds-services/{SERVICE}"
    for text in (diagnostics, caplog.text):
        assert expected in text and "CDS_PUBLIC_BASE_URL" in text
        assert HAND_SET_AUD in text and "audiences" in text
        assert token not in text and token.split(".")[2] not in text  # never the token


def test_key_rotation_refetches_once_and_is_rate_limited(env: Env) -> None:
    assert env.call(env.token("epic-rs-1")).status_code == 200
    assert env.keys.fetches == 1
    env.keys.publish("epic-rs-2")  # Epic rotates its key
    env.clock.advance(61)  # past the one-a-minute refetch limit
    assert env.call(env.token("epic-rs-2")).status_code == 200  # unknown kid: one refetch of the jku
    assert env.keys.fetches == 2
    # a kid nobody publishes, right after: refused without hammering Epic's key endpoint
    for _ in range(3):
        assert_outcome(env.call(env.token("epic-rs-3")), 401, "JWT rejected: unknown-key")
    assert env.keys.fetches == 2
    assert env.call(env.token("epic-rs-2")).status_code == 200  # the cached key still works
    assert env.keys.fetches == 2
