"""GET /metrics, the web-layer half of `ops.metrics` (the instruments stay framework-free, so that `fhir` and
`store`, which observe into them, never import the web framework)."""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from cds_service.ops.metrics import exposition
from cds_service.responses import outcome_response


def metrics_endpoint(token: str | None):
    """GET /metrics: open when `token` is unset (restrict it at the proxy), else `Bearer <token>` only."""

    async def metrics(request: Request) -> Response:
        if token:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return outcome_response(401, "Metrics need 'Authorization: Bearer <CDS_METRICS_TOKEN>'.",
                                        code="security", headers={"WWW-Authenticate": "Bearer"})
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    return metrics
