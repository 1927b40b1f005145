"""The admin bearer token (`CDS_ADMIN_TOKEN`) that guards the analytics endpoints the dashboard reads."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from cds_service.errors import outcome_response
from cds_service.settings import Settings


def admin_refusal(request: Request, settings: Settings) -> Response | None:
    """None when the request carries `Authorization: Bearer <CDS_ADMIN_TOKEN>`, else the 401 to answer.

    Compared in constant time; the token never appears in a message or a log line.
    """
    expected = settings.admin_token
    if not expected:
        return outcome_response(401, "Analytics are disabled: set CDS_ADMIN_TOKEN.", code="security",
                                headers={"WWW-Authenticate": "Bearer"})
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        return outcome_response(401, "Analytics need 'Authorization: Bearer <CDS_ADMIN_TOKEN>'.",
                                code="security", headers={"WWW-Authenticate": "Bearer"})
    return None
