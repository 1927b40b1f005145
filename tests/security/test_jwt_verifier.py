from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import datetime
from pathlib import Path

import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cds_service.security.issuers import load_trusted_issuers
from cds_service.security.jwt import (
    AUTH_ERROR_KINDS,
    AuthError,
    JwtVerifier,
    MemoryReplayCache,
    ThreadedReplayCache,
    VerifiedClient,
)
from cds_service.settings import Settings

from .conftest import (
    AUD,
    BASE,
    ISS,
    JKU,
    CdsTestClient,
    FakeClock,
    JwksServer,
    b64url,
    b64url_json,
    make_verifier,
)


def verify(verifier: JwtVerifier, token: str | None, audiences=(AUD,)) -> VerifiedClient:
    authorization = None if token is None else f"Bearer {token}"
    return asyncio.run(verifier.verify(authorization, list(audiences)))


def rejected(verifier: JwtVerifier, token: str | None, *, raw: str | None = None, audiences=(AUD,)) -> str:
    authorization = raw if raw is not None else (None if token is None else f"Bearer {token}")
    with pytest.raises(AuthError) as info:
        asyncio.run(verifier.verify(authorization, list(audiences)))
    assert info.value.kind in AUTH_ERROR_KINDS
    assert token is None or token not in str(info.value)
    return info.value.kind


# --------------------------------------------------------------------------- accepted tokens


def test_valid_es384_inline_jwks(inline_verifier, cds_client):
    token = cds_client.token("ec-1", jti="abc-123", tenant="t1")
    client = verify(inline_verifier, token)
    assert client == VerifiedClient(iss=ISS, kid="ec-1", jti="abc-123", tenant="t1")


def test_valid_rs384_from_jwks_file(settings, cds_client, tmp_path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "ehr.jwks.json").write_text(json.dumps(cds_client.jwks()))
    verifier = make_verifier(
        settings, entry={"iss": ISS, "jwks_file": "keys/ehr.jwks.json"}, base_dir=tmp_path
    )
    assert verify(verifier, cds_client.token("rsa-1")).kid == "rsa-1"


def test_rsa_key_without_alg_serves_rs384(settings, cds_client):
    verifier = make_verifier(settings, entry={"iss": ISS, "jwks": cds_client.jwks(pin_alg=False)})
    assert verify(verifier, cds_client.token("rsa-1")).kid == "rsa-1"
    assert verify(verifier, cds_client.token("ec-1")).kid == "ec-1"


def test_valid_via_allowlisted_jku_then_cached(settings, cds_client):
    server = JwksServer(cds_client.jwks())
    verifier = make_verifier(settings, entry={"iss": ISS, "jku": [JKU]}, http_client=server.client())
    assert verify(verifier, cds_client.token("ec-1", headers={"jku": JKU})).kid == "ec-1"
    assert verify(verifier, cds_client.token("rsa-1", headers={"jku": JKU})).kid == "rsa-1"
    # no jku header: the issuer's allowlisted jku is used (already cached)
    assert verify(verifier, cds_client.token("ec-1")).kid == "ec-1"
    assert server.requests == [JKU]


def test_jku_cache_expires(settings, cds_client):
    settings = settings.model_copy(update={"jku_cache_seconds": 100})
    clock = FakeClock()
    server = JwksServer(cds_client.jwks())
    verifier = make_verifier(
        settings, entry={"iss": ISS, "jku": [JKU]}, http_client=server.client(), clock=clock
    )
    verify(verifier, cds_client.token("ec-1", now=clock.now))
    clock.advance(101)
    verify(verifier, cds_client.token("ec-1", now=clock.now))
    assert len(server.requests) == 2


def test_aud_list_containing_the_right_one(inline_verifier, cds_client):
    token = cds_client.token(aud=["https://other.example.org/x", AUD])
    assert verify(inline_verifier, token).iss == ISS


def test_sandbox_like_token_with_jku_and_inline_key_needs_no_network(settings, cds_client):
    """The Sandbox sends `jku`; a pinned key with that kid is used without fetching."""
    server = JwksServer({"keys": []})
    verifier = make_verifier(
        settings, entry={"iss": ISS, "jwks": cds_client.jwks(), "jku": [JKU]}, http_client=server.client()
    )
    assert verify(verifier, cds_client.token(headers={"jku": JKU})).kid == "ec-1"
    assert server.requests == []


