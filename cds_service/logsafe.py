"""Every value interpolated into a log line is escaped: a request cannot forge log lines.

Resource ids, `hookInstance`, a URL path, a claim: anything a client or a FHIR server sends may carry a
newline, a carriage return, an ANSI escape or a Unicode line separator. Logged raw, `"x\\n2026-12-01 ...
INFO forged"` becomes a line of its own that an operator (or a log shipper) takes for the service's.

`install()` puts one record factory in front of every logger of the process (ours, uvicorn's access log,
libraries'): each string argument, and a message that arrives pre-formatted, has its control characters
replaced by visible escapes (`\\n`, `\\x1b`, `\\u2028`) before any handler formats it. Tracebacks are not
touched (they are the service's own text). `escape()` is the same conversion for code that builds a
message itself. `without_query()` drops the query string of a logged request target.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators that some viewers break lines on
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_installed = False


def _visible(match: re.Match[str]) -> str:
    ch = match.group()
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def escape(value: Any) -> Any:
    """A string with its control characters made visible; other values unchanged."""
    if isinstance(value, str) and _CONTROL.search(value):
        return _CONTROL.sub(_visible, value)
    return value


def without_query(target: str) -> str:
    """`/analytics/rules?since=...` -> `/analytics/rules`: query strings never reach the access log."""
    return target.split("?", 1)[0]


def _escaped_args(args: Any) -> Any:
    if isinstance(args, tuple):
        return tuple(escape(a) for a in args)
    if isinstance(args, dict):
        return {k: escape(v) for k, v in args.items()}
    return escape(args)


class _AccessLogFilter(logging.Filter):
    """uvicorn's access log: `'%s - "%s %s HTTP/%s" %d'` with the request target third; its query is dropped
    (a token or a patient id put in a query string must not land in the log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], without_query(args[2]), *args[3:])
        return True


def install() -> None:
    """Escape every log record's arguments from now on (idempotent), and strip queries from the access log."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.args:
            record.args = _escaped_args(record.args)
        elif isinstance(record.msg, str):
            record.msg = escape(record.msg)
        return record

    logging.setLogRecordFactory(factory)
    logging.getLogger("uvicorn.access").addFilter(_AccessLogFilter())
