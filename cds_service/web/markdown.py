"""Card markdown rendered to HTML that is safe by construction (markdown-it-py, no raw HTML, vetted links).

Card `detail` is CommonMark (CDS Hooks 2.0). It is rendered here with markdown-it-py's `commonmark` preset
and `html` off: raw HTML in the source (`<script>`, `<img onerror=...>`) is never passed through, it comes
out as escaped text. Links keep their `href` only when it is absolute `http`, `https` or `mailto`
(`javascript:`, `data:`, `vbscript:`, relative and protocol-relative URLs stay plain text), and images are
not rendered at all (a card must not make the browser fetch anything). There is no sanitiser pass to get
wrong afterwards: the renderer cannot produce an element or attribute it was not written to produce.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markupsafe import Markup

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})


def safe_url(url: str | None) -> str | None:
    """`url` when it is an absolute http(s) or mailto URL, else None (never a script or relative URL)."""
    if not url or any(ord(c) < 0x21 or c in "\\\x7f" for c in url):
        return None  # control characters, spaces and backslashes are how scheme filters get fooled
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES:
        return None
    if parts.scheme.lower() != "mailto" and not parts.netloc:
        return None
    return url


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")  # `![alt](url)` stays text: no fetches from a card
    md.validateLink = lambda url: safe_url(url) is not None  # type: ignore[method-assign]

    def link_open(renderer, tokens, idx, options, env):  # type: ignore[no-untyped-def]
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


_MD = _renderer()


def render_markdown(text: str) -> Markup:
    """HTML for one card's markdown detail, marked safe for the templates (it contains no raw HTML)."""
    return Markup(_MD.render(text))