def test_es256_only_when_configured(settings, cds_client):
    client = CdsTestClient()
    client.add_key("p256", "ES256", ec.generate_private_key(ec.SECP256R1()))
    entry = {"iss": ISS, "jwks": client.jwks()}
    assert rejected(make_verifier(settings, entry=entry), client.token("p256")) == "disallowed-algorithm"
    es256 = settings.model_copy(update={"jwt_algorithms": ["ES384", "ES256"]})
    assert verify(make_verifier(es256, entry=entry), client.token("p256")).kid == "p256"


def test_async_replay_cache_is_awaited(settings, cds_client):
    calls = []

    class AsyncCache:
        async def remember_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
            calls.append((iss, jti, expires_at))
            return len(calls) == 1

    verifier = make_verifier(
        settings, entry={"iss": ISS, "jwks": cds_client.jwks()}, replay_cache=AsyncCache()
    )
    token = cds_client.token()
    verify(verifier, token)
    assert rejected(verifier, token) == "replay"


def test_jti_kept_until_exp_but_not_beyond_max_age(settings, cds_client):
    seen: list[datetime] = []

    class SpyCache:
        def remember_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
            seen.append(expires_at)
            return True

    verifier = make_verifier(settings, entry={"iss": ISS, "jwks": cds_client.jwks()}, replay_cache=SpyCache())
    now = int(time.time())
    verify(verifier, cds_client.token(now=now))  # exp = iat + 300
    verify(verifier, cds_client.token(now=now, exp=now + 10 * 86400))  # far-future exp
    skew = settings.jwt_clock_skew_seconds
    assert seen[0].timestamp() == now + 300 + skew
    assert seen[1].timestamp() == now + settings.jwt_max_age_seconds + skew
    assert seen[0].tzinfo is not None


# --------------------------------------------------------------------------- rejected tokens


def test_missing_header(inline_verifier):
    assert rejected(inline_verifier, None) == "missing-token"
    assert rejected(inline_verifier, None, raw="") == "missing-token"


def test_basic_auth_is_not_a_bearer_token(inline_verifier):
    assert rejected(inline_verifier, None, raw="Basic dXNlcjpwYXNz") == "missing-token"
    assert rejected(inline_verifier, None, raw="Bearer ") == "missing-token"


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "x" * 20_000, "eyJhbGciOi.e30.", "...."])
def test_garbage_token(inline_verifier, garbage):
    assert rejected(inline_verifier, garbage) == "malformed-token"


def test_lowercase_bearer_scheme_accepted(inline_verifier, cds_client):
    authorization = f"bearer {cds_client.token()}"
    assert asyncio.run(inline_verifier.verify(authorization, [AUD])).iss == ISS


def test_wrong_issuer(inline_verifier):
    other = CdsTestClient(iss="https://evil.example.org")
    assert rejected(inline_verifier, other.token()) == "untrusted-issuer"


def test_missing_iss(inline_verifier, cds_client, drop):
    assert rejected(inline_verifier, cds_client.token(iss=drop)) == "untrusted-issuer"


def test_jku_not_allowlisted_is_never_fetched(settings, cds_client):
    server = JwksServer(cds_client.jwks())
    verifier = make_verifier(settings, entry={"iss": ISS, "jku": [JKU]}, http_client=server.client())
    attacker = CdsTestClient()
    token = attacker.token("ec-1", headers={"jku": "https://evil.example.org/jwks.json"})
    assert rejected(verifier, token) == "unknown-key"
    # a jku on the right host but not the exact URL is not allowlisted either
    token = attacker.token("ec-1", headers={"jku": JKU + "?x=1"})
    assert rejected(verifier, token) == "unknown-key"
    assert server.requests == []


