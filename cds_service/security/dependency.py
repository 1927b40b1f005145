"""Glue between the routes and `JwtVerifier`: expected audiences, authentication, the 401 response, CORS.

Typical route use::

    client = await authenticate(request, settings, verifier, "service", service_id)  # may raise AuthError

with `app.add_exception_handler(AuthError, auth_error_handler)` turning AuthError into the 401.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi.responses import JSONResponse

from cds_service.errors import operation_outcome
from cds_service.ops.metrics import observe_jwt_reject
from cds_service.security.jwt import AuthError, JwtVerifier, VerifiedClient

if TYPE_CHECKING:
    from starlette.requests import Request

    from cds_service.settings import Settings

logger = logging.getLogger(__name__)

PATH_KINDS = ("discovery", "service", "feedback")

# What the caller can do about each failure. The answer also carries the failure's message, which names
# what was expected where that helps (an audience is not a secret); it never contains the token.
_HINTS = {
    "missing-token": "send `Authorization: Bearer <JWT>` signed by a trusted CDS client.",
    "malformed-token": "send a compact JWS with header alg/kid/typ and claims iss, aud, exp, iat, jti.",
    "untrusted-issuer": "the issuer must be registered with this service (trusted issuers).",
    "unknown-key": "sign with a key published in the issuer's registered key set.",
    "bad-signature": "sign the token with the private key of its `kid`.",
    "disallowed-algorithm": "sign with an accepted asymmetric algorithm (ES384 or RS384).",
    "expired": "send a freshly issued token on every call.",
    "not-yet-valid": "check the client's clock.",
    "too-old": "send a freshly issued token on every call.",
    "wrong-audience": "the service computes the expected `aud` from CDS_PUBLIC_BASE_URL; an issuer may accept "
    "more values with `audiences`.",
    "replay": "use a new `jti` on every call.",
    "untrusted-tenant": "the tenant must be registered with this service for this issuer.",
}


def _base_url(settings: Settings) -> str:
    return settings.public_base_url.rstrip("/")


def audiences_for(settings: Settings, path_kind: str, service_id: str | None) -> list[str]:
    """The `aud` values accepted on an endpoint, computed from `public_base_url` (never the Host header).

    discovery → `{base}/cds-services`; service → `{base}/cds-services/{id}`; feedback →
    `{base}/cds-services/{id}/feedback` and `{base}/cds-services/{id}` (clients differ on which they use).
    """
    base = f"{_base_url(settings)}/cds-services"
    if path_kind == "discovery":
        return [base]
    if path_kind not in PATH_KINDS:
        raise ValueError(f"unknown path kind {path_kind!r}; expected one of {PATH_KINDS}")
    if not service_id:
        raise ValueError(f"path kind {path_kind!r} needs a service id")
    service = f"{base}/{service_id}"
    if path_kind == "service":
        return [service]
    return [f"{service}/feedback", service]


async def authenticate(
    request: Request,
    settings: Settings,
    verifier: JwtVerifier | None,
    kind: str,
    service_id: str | None = None,
) -> VerifiedClient | None:
    """Verify the request's JWT for the endpoint `kind`; None when `auth_mode == "off"`.

    Raises AuthError on any failure (turn it into `auth_error_response(err)`).
    """
    if settings.auth_mode == "off":
        return None
    if verifier is None:
        raise RuntimeError("auth_mode is 'jwt' but no JwtVerifier was configured")
    audiences = audiences_for(settings, kind, service_id)
    given = request.headers.getlist("authorization")
    if len(given) > 1:  # which one would a proxy, a log or another server have checked? refuse the ambiguity
        raise AuthError("malformed-token", "more than one Authorization header")
    return await verifier.verify(given[0] if given else None, audiences)


def log_auth_failure(err: AuthError) -> None:
    """One WARNING line: failure kind and the unverified iss/kid/jti/tenant (truncated). Never the token."""
    logger.warning(
        "JWT rejected: kind=%s iss=%s kid=%s jti=%s tenant=%s reason=%s",
        err.kind,
        err.iss,
        err.kid,
        err.jti,
        err.tenant,
        err.message,
    )


def auth_error_response(err: AuthError, *, log: bool = True) -> JSONResponse:
    """401 with an OperationOutcome (code `security`) naming the kind of failure; logs it once."""
    if log:
        log_auth_failure(err)
    observe_jwt_reject(err.kind)
    diagnostics = f"JWT rejected: {err.kind}: {err.message}. {_HINTS.get(err.kind, '')}".strip()
    return JSONResponse(
        operation_outcome(diagnostics, code="security"),
        status_code=401,
        headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"},
        media_type="application/json",
    )


async def auth_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI exception handler: `app.add_exception_handler(AuthError, auth_error_handler)`."""
    if not isinstance(exc, AuthError):  # pragma: no cover - registered for AuthError only
        raise exc
    return auth_error_response(exc)


def cors_origins(settings: Settings) -> list[str]:
    """Origins allowed by CORS: `cors_origins` if set; else `*` with auth off; else the CDS Hooks Sandbox."""
    if settings.cors_origins:
        return list(settings.cors_origins)
    if settings.auth_mode == "off":
        return ["*"]
    return ["https://sandbox.cds-hooks.org"]


def cors_options(settings: Settings) -> dict[str, object]:
    """Keyword arguments for `starlette.middleware.cors.CORSMiddleware` (preflights need no auth)."""
    return {
        "allow_origins": cors_origins(settings),
        "allow_methods": ["GET", "POST", "OPTIONS"],
        "allow_headers": ["Authorization", "Content-Type"],
        "allow_credentials": False,
        # Chromium asks before a public https page (the hosted Sandbox) calls a private address (a service on
        # localhost or the intranet): `Access-Control-Request-Private-Network: true` is answered with
        # `Access-Control-Allow-Private-Network: true` for the allowed origins; other origins still get 400
        "allow_private_network": True,
        "max_age": 600,
    }
