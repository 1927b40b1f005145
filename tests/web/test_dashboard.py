"""The dashboard's endpoints over HTTP: admin token, per-day numbers, service filter, CSV; the page shell."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.web.dashboard import csv_rows, to_csv
from cds_service.web.html import CONTENT_SECURITY_POLICY
from tests.conftest import load_fixture, make_settings

TOKEN = "dashboard-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STAMP = "2026-11-25T16:33:03Z"


@pytest.fixture
def http(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path, admin_token=TOKEN))) as client:
        yield client


def cards_of(http: TestClient, scenario: str, hook: str = "order-sign") -> dict[str, dict]:
    r = http.post(f"/cds-services/naltrexone-{hook}", json=load_fixture(scenario, f"{hook}.json"))
    assert r.status_code == 200
    return {c["source"]["topic"]["code"]: c for c in r.json()["cards"]}


def feedback(http: TestClient, service: str, *items: dict) -> None:
    r = http.post(f"/cds-services/{service}/feedback", json={"feedback": list(items)})
    assert r.status_code == 200 and r.json()["stored"] == len(items), r.text


def override(card: dict, code: str) -> dict:
    reason = next(r for r in card["overrideReasons"] if r["code"] == code)
    return {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": STAMP,
            "overrideReason": {"reason": {"system": reason["system"], "code": code}}}


def accept(card: dict, n: int = 0) -> dict:
    return {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": STAMP,
            "acceptedSuggestions": [{"id": card["suggestions"][n]["uuid"]}]}


def test_the_page_is_a_shell_with_its_own_script(http: TestClient) -> None:
    r = http.get("/dashboard")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert '<script src="/static/dashboard.js" defer></script>' in r.text
    assert http.get("/static/dashboard.js").status_code == 200
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', r.text)
    assert '<option value="naltrexone-order-select">' in r.text and 'id="disabled"' not in r.text
    assert "/dashboard" not in http.get("/openapi.json").json()["paths"]


def test_without_admin_token_the_page_says_analytics_are_off(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as client:
        assert 'id="disabled"' in client.get("/dashboard").text
        r = client.get("/analytics/rules/daily", headers=AUTH)
        assert r.status_code == 401 and "set CDS_ADMIN_TOKEN" in r.text


@pytest.mark.parametrize("path", ["/analytics/rules", "/analytics/rules/daily", "/analytics/rules.csv"])
@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
def test_every_endpoint_needs_the_admin_token(http: TestClient, path: str, header: str | None) -> None:
    r = http.get(path, headers={"Authorization": header} if header else {})
    assert r.status_code == 401
    assert r.json()["resourceType"] == "OperationOutcome" and TOKEN not in r.text
    assert r.headers["www-authenticate"] == "Bearer"


def test_numbers_per_day_per_service_and_as_csv(http: TestClient) -> None:
    sign = cards_of(http, "oxycodone-active")                       # opioid-concurrent, urine-screen-needed
    select = cards_of(http, "opioid-stopped-3-days", "order-select")  # washout, urine, overdose, liver-missing
    feedback(http, "naltrexone-order-sign", override(sign["opioid-concurrent"], "benefit-outweighs-risk"),
             accept(sign["urine-screen-needed"]))
    feedback(http, "naltrexone-order-select", override(select["opioid-washout"], "benefit-outweighs-risk"),
             accept(select["urine-screen-needed"]), override(select["overdose-risk"], "action-completed"))

    rules = {r["rule_id"]: r for r in http.get("/analytics/rules", headers=AUTH).json()["rules"]}
    assert (rules["urine-screen-needed"]["issued"], rules["urine-screen-needed"]["accepted"]) == (2, 2)
    only_sign = http.get("/analytics/rules", params={"service": "naltrexone-order-sign"}, headers=AUTH).json()
    assert {r["rule_id"]: (r["issued"], r["accepted"], r["overridden"]) for r in only_sign["rules"]} == {
        "opioid-concurrent": (1, 0, 1), "urine-screen-needed": (1, 1, 0)}

    days = http.get("/analytics/rules/daily", headers=AUTH).json()["days"]
    assert {d["day"] for d in days} == {days[0]["day"]} and len(days) == 5  # all issued today (UTC)
    by_rule = {d["rule_id"]: (d["issued"], d["accepted"], d["overridden"], d["override_rate"]) for d in days}
    assert by_rule == {"opioid-concurrent": (1, 0, 1, 1.0), "opioid-washout": (1, 0, 1, 1.0),
                       "overdose-risk": (1, 0, 1, 1.0), "urine-screen-needed": (2, 2, 0, 0.0),
                       "liver-tests-missing": (1, 0, 0, None)}
    none = http.get("/analytics/rules/daily", params={"until": "2000-01-01"}, headers=AUTH).json()
    assert none == {"days": []}
    r = http.get("/analytics/rules/daily", params={"since": "yesterday"}, headers=AUTH)
    assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"

    r = http.get("/analytics/rules.csv", params={"service": "naltrexone-order-select"}, headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="cds-naltrexone-rules.csv"' in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["rule_id", "issued", "accepted", "overridden", "override_rate", "silent", "hook_calls",
                       "shown_per_100_calls", "silent_per_100_calls"]
    assert ["opioid-washout", "1", "0", "1", "1.0", "0", "1", "100.0", "0.0"] in rows and len(rows) == 5
    reasons = list(csv.reader(io.StringIO(http.get("/analytics/rules.csv", params={"table": "reasons"},
                                                    headers=AUTH).text)))
    assert reasons[0] == ["rule_id", "reason_system", "reason_code", "reason_display", "cards"]
    assert sorted((r[0], r[2], r[4]) for r in reasons[1:]) == [
        ("opioid-concurrent", "benefit-outweighs-risk", "1"), ("opioid-washout", "benefit-outweighs-risk", "1"),
        ("overdose-risk", "action-completed", "1")]
    daily_csv = list(csv.reader(io.StringIO(http.get("/analytics/rules.csv", params={"table": "daily"},
                                                      headers=AUTH).text)))
    assert daily_csv[0] == ["rule_id", "day", "issued", "accepted", "overridden", "override_rate", "silent",
                            "hook_calls", "shown_per_100_calls", "silent_per_100_calls"]
    assert len(daily_csv) == 6
    sugg = list(csv.reader(io.StringIO(http.get("/analytics/rules.csv", params={"table": "suggestions"},
                                                 headers=AUTH).text)))
    assert sugg[0] == ["rule_id", "suggestion", "issued", "accepted", "acceptance_rate"]
    assert http.get("/analytics/rules.csv", params={"table": "secrets"}, headers=AUTH).status_code == 400


def test_csv_cells_never_start_a_formula() -> None:
    rules = [{"rule_id": "=cmd|' /C calc'!A0", "issued": 1, "accepted": 0, "overridden": 1, "override_rate": 1.0,
              "override_reasons": [{"system": "s", "code": "+x", "display": "@SUM(1)", "count": 1}],
              "suggestions": [{"label": "-2+3", "issued": 1, "accepted": 0, "acceptance_rate": 0.0}]}]
    text = to_csv(csv_rows("rules", rules, [])) + to_csv(csv_rows("reasons", rules, [])) + \
        to_csv(csv_rows("suggestions", rules, []))
    for row in csv.reader(io.StringIO(text)):
        assert not [c for c in row if c[:1] in ("=", "+", "-", "@")], row


def test_the_csvs_carry_the_silent_columns() -> None:
    rules = [{"rule_id": "a", "issued": 1, "accepted": 0, "overridden": 0, "override_rate": None, "silent": 4,
              "hook_calls": 8, "shown_per_100_calls": 12.5, "silent_per_100_calls": 50.0}]
    assert csv_rows("rules", rules, []) == [["rule_id", "issued", "accepted", "overridden", "override_rate",
                                             "silent", "hook_calls", "shown_per_100_calls", "silent_per_100_calls"],
                                            ["a", 1, 0, 0, None, 4, 8, 12.5, 50.0]]
    days = [{"rule_id": "a", "day": "2026-11-25", **{k: v for k, v in rules[0].items() if k != "rule_id"}}]
    assert csv_rows("daily", [], days)[1] == ["a", "2026-11-25", 1, 0, 0, None, 4, 8, 12.5, 50.0]


def test_committed_openapi_lists_the_dashboard_endpoints() -> None:
    committed = json.loads((Path(__file__).parents[2] / "openapi" / "cds-naltrexone.openapi.json").read_text())
    assert {"/analytics/rules/daily", "/analytics/rules.csv"} <= set(committed["paths"])
    assert "/dashboard" not in committed["paths"]