def test_alg_confusion_hs256_signed_with_public_key(inline_verifier, cds_client):
    public_pem = (
        cds_client.keys["rsa-1"][1]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = (
        f"{b64url_json({'alg': 'HS256', 'typ': 'JWT', 'kid': 'rsa-1'})}.{b64url_json(cds_client.claims())}"
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64url(signature)}"
    assert rejected(inline_verifier, token) == "disallowed-algorithm"


def test_hs256_refused_even_if_configured(settings, cds_client):
    configured = settings.model_copy(update={"jwt_algorithms": ["ES384", "HS256", "none"]})
    verifier = make_verifier(configured, entry={"iss": ISS, "jwks": cds_client.jwks()})
    assert verifier.algorithms == frozenset({"ES384"})
    token = pyjwt.encode(
        cds_client.claims(), "a-shared-secret-of-32-bytes-long!", algorithm="HS256", headers={"kid": "ec-1"}
    )
    assert rejected(verifier, token) == "disallowed-algorithm"


def test_alg_none(inline_verifier, cds_client):
    token = f"{b64url_json({'alg': 'none', 'typ': 'JWT', 'kid': 'ec-1'})}.{b64url_json(cds_client.claims())}."
    assert rejected(inline_verifier, token) == "disallowed-algorithm"


def test_alg_not_fitting_the_key(inline_verifier, cds_client):
    # RS384 token whose kid names the EC key
    token = cds_client.token("rsa-1", headers={"kid": "ec-1"})
    assert rejected(inline_verifier, token) == "disallowed-algorithm"


def test_tampered_payload(inline_verifier, cds_client):
    header, _payload, signature = cds_client.token().split(".")
    forged = b64url_json(cds_client.claims(tenant="someone-else"))
    assert rejected(inline_verifier, f"{header}.{forged}.{signature}") == "bad-signature"


def test_signed_by_another_key_with_a_known_kid(inline_verifier, cds_client):
    attacker = CdsTestClient()
    assert rejected(inline_verifier, attacker.token("ec-1")) == "bad-signature"


def test_expired(inline_verifier, cds_client):
    now = time.time()
    token = cds_client.token(now=now - 400)  # exp = now - 100, beyond the 60 s skew
    assert rejected(inline_verifier, token) == "expired"


def test_expired_within_skew_is_accepted(inline_verifier, cds_client):
    token = cds_client.token(now=time.time() - 330)  # exp 30 s ago < 60 s skew
    assert verify(inline_verifier, token).iss == ISS


def test_iat_in_the_future(inline_verifier, cds_client):
    token = cds_client.token(now=time.time() + 300)
    assert rejected(inline_verifier, token) == "not-yet-valid"


def test_nbf_in_the_future(inline_verifier, cds_client):
    token = cds_client.token(nbf=int(time.time()) + 600)
    assert rejected(inline_verifier, token) == "not-yet-valid"


def test_too_old(inline_verifier, cds_client):
    now = int(time.time())
    token = cds_client.token(iat=now - 4000, exp=now + 300)
    assert rejected(inline_verifier, token) == "too-old"


def test_wrong_audience(inline_verifier, cds_client, drop):
    assert rejected(inline_verifier, cds_client.token(aud=f"{BASE}/cds-services/other")) == "wrong-audience"
    assert rejected(inline_verifier, cds_client.token(aud=["https://x.example.org"])) == "wrong-audience"
    assert rejected(inline_verifier, cds_client.token(aud=drop)) == "wrong-audience"


def test_replay(inline_verifier, cds_client):
    token = cds_client.token()
    verify(inline_verifier, token)
    assert rejected(inline_verifier, token) == "replay"
    # the same jti in a freshly signed token is a replay too
    jti = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==")).get("jti")
    assert rejected(inline_verifier, cds_client.token(jti=jti)) == "replay"


def test_rejected_token_does_not_burn_its_jti(inline_verifier, cds_client):
    bad = cds_client.token(jti="same", aud="https://wrong.example.org")
    assert rejected(inline_verifier, bad) == "wrong-audience"
    assert verify(inline_verifier, cds_client.token(jti="same")).jti == "same"


def test_tenant_allowlist(settings, cds_client, drop):
    verifier = make_verifier(settings, entry={"iss": ISS, "jwks": cds_client.jwks(), "tenants": ["t1"]})
    assert verify(verifier, cds_client.token(tenant="t1")).tenant == "t1"
    assert rejected(verifier, cds_client.token(tenant="t2")) == "untrusted-tenant"
    assert rejected(verifier, cds_client.token()) == "untrusted-tenant"


def test_unknown_kid_refetches_once_then_unknown_key(settings, cds_client):
    clock = FakeClock()
    server = JwksServer(cds_client.jwks())
    verifier = make_verifier(
        settings, entry={"iss": ISS, "jku": [JKU]}, http_client=server.client(), clock=clock
    )
    verify(verifier, cds_client.token("ec-1", now=clock.now))
    assert len(server.requests) == 1
    # the key set was fetched moments ago: an unknown kid does not trigger another fetch
    assert (
        rejected(verifier, cds_client.token("nope", signing_key=cds_client.keys["ec-1"][1])) == "unknown-key"
    )
    assert len(server.requests) == 1
    clock.advance(61)
    unknown = cds_client.token("nope", signing_key=cds_client.keys["ec-1"][1], now=clock.now)
    assert rejected(verifier, unknown) == "unknown-key"
    assert len(server.requests) == 2  # refetched once
    for _ in range(5):  # a flood of forged kids is not amplified into fetches
        forged = cds_client.token("nope-again", signing_key=cds_client.keys["ec-1"][1], now=clock.now)
        assert rejected(verifier, forged) == "unknown-key"
    assert len(server.requests) == 2


def test_unknown_kid_refetch_finds_a_rotated_key(settings):
    client = CdsTestClient()
    clock = FakeClock()
    server = JwksServer(client.jwks())
    verifier = make_verifier(
        settings, entry={"iss": ISS, "jku": [JKU]}, http_client=server.client(), clock=clock
    )
    verify(verifier, client.token("ec-1", now=clock.now))
    client.add_key("ec-2", "ES384", ec.generate_private_key(ec.SECP384R1()))
    server.jwks = client.jwks()
    clock.advance(120)
    assert verify(verifier, client.token("ec-2", now=clock.now)).kid == "ec-2"
    assert len(server.requests) == 2


def test_unknown_kid_with_cold_cache_fetches_exactly_once(settings, cds_client):
    server = JwksServer(cds_client.jwks())
    verifier = make_verifier(settings, entry={"iss": ISS, "jku": [JKU]}, http_client=server.client())
    assert (
        rejected(verifier, cds_client.token("nope", signing_key=cds_client.keys["ec-1"][1])) == "unknown-key"
    )
    assert len(server.requests) == 1


def test_unknown_kid_with_pinned_keys_only(settings, cds_client):
    verifier = make_verifier(settings, entry={"iss": ISS, "jwks": cds_client.jwks()})
    assert (
        rejected(verifier, cds_client.token("nope", signing_key=cds_client.keys["ec-1"][1])) == "unknown-key"
    )


def test_jku_fetch_failure_is_unknown_key_and_stale_keys_are_kept(settings, cds_client):
    settings = settings.model_copy(update={"jku_cache_seconds": 10})
    clock = FakeClock()
    server = JwksServer(cds_client.jwks())
    verifier = make_verifier(
        settings, entry={"iss": ISS, "jku": [JKU]}, http_client=server.client(), clock=clock
    )
    verify(verifier, cds_client.token(now=clock.now))
    server.status = 500
    clock.advance(120)
    assert verify(verifier, cds_client.token(now=clock.now)).kid == "ec-1"  # stale copy used
    cold = make_verifier(settings, entry={"iss": ISS, "jku": [JKU]}, http_client=server.client(), clock=clock)
    assert rejected(cold, cds_client.token(now=clock.now)) == "unknown-key"


def test_jku_fetch_timeout(settings, cds_client):
    settings = settings.model_copy(update={"jku_timeout_seconds": 0.05})

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1)
        return httpx.Response(200, json=cds_client.jwks())

    client = httpx.AsyncClient(transport=httpx.MockTransport(slow))
    verifier = make_verifier(settings, entry={"iss": ISS, "jku": [JKU]}, http_client=client)
    started = time.monotonic()
    assert rejected(verifier, cds_client.token()) == "unknown-key"
    assert time.monotonic() - started < 0.8


