"""The baseline: the least a FastAPI hook endpoint can do with the same request bytes.

One POST endpoint that reads the body, `json.loads` it and answers a fixed small JSON. Served by the same
uvicorn (same flags, one worker) as the service, so the service's p50 divided by this one's is what our code
costs on top of HTTP, ASGI and JSON parsing.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from starlette.responses import Response

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
_ANSWER = b'{"cards":[]}'


@app.post("/cds-services/{service_id}")
async def call_service(service_id: str, request: Request) -> Response:
    json.loads(await request.body())
    return Response(_ANSWER, media_type="application/json")


@app.get("/healthz")
async def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")
