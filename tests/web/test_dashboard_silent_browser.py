"""The dashboard during a silent period, in a real headless Chromium with no network: the silent firings
of this test's own hook calls stand next to the shown cards, per rule and per day, also per 100 hook calls,
and in the per-rule CSV."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FIXTURES, TODAY, load_fixture
from tests.security.log_guard import forbid
from tests.web.conftest import LiveService


@pytest.fixture(scope="module")
def silent_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    tmp = tmp_path_factory.mktemp("web-silent")
    token = secrets.token_urlsafe(24)
    forbid(token)
    env = {"CDS_AUTH_MODE": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp / 'ledger.sqlite3'}",
           "CDS_PATIENT_HASH_KEY": "browser-silent-test", "CDS_ADMIN_TOKEN": token, "CDS_LOG_LEVEL": "INFO",
           "CDS_TODAY": TODAY, "CDS_PREVIEW_FIXTURES": str(FIXTURES), "CDS_SILENT_RULES": "opioid-washout"}
    server = LiveService(env, log_path=tmp / "uvicorn.log")
    server.admin_token = token
    with server:
        yield server


def cells(page: Any, table: str) -> list[list[str]]:
    return page.eval_on_selector_all(f"#{table} tbody tr", """rows => rows.map(r =>
        [...r.children].map(c => c.textContent.trim()))""")


def test_silent_firings_next_to_shown_cards(offline_page: Any, silent_service: LiveService, tmp_path: Path) -> None:
    page, base, token = offline_page, silent_service.url, silent_service.admin_token
    with httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(3):  # washout (silent), urine-screen-needed, overdose-risk, liver-tests-missing
            r = http.post("/cds-services/naltrexone-order-sign",
                          json=load_fixture("opioid-stopped-3-days", "order-sign.json"))
            assert r.status_code == 200
            assert "opioid-washout" not in {c["source"]["topic"]["code"] for c in r.json()["cards"]}
        r = http.post("/cds-services/naltrexone-order-sign", json=load_fixture("oxycodone-active", "order-sign.json"))
        assert r.status_code == 200  # a fourth hook call, without a washout card

    page.goto(f"{base}/dashboard")
    page.fill("#token", token)
    page.keyboard.press("Enter")
    page.wait_for_selector("#rules-data")
    header = page.eval_on_selector_all("#rules-data thead th", "ths => ths.map(t => t.textContent.trim())")
    assert header[:5] == ["Rule", "Cards issued", "Silent firings", "Shown per 100 calls", "Silent per 100 calls"]
    rows = {r[0]: r[1:5] for r in cells(page, "rules-data")}
    assert rows["opioid-washout"] == ["0", "3", "0.0", "75.0"]  # 3 silent firings in 4 hook calls
    assert rows["liver-tests-missing"][:2] == ["3", "0"]
    status = page.inner_text("#status")
    assert "and 3 silent firing(s)" in status, status
    day_header = page.eval_on_selector_all("#daily-data thead th", "ths => ths.map(t => t.textContent.trim())")
    assert day_header[:5] == ["Rule", "Day", "Issued", "Silent", "Hook calls"]
    washout_days = [r for r in cells(page, "daily-data") if r[0] == "opioid-washout"]
    # one UTC day (two if the calls straddle midnight): 0 shown, 3 silent, the day's hook calls beside them
    assert [r[2] for r in washout_days] == ["0"] * len(washout_days)
    assert sum(int(r[3]) for r in washout_days) == 3 and sum(int(r[4]) for r in washout_days) <= 4

    with page.expect_download() as info:
        page.click("button.csv[data-table=rules]")
    target = tmp_path / "rules.csv"
    info.value.save_as(str(target))
    table = list(csv.reader(io.StringIO(target.read_text())))
    assert table[0][5:] == ["silent", "hook_calls", "shown_per_100_calls", "silent_per_100_calls"]
    assert ["opioid-washout", "0", "0", "0", "", "3", "4", "0.0", "75.0"] in table
    assert page.blocked == []
