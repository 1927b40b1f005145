"""Security of the CDS service: JWT verification of CDS clients, trusted issuers, HTTP hardening."""

from cds_service.security.dependency import (
    audiences_for,
    auth_error_handler,
    auth_error_response,
    authenticate,
    cors_options,
    cors_origins,
)
from cds_service.security.issuers import TrustedIssuer, TrustedIssuers, load_trusted_issuers
from cds_service.security.jwt import (
    AUTH_ERROR_KINDS,
    AuthError,
    JwtVerifier,
    MemoryReplayCache,
    ReplayCache,
    ThreadedReplayCache,
    VerifiedClient,
)
from cds_service.security.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware

__all__ = [
    "AUTH_ERROR_KINDS",
    "AuthError",
    "BodyLimitMiddleware",
    "JwtVerifier",
    "MemoryReplayCache",
    "ReplayCache",
    "SecurityHeadersMiddleware",
    "ThreadedReplayCache",
    "TrustedIssuer",
    "TrustedIssuers",
    "VerifiedClient",
    "audiences_for",
    "auth_error_handler",
    "auth_error_response",
    "authenticate",
    "cors_options",
    "cors_origins",
    "load_trusted_issuers",
]
