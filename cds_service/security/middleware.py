"""Pure ASGI middlewares: request body size limit and security response headers.

Neither buffers a body: the limit counts bytes as the application reads them, the headers middleware only
rewrites the `http.response.start` message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cds_service.errors import operation_outcome

logger = logging.getLogger(__name__)


async def send_operation_outcome(
    send: Send,
    status: int,
    code: str,
    diagnostics: str,
    extra_headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Send a complete JSON OperationOutcome response through raw ASGI `send`."""
    body = json.dumps(operation_outcome(diagnostics, code=code)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class _BodyTooLarge(Exception):
    """Raised from `receive` inside the application once the body exceeds the limit."""


class BodyLimitMiddleware:
    """Answer 413 (OperationOutcome `too-long`) to request bodies larger than `max_bytes`.

    A `Content-Length` over the limit is refused before any byte is read. Otherwise (chunked bodies, or a
    client sending more than it declared) bytes are counted as the application reads them; once the count
    goes over, `receive` stops reading and raises, and whatever response the application then tries to
    send is replaced by the 413. The connection is closed after a 413 (the rest of the body is unread).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.app = app
        self.max_bytes = max_bytes

    def _diagnostics(self) -> str:
        return (
            f"Request body larger than the limit of {self.max_bytes} bytes; send a smaller request "
            "(the operator sets the limit with CDS_MAX_BODY_BYTES)."
        )

    async def _reject(self, send: Send) -> None:
        await send_operation_outcome(
            send, 413, "too-long", self._diagnostics(), extra_headers=[(b"connection", b"close")]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
                if declared is not None and declared > self.max_bytes:
                    logger.warning(
                        "request refused: Content-Length %d > limit %d (%s %s)",
                        declared,
                        self.max_bytes,
                        scope.get("method"),
                        scope.get("path"),
                    )
                    await self._reject(send)
                    return
                break

        received = 0
        exceeded = False
        response_started = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started, replaced
            if exceeded:
                # The application answered (e.g. 400/500 after the failed read): answer 413 instead.
                if not response_started and not replaced:
                    replaced = True
                    await self._reject(send)
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded:
            logger.warning(
                "request refused: body over the limit of %d bytes (%s %s)",
                self.max_bytes,
                scope.get("method"),
                scope.get("path"),
            )
            if not response_started and not replaced:
                await self._reject(send)


DEFAULT_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeadersMiddleware:
    """Add `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `Cache-Control: no-store`
    (unless the application set a Cache-Control itself) and replace `Server` with `server_name`.

    uvicorn appends its own `server: uvicorn` at the protocol level, after the application: start it with
    `server_header=False` (`--no-server-header`) so only this bland value goes out.
    """

    def __init__(
        self, app: ASGIApp, *, server_name: str = "cds-service", cache_control: str = "no-store"
    ) -> None:
        self.app = app
        self.server_name = server_name.encode("latin-1")
        self.cache_control = cache_control.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                replaced = {b"server", *(name for name, _ in DEFAULT_SECURITY_HEADERS)}
                headers = [(n, v) for n, v in message.get("headers", []) if n.lower() not in replaced]
                headers.extend(DEFAULT_SECURITY_HEADERS)
                headers.append((b"server", self.server_name))
                if not any(n.lower() == b"cache-control" for n, _ in headers):
                    headers.append((b"cache-control", self.cache_control))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
