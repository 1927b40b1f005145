"""The preview in a real headless Chromium with no network: the opioid fixture's critical card with its
suggestions and override reasons, hostile EHR text rendered inert, keyboard use, axe-core, screenshots."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, load_fixture
from tests.web.a11y import axe_violations, serious
from tests.web.conftest import LiveService

HOSTILE = ('oxycodone <script>window.__pwned = 1; alert("script")</script> [click me](javascript:alert("link")) '
           '<img src=x onerror="window.__pwned = 2"> <a href="javascript:alert(3)">raw link</a>')
VIEWPORT = {"width": 1280, "height": 900}


def keep_screenshot(path: Path, docs_name: str) -> None:
    """With CDS_UPDATE_DOCS_SCREENSHOTS=1, the screenshot also replaces the committed one in docs/."""
    if os.environ.get("CDS_UPDATE_DOCS_SCREENSHOTS") == "1":
        shutil.copyfile(path, ROOT / "docs" / docs_name)


def focused(page: Any) -> str:
    """The focused element: its id, else its tag and value or text."""
    return page.evaluate("""() => { const e = document.activeElement;
        return e.id || (e.tagName.toLowerCase() + ':' + (e.getAttribute('value') || e.textContent.trim()
          .slice(0, 40))); }""")


def tab_until(page: Any, locator: Any, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if locator.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {locator}")


def test_opioid_fixture_critical_card_with_suggestions_and_override_reasons(
        offline_page: Any, live_service: LiveService, screenshots: Path) -> None:
    page, base = offline_page, live_service.url
    page.set_viewport_size(VIEWPORT)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/preview")
    assert page.title() == "Card preview · cds-naltrexone"
    page.select_option("#scenario", "oxycodone-active")
    page.check("input[name=hook][value=order-sign]")
    page.click("#show-fixture")
    page.wait_for_selector("#results")
    assert page.url.endswith("/preview#results")

    card = page.locator("article.card[data-rule=opioid-concurrent]").first
    assert card.get_attribute("data-indicator") == "critical"
    assert card.locator(".badge").inner_text().strip().upper().endswith("CRITICAL")
    # the indicator colour is the EHRs' red, on the badge and the card's edge (plus a word and a shape)
    colours = card.evaluate("el => [getComputedStyle(el).borderLeftColor, "
                            "getComputedStyle(el.querySelector('.badge')).color]")
    assert colours == ["rgb(164, 22, 26)", "rgb(164, 22, 26)"]
    assert "Do not start naltrexone" in card.locator(".summary").inner_text()
    assert card.locator(".detail strong", has_text="Evidence").count() == 1
    assert card.locator(".detail code", has_text="MedicationRequest/oxyact-oxy").count() == 1
    assert card.locator(".source a").get_attribute("href").startswith("https://dailymed.nlm.nih.gov/")

    suggestions = card.locator("details.suggestion > summary")
    assert suggestions.count() == 2
    first = suggestions.nth(0)
    assert "Remove the naltrexone hydrochloride 50 MG Oral Tablet order" in first.inner_text()
    assert "Recommended" in first.inner_text()
    first.click()  # a suggestion button opens to show what accepting it would do
    actions = card.locator("details.suggestion").nth(0).locator("ul.actions")
    assert actions.is_visible()
    assert "Remove the draft order MedicationRequest/oxyact-nal-draft" in actions.inner_text()

    reasons = card.locator("fieldset.override label")
    texts = [t.strip() for t in reasons.all_inner_texts()]
    assert "Benefit outweighs risk; patient will be monitored" in texts and len(texts) == 4
    reasons.nth(0).click()
    assert card.locator("fieldset.override input").nth(0).is_checked()

    page.click("details.raw > summary >> text=Raw response (generic)")
    raw = json.loads(page.locator("details.raw[open] pre").first.inner_text())
    assert [c["source"]["topic"]["code"] for c in raw["cards"]] == ["opioid-concurrent", "urine-screen-needed"]

    page.screenshot(path=str(screenshots / "preview-full.png"), full_page=True)
    page.evaluate("document.getElementById('results').scrollIntoView()")
    shot = screenshots / "preview.png"
    page.screenshot(path=str(shot))
    keep_screenshot(shot, "preview.png")
    assert shot.stat().st_size > 10_000

    assert serious(axe_violations(page)) == []
    assert page.blocked == []  # nothing was asked of any other origin
    assert errors == []


def test_hostile_text_in_a_card_detail_is_inert(offline_page: Any, live_service: LiveService) -> None:
    """EHR data lands in card markdown (here the opioid's name): a script, raw HTML and a `javascript:` link
    in it are shown as text; nothing runs, nothing becomes a link or an image, no dialog opens."""
    request = load_fixture("oxycodone-active", "order-sign.json")
    for entry in request["prefetch"]["medicationRequests"]["entry"]:
        if entry["resource"]["resourceType"] == "Medication":
            entry["resource"]["code"]["coding"][0]["display"] = HOSTILE
            entry["resource"]["code"]["text"] = HOSTILE
    page, base = offline_page, live_service.url
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{base}/preview")
    page.fill("#request", json.dumps(request))
    page.fill("#request-as-of", "2026-11-25")
    page.click("#show-request")
    page.wait_for_selector("#results")
    card = page.locator("article.card[data-rule=opioid-concurrent]").first
    assert card.get_attribute("data-indicator") == "critical"
    shown = card.locator(".detail").inner_text()
    # the hostile text is there, literally
    assert '<script>window.__pwned = 1; alert("script")</script>' in shown
    assert '[click me](javascript:alert("link"))' in shown
    assert '<a href="javascript:alert(3)">raw link</a>' in shown
    # and inert: no element was made of it, no script ran, no link goes anywhere unsafe
    assert page.locator(".detail script, .detail img, .detail iframe, .detail a").count() == 0
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert hrefs and not [h for h in hrefs if h.strip().lower().startswith(("javascript:", "data:"))]
    assert page.evaluate("typeof window.__pwned") == "undefined"
    page.get_by_text("click me", exact=False).first.click()
    assert dialogs == []
    assert page.blocked == []  # the <img src=x> was never fetched


def test_keyboard_reaches_and_operates_the_controls(offline_page: Any, live_service: LiveService) -> None:
    page, base = offline_page, live_service.url
    page.goto(f"{base}/preview")
    order: list[str] = []
    for _ in range(12):
        page.keyboard.press("Tab")
        now = focused(page)
        if not order or order[-1] != now:  # a date input takes one Tab per part (month, day, year)
            order.append(now)
    assert order[:8] == ["a:Skip to content", "a:Card preview", "a:Override dashboard", "a:Discovery (JSON)",
                         "scenario", "input:order-sign", "fixture-as-of", "show-fixture"], order
    # choose a scenario and submit with the keyboard only
    page.focus("#scenario")
    page.keyboard.press("End")  # the last scenario of the list
    last = page.eval_on_selector("#scenario", "s => s.options[s.options.length - 1].value")
    assert page.input_value("#scenario") == last
    page.select_option("#scenario", "opioid-stopped-3-days")
    tab_until(page, page.locator("#show-fixture"), 8)
    page.keyboard.press("Enter")
    page.wait_for_selector("#results")
    # Tab on into the first card's suggestion, open it with Enter, pick an override reason with Space
    first_card = page.locator("article.card").first
    tab_until(page, first_card.locator("details.suggestion > summary").first)
    page.keyboard.press("Enter")
    assert first_card.locator("details.suggestion").first.get_attribute("open") is not None
    radio = first_card.locator("fieldset.override input").first
    tab_until(page, radio)
    page.keyboard.press("Space")
    assert radio.is_checked()
    assert serious(axe_violations(page)) == []


def test_the_form_page_passes_axe_offline(offline_page: Any, live_service: LiveService) -> None:
    page, base = offline_page, live_service.url
    page.goto(f"{base}/preview")
    assert serious(axe_violations(page)) == []
    assert page.blocked == []
