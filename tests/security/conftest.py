"""A test CDS client: real ES384/RS384 keys, published as a JWKS, signing JWTs with PyJWT."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cds_service.security.issuers import parse_trusted_issuers
from cds_service.security.jwt import JwtVerifier, MemoryReplayCache
from cds_service.settings import Settings

ISS = "https://ehr.example.org"
BASE = "https://cds.example.org"
SERVICE_ID = "naltrexone-order-check"
AUD = f"{BASE}/cds-services/{SERVICE_ID}"
JKU = "https://ehr.example.org/.well-known/jwks.json"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


class FakeClock:
    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CdsTestClient:
    """Holds one EC P-384 (ES384) and one RSA 2048 (RS384) key and signs CDS Hooks JWTs."""

    def __init__(self, iss: str = ISS) -> None:
        self.iss = iss
        self.keys: dict[str, tuple[str, Any]] = {
            "ec-1": ("ES384", ec.generate_private_key(ec.SECP384R1())),
            "rsa-1": ("RS384", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        }

    def add_key(self, kid: str, alg: str, private_key: Any) -> None:
        self.keys[kid] = (alg, private_key)

    def public_jwk(self, kid: str, *, pin_alg: bool = True) -> dict[str, Any]:
        alg, key = self.keys[kid]
        algo = jwt.get_algorithm_by_name(alg)
        jwk = algo.to_jwk(key.public_key(), as_dict=True)
        jwk.update({"kid": kid, "use": "sig"})
        if pin_alg:
            jwk["alg"] = alg
        return jwk

    def jwks(self, *, pin_alg: bool = True) -> dict[str, Any]:
        return {"keys": [self.public_jwk(kid, pin_alg=pin_alg) for kid in self.keys]}

    def claims(self, *, now: float | None = None, aud: Any = AUD, **overrides: Any) -> dict[str, Any]:
        now = time.time() if now is None else now
        claims: dict[str, Any] = {
            "iss": self.iss,
            "aud": aud,
            "iat": int(now),
            "exp": int(now) + 300,
            "jti": str(uuid.uuid4()),
        }
        for name, value in {"aud": aud, **overrides}.items():
            if value is _DROP:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def token(
        self,
        kid: str = "ec-1",
        *,
        alg: str | None = None,
        headers: dict[str, Any] | None = None,
        signing_key: Any = None,
        now: float | None = None,
        **claim_overrides: Any,
    ) -> str:
        key_alg, key = self.keys.get(kid, ("ES384", None))
        alg = alg or key_alg
        signing_key = signing_key if signing_key is not None else key
        header = {"kid": kid, "typ": "JWT", **(headers or {})}
        header = {k: v for k, v in header.items() if v is not _DROP}
        return jwt.encode(self.claims(now=now, **claim_overrides), signing_key, algorithm=alg, headers=header)


_DROP = object()


@pytest.fixture(scope="session")
def drop() -> object:
    """Pass as a claim/header value to leave it out of the token."""
    return _DROP


@pytest.fixture(scope="session")
def cds_client() -> CdsTestClient:
    return CdsTestClient()


@pytest.fixture
def settings() -> Settings:
    return Settings(public_base_url=BASE, auth_mode="jwt")


class JwksServer:
    """An `httpx.MockTransport` serving a JWKS at JKU and counting the requests."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.requests: list[str] = []
        self.status = 200

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        if str(request.url) != JKU:
            return httpx.Response(404)
        if self.status != 200:
            return httpx.Response(self.status)
        return httpx.Response(200, json=self.jwks)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


def make_verifier(
    settings: Settings,
    *,
    entry: dict[str, Any],
    base_dir: Any = ".",
    http_client: httpx.AsyncClient | None = None,
    clock: FakeClock | None = None,
    replay_cache: Any = None,
) -> JwtVerifier:
    from pathlib import Path

    issuers = parse_trusted_issuers({"issuers": [entry]}, base_dir=Path(base_dir), source="test-config")
    kwargs: dict[str, Any] = {}
    if clock is not None:
        kwargs["clock"] = clock
    cache = replay_cache if replay_cache is not None else MemoryReplayCache(**kwargs)
    return JwtVerifier(settings, cache, issuers=issuers, http_client=http_client, **kwargs)


@pytest.fixture
def inline_verifier(settings: Settings, cds_client: CdsTestClient) -> JwtVerifier:
    return make_verifier(settings, entry={"iss": ISS, "jwks": cds_client.jwks(), "jku": [JKU]})
