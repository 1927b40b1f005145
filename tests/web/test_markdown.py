"""Card markdown renders safely: no raw HTML, no script URLs, no images, whatever the input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.web.markdown import render_markdown, safe_url


def test_markdown_formatting_is_kept() -> None:
    html = render_markdown("**Evidence**\n- **oxycodone** (`MedicationRequest/x`): active\n\n[DailyMed](https://dailymed.nlm.nih.gov/x)")
    assert "<strong>Evidence</strong>" in html
    assert "<li><strong>oxycodone</strong> (<code>MedicationRequest/x</code>): active</li>" in html
    assert '<a href="https://dailymed.nlm.nih.gov/x" rel="noopener noreferrer nofollow">DailyMed</a>' in html


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>",
    "<div style='background:url(javascript:alert(1))'>x</div>",
    "<iframe src='https://evil.example'></iframe>",
])
def test_raw_html_comes_out_as_text(source: str) -> None:
    html = render_markdown(source)
    assert "<script" not in html and "<img" not in html and "<a " not in html and "<div" not in html
    assert "<iframe" not in html
    assert "&lt;" in html  # shown, escaped


@pytest.mark.parametrize("link", [
    "[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))", "[x](java\tscript:alert(1))",
    "[x](jav&#x09;ascript:alert(1))", "[x](&#106;avascript:alert(1))", "[x](data:text/html,<script>1</script>)",
    "[x](vbscript:msgbox)", "[x](/relative)", "[x](//evil.example/x)", "<javascript:alert(1)>",
    "[x](file:///etc/passwd)",
])
def test_unsafe_links_are_not_links(link: str) -> None:
    assert "<a " not in render_markdown(link)


def test_images_are_not_fetched() -> None:
    html = render_markdown("![pixel](https://tracker.example/p.png)")
    assert "<img" not in html


@pytest.mark.parametrize(("url", "ok"), [
    ("https://a.example/x", True), ("http://a.example", True), ("mailto:a@b.example", True),
    ("javascript:alert(1)", False), (" javascript:alert(1)", False), ("https:\\\\evil", False),
    ("https:/x", False), ("", False), (None, False), ("ftp://a.example", False), ("HTTPS://A.EXAMPLE", True),
])
def test_safe_url(url: str | None, ok: bool) -> None:
    assert (safe_url(url) is not None) is ok


@given(st.text(alphabet=st.sampled_from(list("<>[]()!&#;:/\"' \n\tjavascriptonerrorimg=x*`")), max_size=80))
def test_no_markup_can_be_injected(text: str) -> None:
    html = render_markdown(text)
    for tag in ("<script", "<img", "<iframe", "<div", "<span", "<svg", "<style"):
        assert tag not in html.lower()
    assert "javascript:" not in "".join(part.split('"')[0] for part in html.lower().split('href="')[1:])
