"""The web layer's OperationOutcome responses: `errors.ServiceError` (and any message) as an HTTP response."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from starlette.responses import Response

from cds_service.errors import ServiceError, operation_outcome


def outcome_response(status: int, message: str, *, code: str = "invalid", expression: Sequence[str] = (),
                     headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(operation_outcome(message, code=code, expression=expression))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(err: ServiceError) -> Response:
    return outcome_response(err.status, err.message, code=err.code, expression=err.expression)
