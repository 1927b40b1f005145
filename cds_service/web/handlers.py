"""Every error the service answers is a FHIR OperationOutcome: the exception handlers that make it so."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from cds_service.errors import ServiceError
from cds_service.ops.telemetry import request_id_of
from cds_service.responses import error_response, outcome_response
from cds_service.security.dependency import auth_error_response
from cds_service.security.jwt import AuthError

log = logging.getLogger("cds_service")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        return error_response(exc)

    @app.exception_handler(AuthError)
    async def _auth_error(request: Request, exc: AuthError) -> Response:
        return auth_error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "No such endpoint. The API is GET /cds-services, POST /cds-services/{id}, "
                    "POST /cds-services/{id}/feedback.", 405: "Method not allowed on this endpoint."}
        return outcome_response(exc.status_code, messages.get(exc.status_code, str(exc.detail)),
                                code="not-found" if exc.status_code == 404 else "not-supported")

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return outcome_response(400, f"Invalid request: {exc.errors()[0].get('msg', 'invalid')}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        request_id = request_id_of(request)  # this handler runs outside the telemetry middleware
        return outcome_response(500, "Internal error: the request was logged. No cards could be computed; "
                                "do not treat this as 'no warnings'.", code="exception",
                                headers={"X-Request-ID": request_id} if request_id else None)
