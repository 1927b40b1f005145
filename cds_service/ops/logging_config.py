"""One log format for the app and uvicorn: `CDS_LOG_FORMAT=json` (one JSON object a line) or `text`.

Every record gets the id of the request it belongs to (`request_id`, from a context variable the request
middleware sets), and the access line of each request carries its fields (`method`, `route`, `status`,
`duration_ms`, and for hook calls `service`, `hook`, `hook_instance`, `rule_ids`). The request path is
logged as its route template (`/cds-services/{service_id}`), never as sent.

uvicorn's own loggers (`uvicorn`, `uvicorn.error`) are routed through the same handler; `uvicorn.access`
is silenced, the service writes its own access line (`cds_service.access`). `uvicorn_log_config()` is the
dictConfig that `python -m cds_service serve` hands to uvicorn, so the supervisor process of several
workers logs in the same format before any app is imported; `uvicorn-logging.json` beside this module is
the same for a bare `uvicorn --log-config`.
"""

from __future__ import annotations

import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from cds_service.logsafe import escape

REQUEST_ID: ContextVar[str | None] = ContextVar("cds_request_id", default=None)
FIELDS = "cds"  # LogRecord attribute holding a dict of structured fields (logger.info(..., extra={FIELDS: {}}))
FORMAT_ENV = "CDS_LOG_FORMAT"
UVICORN_LOG_CONFIG_FILE = Path(__file__).resolve().parent / "uvicorn-logging.json"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", "pid", "request_id"?, <fields>..., "exception"?}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # several workers write to one stream
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """The classic line, with the request id and the structured fields appended as `key=value`."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = []
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            extra.append(f"request_id={escape(str(request_id))}")
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                if isinstance(value, list | tuple):
                    value = ",".join(map(str, value))
                extra.append(f"{key}={escape(str(value))}")  # a request's hookInstance cannot break the line
        return f"{text} {' '.join(extra)}" if extra else text


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def formatter_from_env() -> logging.Formatter:
    """dictConfig factory (uvicorn `--log-config`): the format named by CDS_LOG_FORMAT (default text)."""
    return formatter_for(os.environ.get(FORMAT_ENV, "text").strip().lower())


class _ServiceHandler(logging.StreamHandler):
    """The service's own stderr handler (recognised on reconfiguration, so it is never added twice)."""


def configure_logging(level: str, log_format: str) -> None:
    """Root: the service's handler in the chosen format (unless the host already has handlers of its own,
    e.g. a test runner's); uvicorn's loggers propagate to it; uvicorn's access log is replaced by ours."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _ServiceHandler)]
    if ours or not root.handlers:
        handler = ours[0] if ours else _ServiceHandler(sys.stderr)
        handler.setFormatter(formatter_for(log_format))
        if not ours:
            root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        for h in list(logger.handlers):
            logger.removeHandler(h)
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    for h in list(access.handlers):
        access.removeHandler(h)
    access.propagate = False
    access.disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry FHIR URLs with patient ids
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # 7 "setup plugin" lines a start


def uvicorn_log_config(level: str = "INFO") -> dict[str, Any]:
    """dictConfig for uvicorn.run(log_config=...): uvicorn logs through the CDS_LOG_FORMAT formatter."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"cds": {"()": "cds_service.ops.logging_config.formatter_from_env"}},
        "handlers": {"cds": {"class": "cds_service.ops.logging_config._ServiceHandler", "formatter": "cds",
                             "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["cds"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }
