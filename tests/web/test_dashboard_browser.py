"""The dashboard in a real headless Chromium with no network: it shows the counts that this test's own hook
calls and feedback produced, filters them, offers CSV, keeps the token out of URLs, passes axe-core."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import load_fixture
from tests.web.a11y import axe_violations, serious
from tests.web.conftest import LiveService
from tests.web.test_preview_browser import keep_screenshot

STAMP = "2026-11-25T16:33:03Z"


def produce_feedback(base: str) -> dict[str, tuple[int, int, int]]:
    """Hook calls and feedback over HTTP; answers the expected (issued, accepted, overridden) per rule."""
    with httpx.Client(base_url=base, timeout=30) as http:
        def cards(scenario: str, hook: str) -> dict[str, dict]:
            r = http.post(f"/cds-services/naltrexone-{hook}", json=load_fixture(scenario, f"{hook}.json"))
            assert r.status_code == 200, r.text
            return {c["source"]["topic"]["code"]: c for c in r.json()["cards"]}

        def post(service: str, items: list[dict]) -> None:
            r = http.post(f"/cds-services/{service}/feedback", json={"feedback": items})
            assert r.status_code == 200 and r.json()["stored"] == len(items), r.text

        def override(card: dict, code: str) -> dict:
            system = next(r["system"] for r in card["overrideReasons"] if r["code"] == code)
            return {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": STAMP,
                    "overrideReason": {"reason": {"system": system, "code": code}}}

        def accept(card: dict) -> dict:
            return {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": STAMP,
                    "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}

        a, b, c = (cards("oxycodone-active", "order-sign") for _ in range(3))
        post("naltrexone-order-sign", [override(a["opioid-concurrent"], "benefit-outweighs-risk"),
                                       override(b["opioid-concurrent"], "specialist-supervised"),
                                       accept(c["opioid-concurrent"]),
                                       accept(a["urine-screen-needed"]),
                                       override(b["urine-screen-needed"], "action-completed")])
        s = cards("opioid-stopped-3-days", "order-select")
        post("naltrexone-order-select", [override(s["opioid-washout"], "benefit-outweighs-risk")])
    return {"opioid-concurrent": (3, 1, 2), "urine-screen-needed": (4, 1, 1), "opioid-washout": (1, 0, 1),
            "overdose-risk": (1, 0, 0), "liver-tests-missing": (1, 0, 0)}


def table_counts(page: Any) -> dict[str, tuple[int, int, int]]:
    rows = page.eval_on_selector_all("#rules-data tbody tr", """rows => rows.map(r =>
        [...r.children].map(c => c.textContent.trim()))""")
    return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows if len(r) >= 4}


def status_is(page: Any, text: str) -> None:
    page.wait_for_function("t => document.getElementById('status').textContent.includes(t)", arg=text)


def test_dashboard_shows_the_counts_the_feedback_produced(offline_page: Any, live_service: LiveService,
                                                          screenshots: Path, tmp_path: Path) -> None:
    page, base, token = offline_page, live_service.url, live_service.admin_token
    expected = produce_feedback(base)
    page.set_viewport_size({"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/dashboard")
    assert page.is_visible("#login") and not page.is_visible("#content")

    # a wrong token is refused, and forgotten
    page.fill("#token", "not-the-token")
    page.click("#sign-in")
    page.wait_for_selector("#status.alert")
    assert "refused" in page.inner_text("#status")
    assert page.evaluate("sessionStorage.length") == 0 and page.is_visible("#login")

    page.fill("#token", token)
    page.keyboard.press("Enter")
    page.wait_for_selector("#rules-data")
    assert table_counts(page) == expected
    assert "Silent firings" not in page.inner_text("#rules-data thead")  # no silent data in this ledger
    rates = page.eval_on_selector_all("#rules-data tbody tr", "rows => rows.map(r => r.lastChild.textContent)")
    assert "66.7%" in rates  # opioid-concurrent: 2 of 3 answered cards overridden
    assert token not in page.url and page.input_value("#token") == ""
    assert page.evaluate("Object.values(sessionStorage)") == [token]

    # the charts: one bar per rule with its numbers, one line per rule with feedback, patterns in both
    assert page.locator("#outcomes-chart svg[role=img]").count() == 1
    labels = page.locator("#outcomes-chart svg text").all_text_contents()
    assert "3 issued · 1 accepted · 2 overridden · 66.7%" in labels
    assert page.locator("#outcomes-chart pattern").count() == 2
    series = page.eval_on_selector_all("#trend-chart g[data-rule]", "gs => gs.map(g => g.dataset.rule)")
    assert sorted(series) == ["opioid-concurrent", "opioid-washout", "urine-screen-needed"]
    assert len(page.locator("#trend-legend li").all_inner_texts()) == 3
    reasons = page.eval_on_selector_all("#reasons-data tbody tr", """rows => rows.map(r =>
        [...r.children].map(c => c.textContent.trim()))""")
    assert ["opioid-concurrent", "Benefit outweighs risk; patient will be monitored", "benefit-outweighs-risk",
            "1"] in reasons
    assert "Remove the naltrexone hydrochloride 50 MG Oral Tablet order" in page.inner_text("#suggestions-data")

    shot = screenshots / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    keep_screenshot(shot, "dashboard.png")
    assert serious(axe_violations(page)) == []

    # CSV of the same numbers, fetched with the Bearer header by the page's own script
    with page.expect_download() as info:
        page.click("button.csv[data-table=rules]")
    download = info.value
    assert download.suggested_filename == "cds-naltrexone-rules.csv"
    target = tmp_path / download.suggested_filename
    download.save_as(str(target))
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows[1:]} == expected

    # filters: one service, then a period with nothing in it
    page.select_option("#service", "naltrexone-order-select")
    page.click("#apply")
    status_is(page, "of naltrexone-order-select")
    assert table_counts(page) == {"opioid-washout": (1, 0, 1), "urine-screen-needed": (1, 0, 0),
                                  "overdose-risk": (1, 0, 0), "liver-tests-missing": (1, 0, 0)}
    page.select_option("#service", "")
    page.fill("#since", "2000-01-01")
    page.fill("#until", "2000-01-31")
    page.click("#apply")
    status_is(page, "0 card(s)")
    assert "No data in this period." in page.inner_text("#rules-data")

    # the token survives a reload of this tab (sessionStorage), and signing out forgets it
    page.reload()
    page.wait_for_selector("#rules-data")
    page.click("#sign-out")
    assert page.evaluate("sessionStorage.length") == 0 and page.is_visible("#login")
    assert page.blocked == []
    assert [e for e in errors if "401" not in e] == []  # the refused token is the only failed request


def test_dashboard_keyboard_only(offline_page: Any, live_service: LiveService) -> None:
    page, base = offline_page, live_service.url

    def focused() -> str:
        return page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")

    page.goto(f"{base}/dashboard")
    order: list[str] = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(focused())
    assert order == ["Skip to content", "Card preview", "Override dashboard", "Discovery (JSON)", "token",
                     "sign-in"], order
    page.focus("#token")
    page.keyboard.type(live_service.admin_token)
    page.keyboard.press("Enter")
    page.wait_for_selector("#rules-data")
    assert focused() == "since"  # focus moves on to the filters
    stops = []
    for _ in range(20):
        page.keyboard.press("Tab")
        stops.append(focused())
    for control in ("until", "service", "apply", "sign-out", "Download per-rule CSV"):
        assert control in stops, stops
    assert serious(axe_violations(page)) == []
