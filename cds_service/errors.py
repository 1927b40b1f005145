"""Every non-2xx answer is a FHIR OperationOutcome a person can act on.

Framework-free: the errors are raised anywhere (rules packs and the pipeline import this module); turning them
into HTTP responses is the web layer's job (`cds_service.responses`)."""

from __future__ import annotations

from collections.abc import Sequence


class ServiceError(Exception):
    """An error answered with `status` and an OperationOutcome; never a 500."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, expression: Sequence[str] = (), status: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = list(expression)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class BadRequest(ServiceError):
    status = 400
    code = "invalid"


class NotFound(ServiceError):
    status = 404
    code = "not-found"


class PreconditionFailed(ServiceError):
    """412: the data the rules need could not be obtained (CDS Hooks 2.0 §prefetch)."""

    status = 412
    code = "incomplete"


def operation_outcome(message: str, *, code: str = "invalid", severity: str = "error",
                      expression: Sequence[str] = ()) -> dict:
    issue: dict = {"severity": severity, "code": code, "diagnostics": message}
    if expression:
        issue["expression"] = list(expression)
    return {"resourceType": "OperationOutcome", "issue": [issue]}