def test_jku_private_keys_are_ignored(settings, cds_client):
    jwk = cds_client.public_jwk("ec-1")
    jwk["d"] = "AAAA"
    server = JwksServer({"keys": [jwk]})
    verifier = make_verifier(settings, entry={"iss": ISS, "jku": [JKU]}, http_client=server.client())
    assert rejected(verifier, cds_client.token()) == "unknown-key"


def test_missing_kid(inline_verifier, cds_client, drop):
    assert rejected(inline_verifier, cds_client.token(headers={"kid": drop})) == "malformed-token"


def test_wrong_typ(inline_verifier, cds_client):
    assert rejected(inline_verifier, cds_client.token(headers={"typ": "at+jwt"})) == "malformed-token"


@pytest.mark.parametrize("claim", ["exp", "iat", "jti"])
def test_required_claims(inline_verifier, cds_client, drop, claim):
    assert rejected(inline_verifier, cds_client.token(**{claim: drop})) == "malformed-token"


def test_non_numeric_exp(inline_verifier, cds_client):
    assert rejected(inline_verifier, cds_client.token(exp="tomorrow")) == "malformed-token"


# --------------------------------------------------------------------------- misc


def test_auth_error_kinds_are_checked():
    with pytest.raises(ValueError):
        AuthError("nope", "x")
    err = AuthError("expired", "m", iss="i" * 500, kid="k\nforged log line")
    assert len(err.iss) == 200 and "\n" not in err.kid


