"""Through HTTP, under every client profile: the ledger holds exactly what the client received (card uuid, rule
id, indicator, summary, suggestion uuids and labels, override reasons), and feedback naming any of it
resolves. The rows are written from the findings, so these tests fail if the two ever disagree."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from cds_service.app import create_app
from cds_service.profiles import get_profile, profile_names
from cds_service.store.models import CardRow, OverrideReasonRow, SuggestionRow
from tests.conftest import FIXTURES, Client, load_fixture, make_settings

ADMIN = "ledger-admin-token"
# cards whose suggestions some profile drops (Epic: a MedicationRequest update, a suggestion without an action;
# Sandbox: a create carrying a medicationCodeableConcept) or keeps, and cards without any
ORDER_SIGN = ("opioid-stopped-3-days", "oxycodone-active", "buprenorphine-ended-9-days", "loperamide-otc", "age-17")
PATIENT_VIEW = ("pv-xr-lapsed", "pv-alt-6x-on-naltrexone", "pv-oud-no-naloxone")


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Client, str]]]:
    """One app per profile, each with its own SQLite ledger: (client, database url)."""
    out: dict[str, tuple[Client, str]] = {}
    managers = []
    for name in profile_names():
        path: Path = tmp_path_factory.mktemp(f"ledger-{name}")
        settings = make_settings(path, client_profile=name, admin_token=ADMIN)
        manager = TestClient(create_app(settings))
        out[name] = (Client(manager.__enter__(), name), settings.database_url)
        managers.append(manager)
    yield out
    for manager in managers:
        manager.__exit__(None, None, None)


def _request(scenario: str) -> tuple[dict, str]:
    if scenario.startswith("pv-"):
        request = json.loads((FIXTURES / "patient-view" / scenario / "patient-view.json").read_text())
    else:
        request = copy.deepcopy(load_fixture(scenario, "order-sign.json"))
    request["hookInstance"] = str(uuid.uuid4())
    return request, f"naltrexone-{request['hook']}"


def _rows(url: str, hook_instance: str) -> dict[str, dict]:
    """The ledger of one hook call, per card uuid, read from the database itself."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            cards = conn.execute(select(CardRow).where(CardRow.hook_instance == hook_instance)).all()
            out: dict[str, dict] = {}
            for c in cards:
                suggestions = conn.execute(select(SuggestionRow.position, SuggestionRow.suggestion_uuid,
                                                  SuggestionRow.label)
                                           .where(SuggestionRow.card_uuid == c.card_uuid)
                                           .order_by(SuggestionRow.position)).all()
                reasons = conn.execute(select(OverrideReasonRow.system, OverrideReasonRow.code,
                                              OverrideReasonRow.display)
                                       .where(OverrideReasonRow.card_uuid == c.card_uuid)).all()
                out[c.card_uuid] = {"rule_id": c.rule_id, "indicator": c.indicator, "summary": c.summary,
                                    "silent": c.silent, "suggestions": [tuple(s)[1:] for s in suggestions],
                                    "reasons": sorted(tuple(r) for r in reasons)}
            return out
    finally:
        engine.dispose()


def _call(services: dict[str, tuple[Client, str]], profile: str, scenario: str) -> tuple[list[dict], dict]:
    client, url = services[profile]
    request, service = _request(scenario)
    response = client.post(f"/cds-services/{service}", json=request)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards, f"{scenario}: the scenario has cards"
    return cards, _rows(url, request["hookInstance"])


@pytest.mark.parametrize("scenario", ORDER_SIGN + PATIENT_VIEW)
@pytest.mark.parametrize("profile", profile_names())
def test_the_ledger_is_what_the_client_received(services: dict[str, tuple[Client, str]], profile: str,
                                                scenario: str) -> None:
    cards, rows = _call(services, profile, scenario)
    topic_code = get_profile(profile).topic_code
    assert set(rows) == {c["uuid"] for c in cards}
    for card in cards:
        row = rows[card["uuid"]]
        # keyed on the rule id, whatever topic code the client was shown
        assert topic_code(row["rule_id"]) == card["source"]["topic"]["code"]
        assert (row["indicator"], row["summary"], row["silent"]) == (card["indicator"], card["summary"], False)
        assert row["suggestions"] == [(s["uuid"], s["label"]) for s in card.get("suggestions", [])], row["rule_id"]
        assert row["reasons"] == sorted((r["system"], r["code"], r["display"]) for r in card.get("overrideReasons", []))


def test_the_profiles_differ_where_the_ledger_must_follow(services: dict[str, tuple[Client, str]]) -> None:
    """The scenarios above exercise the reshaping: Epic drops the washout card's postpone (a MedicationRequest
    update) and Sandbox its naloxone create, so a ledger of the generic card would disagree."""
    labels = {}
    for profile in ("generic", "epic", "sandbox"):
        _cards, rows = _call(services, profile, "opioid-stopped-3-days")
        labels[profile] = sorted(label for row in rows.values() for _uuid, label in row["suggestions"])
    assert len(labels["epic"]) < len(labels["generic"]) and len(labels["sandbox"]) < len(labels["generic"])
    assert "Prescribe naloxone 4 mg nasal spray" in labels["generic"]
    assert "Prescribe naloxone 4 mg nasal spray" not in labels["sandbox"]


@pytest.mark.parametrize("scenario", ("opioid-stopped-3-days", "pv-xr-lapsed"))
@pytest.mark.parametrize("profile", profile_names())
def test_feedback_on_everything_sent_resolves(services: dict[str, tuple[Client, str]], profile: str,
                                              scenario: str) -> None:
    """Every suggestion the client received can be accepted and every reason it offered can be given: none is
    refused as 'not one of card' or 'unknown card', and the analytics count them under the rule id."""
    cards, rows = _call(services, profile, scenario)
    client, _url = services[profile]
    service = f"naltrexone-{_request(scenario)[0]['hook']}"
    items = []
    for card in cards:
        if card.get("suggestions"):
            items.append({"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-25T16:33:03Z",
                          "acceptedSuggestions": [{"id": s["uuid"]} for s in card["suggestions"]]})
        elif card.get("overrideReasons"):
            reason = card["overrideReasons"][0]
            items.append({"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-25T16:33:04Z",
                          "overrideReason": {"reason": {"system": reason["system"], "code": reason["code"]}}})
    assert items
    response = client.post(f"/cds-services/{service}/feedback", json={"feedback": items})
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": len(items), "received": len(items)}
    stats = {r["rule_id"]: r for r in client.get("/analytics/rules", headers={"Authorization": f"Bearer {ADMIN}"},
                                                 params={"service": service}).json()["rules"]}
    assert set(stats) >= {rows[c["uuid"]]["rule_id"] for c in cards}
