"""The admin bearer token (`CDS_ADMIN_TOKEN`) that guards the analytics endpoints the dashboard reads."""

from __future__ import annotations

import hmac
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from cds_service.bounded import utc_instant
from cds_service.errors import BadRequest, outcome_response
from cds_service.settings import Settings


def admin_refusal(request: Request, settings: Settings) -> Response | None:
    """None when the request carries `Authorization: Bearer <CDS_ADMIN_TOKEN>`, else the 401 to answer.

    Compared in constant time; the token never appears in a message or a log line.
    """
    expected = settings.admin_token
    if not expected:
        return outcome_response(401, "Analytics are disabled: set CDS_ADMIN_TOKEN.", code="security",
                                headers={"WWW-Authenticate": "Bearer"})
    given = request.headers.getlist("authorization")  # two Authorization headers are refused, not guessed at
    if len(given) != 1 or not hmac.compare_digest(given[0].encode(), f"Bearer {expected}".encode()):
        return outcome_response(401, "Analytics need one 'Authorization: Bearer <CDS_ADMIN_TOKEN>' header.",
                                code="security", headers={"WWW-Authenticate": "Bearer"})
    return None


def analytics_window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """`?since=&until=` as UTC datetimes (ISO 8601; a date alone is midnight UTC), or a 400 naming the field."""
    out: list[datetime | None] = []
    for name, value in (("since", since), ("until", until)):
        if value is None or value == "":
            out.append(None)
            continue
        try:
            if len(value) > 40:
                raise ValueError(value)
            out.append(utc_instant(datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))))
        except ValueError:
            raise BadRequest(f"`{name}` must be an ISO 8601 date or date-time between 1900 and 2200, "
                             "e.g. 2026-11-01 or 2026-11-01T00:00:00Z.", expression=[name]) from None
    return out[0], out[1]
