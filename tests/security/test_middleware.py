from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from cds_service.security.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware

LIMIT = 100


def make_app() -> tuple[FastAPI, list[Any]]:
    calls: list[Any] = []
    app = FastAPI()

    @app.post("/echo")
    async def echo(payload: dict) -> dict:
        calls.append(payload)
        return {"got": len(json.dumps(payload))}

    @app.post("/raw")
    async def raw(request: Request) -> dict:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        calls.append(size)
        return {"size": size}

    @app.get("/ok")
    async def ok() -> dict:
        return {"ok": True}

    @app.get("/cached")
    async def cached() -> JSONResponse:
        return JSONResponse({"x": 1}, headers={"Cache-Control": "max-age=60", "Server": "leaky/1.0"})

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def gen():
            for i in range(3):
                yield f"{i}\n".encode()

        return StreamingResponse(gen(), media_type="text/plain")

    app.add_middleware(BodyLimitMiddleware, max_bytes=LIMIT)
    app.add_middleware(SecurityHeadersMiddleware)
    return app, calls


async def _request(app, method: str, url: str, **kwargs) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, url, **kwargs)


def request(app, method: str, url: str, **kwargs) -> httpx.Response:
    return asyncio.run(_request(app, method, url, **kwargs))


def assert_too_long(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    (issue,) = body["issue"]
    assert issue["severity"] == "error" and issue["code"] == "too-long"
    assert str(LIMIT) in issue["diagnostics"]


def test_small_body_passes():
    app, calls = make_app()
    response = request(app, "POST", "/echo", json={"a": 1})
    assert response.status_code == 200
    assert calls == [{"a": 1}]


def test_body_exactly_at_limit_passes():
    app, calls = make_app()
    response = request(app, "POST", "/raw", content=b"x" * LIMIT)
    assert response.status_code == 200 and calls == [LIMIT]


def test_content_length_over_limit_413_and_handler_not_called():
    app, calls = make_app()
    response = request(
        app,
        "POST",
        "/echo",
        content=b'{"a": "' + b"x" * 200 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert_too_long(response)
    assert calls == []
    # the security headers wrap the 413 as well
    assert response.headers["x-content-type-options"] == "nosniff"


def test_content_length_over_limit_is_refused_without_reading_the_body():
    received: list[Any] = []
    sent: list[dict] = []

    async def inner(scope, receive, send):  # pragma: no cover - must not be reached
        raise AssertionError("application called")

    async def receive():
        received.append(1)
        return {"type": "http.request", "body": b"x" * 10_000, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/echo",
        "headers": [(b"content-length", b"10000"), (b"content-type", b"application/json")],
    }
    asyncio.run(BodyLimitMiddleware(inner, LIMIT)(scope, receive, send))
    assert received == []
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["issue"][0]["code"] == "too-long"


def _chunked_body(produced: list[int], chunks: int = 20, size: int = 40):
    async def gen():
        for i in range(chunks):
            produced.append(i)
            yield b"x" * size

    return gen()


def test_chunked_body_over_limit_413_and_handler_not_called():
    app, calls = make_app()
    produced: list[int] = []
    response = request(
        app, "POST", "/echo", content=_chunked_body(produced), headers={"content-type": "application/json"}
    )
    assert_too_long(response)
    assert calls == []
    assert len(produced) < 20, "the body must not be read to the end"


def test_chunked_body_over_limit_on_a_streaming_reader():
    app, calls = make_app()
    produced: list[int] = []
    response = request(app, "POST", "/raw", content=_chunked_body(produced))
    assert_too_long(response)
    assert calls == []
    assert len(produced) <= 4


def test_chunked_body_under_limit_passes():
    app, calls = make_app()
    produced: list[int] = []
    response = request(app, "POST", "/raw", content=_chunked_body(produced, chunks=2, size=40))
    assert response.status_code == 200 and calls == [80]


def test_body_limit_raw_asgi_stops_reading_at_the_limit():
    reads: list[int] = []
    sent: list[dict] = []

    async def inner(scope, receive, send):
        while True:  # an application that swallows the error and keeps going would still get 413
            try:
                message = await receive()
            except Exception:
                break
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive():
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 60, "more_body": True}

    async def send(message):
        sent.append(message)

    asyncio.run(BodyLimitMiddleware(inner, LIMIT)({"type": "http", "headers": []}, receive, send))
    assert len(reads) == 2  # 60, then 120 > 100: stop
    assert sent[0]["status"] == 413 and len(sent) == 2


def test_security_headers_present():
    app, _ = make_app()
    response = request(app, "GET", "/ok")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["server"] == "cds-service"
    assert response.headers.get_list("server") == ["cds-service"]


def test_app_cache_control_kept_and_server_replaced():
    app, _ = make_app()
    response = request(app, "GET", "/cached")
    assert response.headers["cache-control"] == "max-age=60"
    assert response.headers.get_list("server") == ["cds-service"]


def test_streaming_response_passes_through():
    app, _ = make_app()
    response = request(app, "GET", "/stream")
    assert response.text == "0\n1\n2\n"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_non_http_scopes_pass_through():
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope["type"])

    async def run():
        for mw in (BodyLimitMiddleware(inner, 1), SecurityHeadersMiddleware(inner)):
            await mw({"type": "lifespan"}, None, None)

    asyncio.run(run())
    assert seen == ["lifespan", "lifespan"]
