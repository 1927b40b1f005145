"""Verification of the JWTs CDS clients send (CDS Hooks 2.0 §Security; checklist §6).

`JwtVerifier.verify` accepts `Authorization: Bearer <JWT>` only when, in this order:
the header is a Bearer token; the JWT header has an allowlisted asymmetric `alg`, a `kid` and (if present)
`typ: JWT`; `iss` is a trusted issuer; a `jku`, if present, is allowlisted for that issuer; the `kid`
selects one of the issuer's keys (pinned, or fetched from an allowlisted `jku`); the signature verifies;
`aud` names this endpoint; `exp`/`iat` are current; the `tenant` is allowed; the `jti` is new.

The token itself is never logged nor put in an exception: AuthError carries only the failure kind, a
human message and a few claims read from an unverified decode (`iss`, `kid`, `jti`, `tenant`, truncated)
so the caller can log them.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import jwt

from cds_service.bounded import epoch_seconds
from cds_service.security.issuers import (
    PublicJwk,
    TrustedIssuer,
    TrustedIssuers,
    load_trusted_issuers,
    public_key_problem,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from cds_service.settings import Settings

logger = logging.getLogger(__name__)

AUTH_ERROR_KINDS = frozenset(
    {
        "missing-token",
        "malformed-token",
        "untrusted-issuer",
        "unknown-key",
        "bad-signature",
        "disallowed-algorithm",
        "expired",
        "not-yet-valid",
        "too-old",
        "wrong-audience",
        "replay",
        "untrusted-tenant",
    }
)

# Asymmetric algorithms PyJWT verifies with `cryptography`; `none` and HS* are never accepted.
SUPPORTED_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
)
MAX_TOKEN_CHARS = 16_384
MAX_JWKS_BYTES = 256 * 1024
_LOG_VALUE_CHARS = 200


def _log_safe(value: Any) -> str | None:
    """A claim value fit for a log line: a string, control characters removed, at most 200 chars."""
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text[:_LOG_VALUE_CHARS])
    return text


class AuthError(Exception):
    """A rejected JWT. `kind` is one of AUTH_ERROR_KINDS; `message` says what happened (nothing secret).

    `iss`, `kid`, `jti`, `tenant` are the values read WITHOUT verification (for logging only; they may be
    forged), already truncated to 200 characters.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        iss: Any = None,
        kid: Any = None,
        jti: Any = None,
        tenant: Any = None,
    ) -> None:
        if kind not in AUTH_ERROR_KINDS:
            raise ValueError(f"unknown AuthError kind {kind!r}")
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.iss = _log_safe(iss)
        self.kid = _log_safe(kid)
        self.jti = _log_safe(jti)
        self.tenant = _log_safe(tenant)


@dataclass(frozen=True)
class VerifiedClient:
    """The authenticated CDS client of a request."""

    iss: str
    kid: str
    jti: str
    tenant: str | None = None
    sub: str | None = None  # Epic: the CDS client id configured for the service
    profile: str = "generic"  # the issuer's client profile (cds_service.profiles)


class ReplayCache(Protocol):
    def remember_jti(self, iss: str, jti: str, expires_at: datetime) -> bool | Awaitable[bool]:
        """Record (iss, jti) until `expires_at`; True if it was not already recorded."""
        ...


class MemoryReplayCache:
    """In-process replay cache (tests, single process, `auth_mode=off`). Not shared between workers."""

    def __init__(self, *, clock: Callable[[], float] = time.time, max_entries: int = 100_000) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._max_entries = max_entries

    def remember_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
        now = self._clock()
        key = (iss, jti)
        with self._lock:
            expiry = self._seen.get(key)
            if expiry is not None and expiry > now:
                return False
            if len(self._seen) >= self._max_entries:
                self._purge(now)
                if len(self._seen) >= self._max_entries:  # still full: drop the soonest to expire
                    oldest = min(self._seen, key=self._seen.__getitem__)
                    del self._seen[oldest]
            self._seen[key] = expires_at.timestamp()
            return True

    def _purge(self, now: float) -> None:
        for key in [k for k, exp in self._seen.items() if exp <= now]:
            del self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)


