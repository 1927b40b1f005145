"""`python -m cds_service report` / `purge` as an operator runs them: a subprocess on a database that the
app populated over HTTP (SQLite file and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from tests.conftest import Client, make_settings
from tests.store.app_helpers import (
    HASH_KEY,
    REASON_SYSTEM,
    SIGN,
    accept,
    body,
    by_rule,
    counts,
    hook_request,
    override,
)

ROOT = Path(__file__).resolve().parents[2]


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env.update(CDS_DATABASE_URL=db_url, CDS_PATIENT_HASH_KEY=HASH_KEY, CDS_LOG_LEVEL="WARNING")
    return subprocess.run([sys.executable, "-m", "cds_service", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def ok(db_url: str, *args: str) -> str:
    done = cli(db_url, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def populated(db_url: str, tmp_path: Path) -> dict[str, dict]:
    """Through the app: 2 liver-disease cards (1 overridden, 1 accepted) and the 4 cards of
    opioid-stopped-3-days (washout overridden). Returns the cards by rule id (liver-disease: the first)."""
    settings = make_settings(tmp_path, database_url=db_url, patient_hash_key=HASH_KEY)
    with TestClient(create_app(settings)) as http:
        client = Client(http)
        issued = []
        for scenario in ("cirrhosis-active", "cirrhosis-active", "opioid-stopped-3-days"):
            response = client.hook(hook_request(scenario))
            assert response.status_code == 200
            issued.append(by_rule(response.json()["cards"]))
        liver1, liver2, stopped = issued[0]["liver-disease"], issued[1]["liver-disease"], issued[2]
        feedback = body(override(liver1, "hepatology-approved"), accept(liver2),
                        override(stopped["opioid-washout"], "benefit-outweighs-risk"))
        answer = client.post(f"/cds-services/{SIGN}/feedback", json=feedback)
        assert answer.json() == {"stored": 3, "received": 3}
    return {"liver-disease": liver1, **{k: v for k, v in stopped.items()}}


def test_report_table(db_url: str, populated: dict[str, dict]) -> None:
    out = ok(db_url, "report")
    lines = out.splitlines()
    header = ["Rule", "Issued", "Accepted", "Overridden", "Override", "rate", "Silent", "Shown/100", "calls",
              "Silent/100", "calls"]
    assert lines[0].split() == header
    rows = {line.split()[0]: line.split()[1:] for line in lines
            if line and not line.startswith((" ", "-", "Hook calls"))}
    assert rows == {  # 3 hook calls: per 100 calls, one card is 33.3
        "Rule": header[1:],
        "liver-disease": ["2", "1", "1", "50.0%", "0", "66.7", "0.0"],
        "liver-tests-missing": ["1", "0", "0", "-", "0", "33.3", "0.0"],
        "opioid-washout": ["1", "0", "1", "100.0%", "0", "33.3", "0.0"],
        "overdose-risk": ["1", "0", "0", "-", "0", "33.3", "0.0"],
        "urine-screen-needed": ["1", "0", "0", "-", "0", "33.3", "0.0"],
        "Total": ["6", "1", "2", "66.7%", "0", "200.0", "0.0"],
    }
    assert "Hook calls that reached the rules: 3" in lines
    assert "hepatology-approved (Hepatology reviewed and approved naltrexone)" in out
    assert "benefit-outweighs-risk (Benefit outweighs risk; patient will be monitored)" in out
    first = populated["liver-disease"]["suggestions"][0]["label"]
    assert any(line.split()[:3] == ["1", "/", "2"] and first in line for line in lines), out


def test_report_json_exact_numbers(db_url: str, populated: dict[str, dict]) -> None:
    data = {r["rule_id"]: r for r in json.loads(ok(db_url, "report", "--json"))}
    assert sorted(data) == ["liver-disease", "liver-tests-missing", "opioid-washout", "overdose-risk",
                            "urine-screen-needed"]
    liver = data["liver-disease"]
    assert (liver["issued"], liver["accepted"], liver["overridden"], liver["override_rate"]) == (2, 1, 1, 0.5)
    assert liver["override_reasons"] == [{"system": REASON_SYSTEM, "code": "hepatology-approved",
                                          "display": "Hepatology reviewed and approved naltrexone", "count": 1,
                                          "non_adherence": None}]
    labels = [s["label"] for s in populated["liver-disease"]["suggestions"]]
    assert liver["suggestions"] == [
        {"label": labels[0], "issued": 2, "accepted": 1, "acceptance_rate": 0.5},
        {"label": labels[1], "issued": 2, "accepted": 0, "acceptance_rate": 0.0},
    ]
    washout = data["opioid-washout"]
    assert (washout["issued"], washout["accepted"], washout["overridden"], washout["override_rate"]) == (1, 0, 1, 1.0)
    assert [(r["code"], r["count"]) for r in washout["override_reasons"]] == [("benefit-outweighs-risk", 1)]
    for rule in ("liver-tests-missing", "overdose-risk", "urine-screen-needed"):
        r = data[rule]
        assert (r["issued"], r["accepted"], r["overridden"], r["override_rate"], r["override_reasons"]) == (
            1, 0, 0, None, [])


def test_report_time_window(db_url: str, populated: dict[str, dict]) -> None:
    now = datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).isoformat()
    assert json.loads(ok(db_url, "report", "--json", "--since", tomorrow)) == []
    assert "No cards issued in this period." in ok(db_url, "report", "--since", tomorrow)
    assert json.loads(ok(db_url, "report", "--json", "--until", (now - timedelta(days=1)).isoformat())) == []
    # a date alone, and a naive date-time (taken as UTC)
    yesterday = (now - timedelta(days=1)).date().isoformat()
    assert len(json.loads(ok(db_url, "report", "--json", "--since", yesterday))) == 5
    naive = (now + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert len(json.loads(ok(db_url, "report", "--json", "--until", naive))) == 5


def test_report_bad_date_is_a_usage_error(db_url: str, populated: dict[str, dict]) -> None:
    done = cli(db_url, "report", "--since", "last tuesday")
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    assert "--since" in done.stderr


def test_purge_days_0_empties_the_ledger(db_url: str, populated: dict[str, dict]) -> None:
    before = counts(db_url)
    assert before == {"issued_card": 6, "issued_suggestion": 9, "issued_override_reason": 17, "feedback": 3,
                      "feedback_reason": 2, "feedback_accepted_suggestion": 1}
    # the default retention (400 days) keeps today's cards
    assert ok(db_url, "purge").strip() == "removed 0 rows older than 400 days"
    assert counts(db_url) == before
    assert ok(db_url, "purge", "--days", "0").strip() == f"removed {sum(before.values())} rows older than 0 days"
    assert set(counts(db_url).values()) == {0}
    assert "No cards issued in this period." in ok(db_url, "report")
    assert json.loads(ok(db_url, "report", "--json")) == []


def test_purge_refuses_negative_days(db_url: str, populated: dict[str, dict]) -> None:
    done = cli(db_url, "purge", "--days", "-1")
    assert done.returncode == 2, done
    assert counts(db_url)["issued_card"] == 6


def test_report_shows_silent_firings_next_to_shown(db_url: str, tmp_path: Path) -> None:
    """Two calls with opioid-washout silent, one with it shown: the report counts both, per day too."""
    for silent in (["opioid-washout"], ["opioid-washout"], []):
        settings = make_settings(tmp_path, database_url=db_url, patient_hash_key=HASH_KEY, silent_rules=silent)
        with TestClient(create_app(settings)) as http:
            cards = by_rule(Client(http).hook(hook_request("opioid-stopped-3-days")).json()["cards"])
            assert ("opioid-washout" in cards) is not bool(silent)
    out = ok(db_url, "report")
    washout = next(line for line in out.splitlines() if line.startswith("opioid-washout"))
    assert washout.split() == ["opioid-washout", "1", "0", "0", "-", "2", "33.3", "66.7"]
    day_rows = [line.split() for line in out.splitlines() if line.startswith("      20")]
    assert [row[1:] for row in day_rows] == [["1", "/", "2", "/", "3"]]  # one UTC day (the calls ran now)
    data = {r["rule_id"]: r for r in json.loads(ok(db_url, "report", "--json"))}
    assert (data["opioid-washout"]["issued"], data["opioid-washout"]["silent"]) == (1, 2)
    assert data["overdose-risk"]["silent"] == 0 and data["overdose-risk"]["issued"] == 3
