"""`/docs`: Swagger UI served from the assets bundled in the `fastapi-offline` package, never from a CDN.

FastAPI's own `/docs` page loads Swagger UI from jsDelivr: in an air-gapped hospital network it is blank.
fastapi-offline ships Swagger UI 5 (which renders OpenAPI 3.1, the version FastAPI writes); only its static
files are used here, under `/docs/static`.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
STATIC_URL = "/docs/static"


def install_docs(app: FastAPI, docs_url: str = "/docs") -> None:
    """Serve Swagger UI at `docs_url` with its JavaScript and CSS from this process (create the app with
    `docs_url=None`, or FastAPI's CDN page would answer first)."""
    app.mount(STATIC_URL, StaticFiles(directory=ASSETS), name="docs-static")

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            swagger_ui_parameters={"defaultModelsExpandDepth": 0},
        )
