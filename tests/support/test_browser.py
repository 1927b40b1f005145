"""The shared browser fixture is Debian's Chromium, headless, and `offline_page` really cuts the network."""

from __future__ import annotations

from tests.support.browser import CHROMIUM, is_loopback


def test_browser_is_debians_chromium(browser) -> None:
    assert str(CHROMIUM) == "/usr/bin/chromium"
    assert browser.version.split(".")[0].isdigit()
    assert browser.browser_type.name == "chromium"


def test_offline_page_blocks_everything_but_loopback(offline_page) -> None:
    offline_page.set_content('<img src="https://cdn.example.org/pixel.png"><p id="p">ok</p>')
    offline_page.wait_for_load_state("load")
    assert offline_page.text_content("#p") == "ok"
    assert offline_page.blocked == ["https://cdn.example.org/pixel.png"]


def test_is_loopback() -> None:
    assert is_loopback("http://127.0.0.1:8080/docs") and is_loopback("http://localhost/x")
    assert is_loopback("data:text/plain,hi")
    assert not is_loopback("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js")
    assert not is_loopback("http://127.0.0.1.example.org/")
