"""Browser pages served by the service: the integrator preview (`/preview`, with `CDS_PREVIEW=on`) and the
override dashboard (`/dashboard`). Every asset they use is served from `web/static/`; nothing comes from the
network."""

from __future__ import annotations

from fastapi import FastAPI

from cds_service.settings import Settings


def add_pages(app: FastAPI, settings: Settings) -> None:
    """Mount the static assets and the pages on `app` (none of them is in the OpenAPI document)."""
    from cds_service.web.dashboard import add_dashboard
    from cds_service.web.html import STATIC_PATH, static_files

    app.mount(STATIC_PATH, static_files(), name="static")
    add_dashboard(app, settings)
    if settings.preview:
        from cds_service.web.preview import add_preview

        add_preview(app, settings)