def test_memory_replay_cache_expiry():
    clock = FakeClock()
    cache = MemoryReplayCache(clock=clock)
    until = datetime.fromtimestamp(clock.now + 10).astimezone()
    assert cache.remember_jti(ISS, "j", until) is True
    assert cache.remember_jti(ISS, "j", until) is False
    assert cache.remember_jti("https://other.example.org", "j", until) is True
    clock.advance(11)
    assert cache.remember_jti(ISS, "j", until) is True


def test_memory_replay_cache_is_bounded():
    clock = FakeClock()
    cache = MemoryReplayCache(clock=clock, max_entries=3)
    until = datetime.fromtimestamp(clock.now + 10).astimezone()
    for i in range(10):
        assert cache.remember_jti(ISS, str(i), until)
    assert len(cache) <= 3


def test_shipped_trusted_issuers_trust_the_sandbox_offline():
    issuers = load_trusted_issuers(Settings().trusted_issuers)
    sandbox = issuers.get("https://sandbox.cds-hooks.org")
    assert sandbox is not None
    assert sandbox.jku == ("https://sandbox.cds-hooks.org/.well-known/jwks.json",)
    assert sandbox.keys, "the sandbox public key must be inline for offline use"
    for key in sandbox.keys.values():
        assert not {"d", "p", "q", "k"} & key.jwk.keys()
        assert key.fits("ES384")
    path = Path(Settings().trusted_issuers)
    assert path.name == "trusted_issuers.json" and path.is_file()


def test_default_verifier_loads_issuers_from_settings(settings, tmp_path, cds_client):
    config = tmp_path / "issuers.json"
    config.write_text(json.dumps({"issuers": [{"iss": ISS, "jwks": cds_client.jwks()}]}))
    verifier = JwtVerifier(settings.model_copy(update={"trusted_issuers": config}), MemoryReplayCache())
    assert verify(verifier, cds_client.token()).iss == ISS


def test_threaded_replay_cache_wraps_a_blocking_store(settings, cds_client):
    import threading

    threads = []

    class BlockingStore:
        def __init__(self) -> None:
            self.inner = MemoryReplayCache()

        def remember_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
            threads.append(threading.current_thread())
            return self.inner.remember_jti(iss, jti, expires_at)

    cache = ThreadedReplayCache(BlockingStore())
    verifier = make_verifier(settings, entry={"iss": ISS, "jwks": cds_client.jwks()}, replay_cache=cache)
    token = cds_client.token()
    verify(verifier, token)
    assert rejected(verifier, token) == "replay"
    assert threads and all(t is not threading.main_thread() for t in threads)


def test_long_alg_is_truncated_in_the_message(inline_verifier, cds_client):
    alg = "X" * 5000
    token = f"{b64url_json({'alg': alg, 'kid': 'ec-1'})}.{b64url_json(cds_client.claims())}.c2ln"
    with pytest.raises(AuthError) as info:
        asyncio.run(inline_verifier.verify(f"Bearer {token}", [AUD]))
    assert info.value.kind == "disallowed-algorithm" and len(str(info.value)) < 300
