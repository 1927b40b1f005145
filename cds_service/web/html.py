"""What every browser page shares: the Jinja2 templates (autoescaped), the strict Content-Security-Policy,
and the `/static` assets.

The policy allows nothing but the service's own styles and scripts: no inline script or style, no other
origin, no plugins, no framing, forms posting only back to the service. A page therefore works with no
network at all, and an injected `<script>` or `style=` attribute would not run even if it got through.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
STATIC_PATH = "/static"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

templates = Environment(
    loader=FileSystemLoader(WEB_DIR / "templates"),
    autoescape=select_autoescape(["html"], default=True),
    undefined=StrictUndefined,  # a missing value is a bug, not an empty string
    trim_blocks=True,
    lstrip_blocks=True,
)


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A rendered template with the page security headers."""
    html = templates.get_template(template).render(static=STATIC_PATH, **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
