"""Request telemetry (pure ASGI, outermost): request id, access log line, HTTP and hook-latency metrics.

- `X-Request-ID`: the client's, when it is a sane token (1-128 characters of `A-Za-z0-9._:-`), else a new
  UUID; it is in every log record of the request (`logging_config.REQUEST_ID`) and on every response.
- One access line per request (`cds_service.access`), written after the response is sent: method, route
  template, status, duration, and for a hook call the service, hook, hookInstance and the rule ids fired.
- `cds_http_responses_total{route,status}` and, for hook calls to a registered service,
  `cds_hook_duration_seconds{service,hook}` and `cds_cards_total`.

The duration is taken when the last body byte is handed to the server, so work that runs after the
response (the access line itself, freeing the parsed request) is not counted against the EHR's wait.
A hook endpoint reports what it answered by setting `request.state.cds_call` (see `note_hook_call`).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cds_service.ops import metrics
from cds_service.ops.logging_config import FIELDS, REQUEST_ID

access_log = logging.getLogger("cds_service.access")
REQUEST_ID_HEADER = b"x-request-id"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)
HOOK_ROUTE = "/cds-services/{service_id}"
HOOK_INSTANCE_MAX = 64
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def request_id_of(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def note_hook_call(request: Request, service: str, hook: str, hook_instance: str | None,
                   cards: list[tuple[str, str]]) -> None:
    """What a hook call answered, (rule id, indicator) per card, for its access line and metrics (read after
    the response is sent). Rule ids, not the topic codes a client profile shows (Epic's `opioidwashout`):
    one label value per rule whatever EHR called."""
    request.state.cds_call = (service, hook, hook_instance, cards)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "(unmatched)"


class RequestTelemetryMiddleware:
    def __init__(self, app: ASGIApp, services: Mapping[str, str]) -> None:
        self.app = app
        self.services = dict(services)  # service id -> hook: only these ever become label values

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", ()) if k == REQUEST_ID_HEADER), b"")
        try:
            candidate = given.decode("ascii")
        except UnicodeDecodeError:
            candidate = ""
        request_id = candidate if SANE_REQUEST_ID.fullmatch(candidate) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        reset = REQUEST_ID.set(request_id)
        start = time.perf_counter()
        status = 500
        sent_at: float | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent_at
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                sent_at = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, state, status, (sent_at or time.perf_counter()) - start)
            REQUEST_ID.reset(reset)

    def _record(self, scope: Scope, state: dict[str, Any], status: int, seconds: float) -> None:
        route = _route_template(scope)
        metrics.RESPONSES.labels(route, str(status)).inc()
        fields: dict[str, Any] = {"method": scope.get("method"), "route": route, "status": status,
                                  "duration_ms": round(seconds * 1000, 3)}
        call = state.get("cds_call")
        service_id = (scope.get("path_params") or {}).get("service_id")
        if route == HOOK_ROUTE and service_id in self.services:
            hook = self.services[service_id]
            metrics.HOOK_DURATION.labels(service_id, hook).observe(seconds)
            fields.update(service=service_id, hook=hook)
        if call is not None:
            service, hook, hook_instance, cards = call
            metrics.observe_cards(service, cards)
            fields.update(service=service, hook=hook, hook_instance=(hook_instance or "")[:HOOK_INSTANCE_MAX],
                          rule_ids=[rule for rule, _ in cards], indicators=[indicator for _, indicator in cards])
        # probes and scrapes come every few seconds: DEBUG, unless they fail
        level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
        access_log.log(level, "%s %s %d %.1f ms", fields["method"], route, status, seconds * 1000,
                       extra={FIELDS: fields})