class ThreadedReplayCache:
    """Runs a blocking replay cache (e.g. the SQLAlchemy-backed Store) in a worker thread."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def remember_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
        return bool(await asyncio.to_thread(self.inner.remember_jti, iss, jti, expires_at))


@dataclass
class _JwksEntry:
    keys: dict[str, PublicJwk]
    fetched_at: float  # when the keys were fetched successfully


class JwtVerifier:
    """Verifies CDS Hooks client JWTs against the trusted issuers of `settings`.

    `issuers` defaults to `load_trusted_issuers(settings.trusted_issuers)`. `http_client` is used to fetch
    allowlisted `jku` key sets (default: a short-lived httpx.AsyncClient per fetch, timeout
    `jku_timeout_seconds`, no redirects). A `jku` URL is fetched at most once per
    `jku_min_refetch_seconds` whatever tokens arrive, so forged `kid`s cannot turn the service into a
    request amplifier. `clock` returns epoch seconds (tests).
    """

    def __init__(
        self,
        settings: Settings,
        replay_cache: ReplayCache,
        *,
        issuers: TrustedIssuers | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        jku_min_refetch_seconds: float = 60.0,
    ) -> None:
        self.settings = settings
        self.replay_cache = replay_cache
        self.issuers = issuers if issuers is not None else load_trusted_issuers(settings.trusted_issuers)
        self._http_client = http_client
        self._clock = clock
        self._jku_min_refetch = jku_min_refetch_seconds
        configured = {a.strip() for a in settings.jwt_algorithms}
        refused = sorted(a for a in configured if a.lower() == "none" or a.upper().startswith("HS"))
        if refused:
            logger.warning("jwt_algorithms: %s refused (none and symmetric HS* are never accepted)", refused)
        unknown = sorted(configured - SUPPORTED_ALGORITHMS - set(refused))
        if unknown:
            logger.warning("jwt_algorithms: %s ignored (unsupported)", unknown)
        self.algorithms = frozenset(configured & SUPPORTED_ALGORITHMS)
        self._jwks: dict[str, _JwksEntry] = {}
        self._last_fetch_attempt: dict[str, float] = {}
        self._fetch_locks: dict[str, asyncio.Lock] = {}
        self.jku_fetch_count = 0  # observability / tests

    # ------------------------------------------------------------------ public API
    async def verify(self, authorization: str | None, audiences: Sequence[str]) -> VerifiedClient:
        token = self._bearer_token(authorization)
        header, unverified = self._unverified_parts(token)
        ctx = {
            "iss": unverified.get("iss"),
            "kid": header.get("kid"),
            "jti": unverified.get("jti"),
            "tenant": unverified.get("tenant"),
        }

        def fail(kind: str, message: str) -> AuthError:
            return AuthError(kind, message, **ctx)

        alg = header.get("alg")
        if not isinstance(alg, str) or not alg:
            raise fail("malformed-token", "the JWT header has no `alg`")
        if alg.lower() == "none" or alg.upper().startswith("HS"):
            raise fail(
                "disallowed-algorithm",
                f"alg {_log_safe(alg)[:40]!r} is never accepted (unsigned or symmetric)",
            )
        if alg not in self.algorithms:
            raise fail(
                "disallowed-algorithm",
                f"alg {_log_safe(alg)[:40]!r} is not in the allowlist {sorted(self.algorithms)}",
            )
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
            raise fail("malformed-token", "the JWT header `typ` must be 'JWT'")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise fail("malformed-token", "the JWT header has no `kid` (it selects the verification key)")

        iss = unverified.get("iss")
        if not isinstance(iss, str) or not iss:
            raise fail("untrusted-issuer", "the JWT has no `iss` claim")
        issuer = self.issuers.get(iss)
        if issuer is None:
            raise fail("untrusted-issuer", "`iss` is not a trusted issuer (CDS_TRUSTED_ISSUERS)")

        jku = header.get("jku")
        if jku is not None and (not isinstance(jku, str) or jku not in issuer.jku):
            raise fail("unknown-key", "the JWT header `jku` is not allowlisted for this issuer")

        public_key = await self._find_key(issuer, kid, jku)
        if public_key is None:
            raise fail("unknown-key", "no key of this issuer has the JWT's `kid`")
        key = public_key.for_alg(alg)
        if key is None:
            raise fail("disallowed-algorithm", f"alg {_log_safe(alg)[:40]!r} does not fit the `kid` key")

        accepted = list(dict.fromkeys([*audiences, *issuer.audiences]))
        claims = self._decode_verified(token, key, alg, accepted, fail, computed=audiences,
                                       declared=issuer.audiences)
        now = self._clock()
        skew = self.settings.jwt_clock_skew_seconds
        exp = self._numeric_claim(claims, "exp", fail)
        iat = self._numeric_claim(claims, "iat", fail)
        if exp + skew <= now:
            raise fail("expired", "the JWT has expired (`exp`)")
        if iat > now + skew:
            raise fail("not-yet-valid", "the JWT was issued in the future (`iat`); check the client's clock")
        nbf = claims.get("nbf")
        if nbf is not None:
            nbf = self._numeric_claim(claims, "nbf", fail)
            if nbf > now + skew:
                raise fail("not-yet-valid", "the JWT is not valid yet (`nbf`)")
        max_age = self.settings.jwt_max_age_seconds
        if iat < now - max_age - skew:
            raise fail("too-old", f"the JWT was issued more than {max_age} s ago (`iat`)")

        sub = claims.get("sub")
        if sub is not None and (not isinstance(sub, str) or not sub):
            raise fail("malformed-token", "the `sub` claim must be a non-empty string (the CDS client id)")

        tenant = claims.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise fail("malformed-token", "the `tenant` claim must be a string")
        if issuer.tenants is not None and tenant not in issuer.tenants:
            raise fail("untrusted-tenant", "the JWT's `tenant` is not allowed for this issuer")

        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > 255:
            raise fail(
                "malformed-token", "the `jti` claim must be a non-empty string (at most 255 characters)"
            )
        # A token is only usable while it is within `jwt_max_age_seconds` of `iat`: remember the jti
        # until then (or until `exp` if sooner), plus skew — not until a far-future `exp`.
        keep_until = min(exp, iat + max_age) + skew
        expires_at = datetime.fromtimestamp(keep_until, tz=UTC)
        first_time = self.replay_cache.remember_jti(iss, jti, expires_at)
        if inspect.isawaitable(first_time):
            first_time = await first_time
        if not first_time:
            raise fail("replay", "this `jti` was already used; send a fresh token on every call")
        return VerifiedClient(iss=iss, kid=kid, jti=jti, tenant=tenant, sub=sub, profile=issuer.profile)

    # ------------------------------------------------------------------ steps
    @staticmethod
    def _bearer_token(authorization: str | None) -> str:
        if authorization is None or not authorization.strip():
            raise AuthError("missing-token", "no Authorization header; send `Authorization: Bearer <JWT>`")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise AuthError("missing-token", "the Authorization header is not a Bearer token")
        token = token.strip()
        if not token:
            raise AuthError("missing-token", "the Bearer token is empty")
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError(
                "malformed-token", f"the Bearer token is longer than {MAX_TOKEN_CHARS} characters"
            )
        if token.count(".") != 2:
            raise AuthError(
                "malformed-token", "the Bearer token is not a compact JWS (header.payload.signature)"
            )
        return token

    @staticmethod
    def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
            payload = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthError("malformed-token", "the Bearer token is not a decodable JWT") from None
        if not isinstance(header, dict) or not isinstance(payload, dict):
            raise AuthError("malformed-token", "the JWT header and payload must be JSON objects")
        return header, payload

    def _decode_verified(
        self,
        token: str,
        key: jwt.PyJWK,
        alg: str,
        audiences: Sequence[str],
        fail: Callable[[str, str], AuthError],
        *,
        computed: Sequence[str] = (),
        declared: Sequence[str] = (),
    ) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=list(audiences),
                options={
                    "require": ["aud"],
                    # time claims are checked below with our clock and distinct failure kinds
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_iss": False,  # already matched exactly against the trusted issuer
                },
            )
        except jwt.InvalidSignatureError:
            raise fail("bad-signature", "the JWT signature does not verify with the `kid` key") from None
        except jwt.InvalidAlgorithmError:
            raise fail(
                "disallowed-algorithm", f"alg {_log_safe(alg)[:40]!r} cannot be used with this key"
            ) from None
        except jwt.MissingRequiredClaimError:
            raise fail("wrong-audience", "the JWT has no `aud` claim") from None
        except jwt.InvalidAudienceError:
            # an audience is not a secret: say what was expected and which setting produces it
            expected = " or ".join(f"'{a}'" for a in computed) or "(none)"
            message = (f"`aud` is not the URL of the endpoint called: expected {expected}, computed from "
                       "CDS_PUBLIC_BASE_URL (set it to the base URL the EHR was given)")
            if declared:
                message += ", or one of this issuer's `audiences`: " + ", ".join(f"'{a}'" for a in declared)
            else:
                message += ", or list the EHR's configured `aud` in this issuer's `audiences` (CDS_TRUSTED_ISSUERS)"
            raise fail("wrong-audience", message) from None
        except jwt.PyJWTError:
            raise fail("malformed-token", "the JWT could not be decoded") from None

    @staticmethod
    def _numeric_claim(claims: dict[str, Any], name: str, fail: Callable[[str, str], AuthError]) -> float:
        value = claims.get(name)
        if value is None:
            raise fail("malformed-token", f"the `{name}` claim is required")
        try:  # the bounded conversion: a 400-digit integer or Infinity is a malformed token, not a 500
            return epoch_seconds(value, name)
        except (TypeError, ValueError):
            raise fail("malformed-token", f"the `{name}` claim must be a number of seconds since the epoch "
                       "(finite, before year 2201)") from None

    # ------------------------------------------------------------------ keys
    async def _find_key(self, issuer: TrustedIssuer, kid: str, jku: str | None) -> PublicJwk | None:
        key = issuer.keys.get(kid)
        if key is not None:
            return key
        urls = [jku] if jku is not None else list(issuer.jku)
        for url in urls:  # cached key sets first: no network when any of them has the kid
            entry = self._jwks.get(url)
            if entry is not None and self._clock() - entry.fetched_at < self.settings.jku_cache_seconds:
                key = entry.keys.get(kid)
                if key is not None:
                    return key
        for url in urls:
            key = await self._key_from_jku(url, kid)
            if key is not None:
                return key
        return None

    async def _key_from_jku(self, url: str, kid: str) -> PublicJwk | None:
        lock = self._fetch_locks.setdefault(url, asyncio.Lock())
        async with lock:
            entry = self._jwks.get(url)
            now = self._clock()
            fresh = entry is not None and now - entry.fetched_at < self.settings.jku_cache_seconds
            if fresh and kid in entry.keys:  # type: ignore[union-attr]
                return entry.keys[kid]  # type: ignore[union-attr]
            last = self._last_fetch_attempt.get(url)
            if last is not None and now - last < self._jku_min_refetch:
                # Fetched moments ago (by this or a concurrent call): do not fetch again.
                if entry is not None:
                    return entry.keys.get(kid)
                return None
            self._last_fetch_attempt[url] = now
            keys = await self._fetch_jwks(url)
            if keys is not None:
                self._jwks[url] = _JwksEntry(keys=keys, fetched_at=self._clock())
                return keys.get(kid)
            # Fetch failed: keep serving a stale copy rather than locking everyone out.
            return entry.keys.get(kid) if entry is not None else None

    async def _fetch_jwks(self, url: str) -> dict[str, PublicJwk] | None:
        self.jku_fetch_count += 1
        timeout = self.settings.jku_timeout_seconds
        try:
            async with asyncio.timeout(timeout):  # overall deadline, not per read
                if self._http_client is not None:
                    body = await self._get(self._http_client, url, timeout)
                else:
                    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                        body = await self._get(client, url, timeout)
        except (httpx.HTTPError, ValueError, TimeoutError) as exc:
            logger.warning(
                "jku key set %s could not be fetched: %s %s",
                url,
                type(exc).__name__,
                _log_safe(str(exc)) if isinstance(exc, ValueError) else "",
            )
            return None
        try:
            data = json.loads(body)
        except ValueError:
            logger.warning("jku key set %s is not JSON", url)
            return None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            logger.warning("jku key set %s has no `keys` list", url)
            return None
        keys: dict[str, PublicJwk] = {}
        for jwk in data["keys"]:
            problem = public_key_problem(jwk)
            if problem:
                logger.warning("jku key set %s: key skipped: %s", url, _log_safe(problem))
                continue
            try:
                keys.setdefault(jwk["kid"], PublicJwk(jwk))
            except (jwt.PyJWTError, ValueError, TypeError):
                logger.warning("jku key set %s: key %s skipped: cannot be loaded", url, _log_safe(jwk["kid"]))
        logger.info("jku key set %s fetched: %d usable key(s)", url, len(keys))
        return keys

    @staticmethod
    async def _get(client: httpx.AsyncClient, url: str, timeout: float) -> bytes:
        async with client.stream(
            "GET", url, timeout=timeout, headers={"Accept": "application/json"}, follow_redirects=False
        ) as resp:
            if resp.status_code != 200:
                raise ValueError(f"HTTP {resp.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > MAX_JWKS_BYTES:
                    raise ValueError("key set too large")
                chunks.append(chunk)
            return b"".join(chunks)
