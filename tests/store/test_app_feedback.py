"""Feedback and override analytics through HTTP, on SQLite and on PostgreSQL (same suite on both).

Cards are issued by real hook calls (fixture requests), feedback is posted in the shape the CDS Hooks
Sandbox uses, and what the ledger holds is checked in the database itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from tests.conftest import Client, make_settings
from tests.store.app_helpers import (
    ADMIN_TOKEN,
    REASON_SYSTEM,
    SELECT,
    SIGN,
    STAMP,
    accept,
    body,
    by_rule,
    count,
    counts,
    find_text,
    hook_request,
    iso,
    override,
    patient_of,
)

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NON_ADHERENCE = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
# HL7 CDS Hooks 3.0 ballot, CodeSystem non-adherence-reason-codes (displays as published)
HL7_DISPLAY = {"cds-not-applicable": "PC CDS does not apply to patient",
               "action-completed": "Recommended action was already completed"}


@pytest.fixture
def make_client(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Client]]:
    """Factory of in-process clients of the app on this test's database (settings overridable)."""
    opened: list[TestClient] = []

    def factory(**overrides: object) -> Client:
        settings = make_settings(tmp_path, **{"database_url": db_url, "admin_token": ADMIN_TOKEN, **overrides})
        http = TestClient(create_app(settings))
        http.__enter__()  # runs the lifespan: migrates the empty database
        opened.append(http)
        return Client(http)

    yield factory
    for http in opened:
        http.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., Client]) -> Client:
    return make_client()


def issue(client: Client, scenario: str) -> dict[str, dict]:
    """Call order-sign with the scenario's request; its cards by rule id."""
    response = client.hook(hook_request(scenario))
    assert response.status_code == 200, response.text
    return by_rule(response.json()["cards"])


def post(client: Client, payload: dict, service: str = SIGN) -> tuple[int, dict]:
    response = client.post(f"/cds-services/{service}/feedback", json=payload)
    return response.status_code, response.json()


def assert_outcome(status_body: tuple[int, dict], status: int, *words: str) -> None:
    status_code, data = status_body
    assert status_code == status, data
    assert data["resourceType"] == "OperationOutcome"
    diagnostics = data["issue"][0]["diagnostics"]
    for word in words:
        assert word in diagnostics, diagnostics


def analytics(client: Client, **params: str) -> dict[str, dict]:
    """Rules by id, without the per-day rows (their days come from the clock; checked where issued)."""
    response = client.get("/analytics/rules", headers=AUTH, params=params)
    assert response.status_code == 200, response.text
    return {r["rule_id"]: {k: v for k, v in r.items() if k != "daily"} for r in response.json()["rules"]}


# --- POST /cds-services/{id}/feedback --------------------------------------------------------------


def test_accepted_with_suggestion_is_stored(client: Client, db_url: str) -> None:
    card = issue(client, "cirrhosis-active")["liver-disease"]
    assert post(client, body(accept(card, card["suggestions"][1]["uuid"]))) == (200, {"stored": 1, "received": 1})
    assert counts(db_url) == {"issued_card": 1, "issued_suggestion": 2, "issued_override_reason": 3,
                              "feedback": 1, "feedback_reason": 0, "feedback_accepted_suggestion": 1}


def test_sandbox_override_gets_the_display_we_issued(client: Client) -> None:
    card = issue(client, "cirrhosis-active")["liver-disease"]
    issued = {r["code"]: r["display"] for r in card["overrideReasons"]}
    assert post(client, body(override(card, "hepatology-approved"))) == (200, {"stored": 1, "received": 1})
    rule = analytics(client)["liver-disease"]
    assert rule["override_reasons"] == [{"system": REASON_SYSTEM, "code": "hepatology-approved",
                                         "display": issued["hepatology-approved"], "count": 1,
                                         "non_adherence": None}]
    assert issued["hepatology-approved"] == "Hepatology reviewed and approved naltrexone"


def test_same_feedback_twice_is_stored_once(client: Client, db_url: str) -> None:
    card = issue(client, "cirrhosis-active")["liver-disease"]
    item = override(card, "record-incorrect", comment="pt stopped drinking")
    assert post(client, body(item)) == (200, {"stored": 1, "received": 1})
    assert post(client, body(item)) == (200, {"stored": 0, "received": 1})
    assert post(client, body(item, item)) == (200, {"stored": 0, "received": 2})
    # twice in one post, never seen before: stored once
    other = accept(card)
    assert post(client, body(other, other)) == (200, {"stored": 1, "received": 2})
    assert count(db_url, "feedback") == 2
    assert count(db_url, "feedback_accepted_suggestion") == 1
    # the same outcome at another instant is another event (but the card counts once in analytics, by its
    # latest feedback: overridden at 16:40 after being accepted at 16:33)
    assert post(client, body(override(card, "record-incorrect", at="2026-11-25T16:40:00Z")))[1]["stored"] == 1
    rule = analytics(client)["liver-disease"]
    assert (rule["accepted"], rule["overridden"]) == (0, 1)
    assert rule["override_reasons"][0]["count"] == 1


def test_unknown_card_is_refused_and_nothing_stored(client: Client, db_url: str) -> None:
    card = issue(client, "cirrhosis-active")["liver-disease"]
    unknown = "0b6b3a5e-3f3c-4d55-9d5e-6f1c1c1c1c1c"
    assert_outcome(post(client, body(override(unknown, "record-incorrect"))), 400, "unknown card", unknown)
    # one bad item spoils the whole post: the good item before it is not stored either
    assert_outcome(post(client, body(accept(card), override(unknown, "record-incorrect"))), 400,
                   "feedback[1]", "unknown card")
    assert count(db_url, "feedback") == 0
    assert count(db_url, "feedback_accepted_suggestion") == 0


def test_suggestion_of_another_card_is_refused(client: Client, db_url: str) -> None:
    cards = issue(client, "opioid-stopped-3-days")
    washout, naloxone = cards["opioid-washout"], cards["overdose-risk"]
    foreign = naloxone["suggestions"][0]["uuid"]
    assert_outcome(post(client, body(accept(washout, foreign))), 400, "suggestion", foreign)
    assert_outcome(post(client, body(accept(washout, "not-a-suggestion"))), 400, "suggestion")
    assert count(db_url, "feedback") == 0
    assert post(client, body(accept(naloxone, foreign)))[0] == 200


def test_feedback_to_the_other_service_is_refused(client: Client, db_url: str) -> None:
    card = issue(client, "cirrhosis-active")["liver-disease"]
    assert_outcome(post(client, body(override(card, "record-incorrect")), service=SELECT), 400,
                   "not issued by this service")
    assert count(db_url, "feedback") == 0
    response = client.post("/cds-services/no-such-service/feedback", json=body(override(card, "x")))
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("stamp", [
    "2026-11-25T16:33:03.501",  # no time zone
    "2026-11-25T16:33:03",  # no time zone
    "2026-11-25",  # a date, not a date-time
    "2026-11-25 16:33:03Z",  # a space, no 'T'
    "25/11/2026 16:33",
    "yesterday",
    "",
    # ISO 8601, but not RFC 3339
    "20261125T163303Z",
    "2026-W48-3T16:33:03Z",
    "2026-11-25T16:33Z",
    "2026-11-25T16:33:03,5Z",
    "2026-11-25T16:33:03+0100",
    "2026-13-25T16:33:03Z",  # no 13th month
])
def test_bad_timestamp_is_refused(client: Client, db_url: str, stamp: str) -> None:
    card = issue(client, "cirrhosis-active")["liver-disease"]
    assert_outcome(post(client, body(override(card, "record-incorrect", at=stamp))), 400, "outcomeTimestamp")
    assert count(db_url, "feedback") == 0


def test_good_timestamps_are_accepted(client: Client) -> None:
    card = issue(client, "cirrhosis-active")["liver-disease"]
    stamps = ["2026-11-25T16:33:03Z", "2026-11-25T16:33:03.501+01:00", "2026-11-25t16:33:03z",
              "2026-11-25T16:33:03.123456789-05:00"]
    assert post(client, body(*(override(card, "record-incorrect", at=s) for s in stamps)))[0] == 200


def test_accepted_without_suggestions_is_refused(client: Client, db_url: str) -> None:
    card = issue(client, "cirrhosis-active")["liver-disease"]
    no_list = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-25T16:33:03Z"}
    assert_outcome(post(client, body(no_list)), 400, "acceptedSuggestions")
    assert_outcome(post(client, body({**no_list, "acceptedSuggestions": []})), 400, "acceptedSuggestions")
    assert count(db_url, "feedback") == 0


@pytest.mark.parametrize("payload", [
    {"feedback": []},
    {},
    {"feedback": "x"},
    [],
    {"feedback": [{"card": "c", "outcome": "ignored", "outcomeTimestamp": "2026-11-25T16:33:03Z"}]},
])
def test_malformed_feedback_is_refused(client: Client, db_url: str, payload: object) -> None:
    assert_outcome(post(client, payload), 400, "feedback")  # type: ignore[arg-type]
    assert count(db_url, "feedback") == 0


# --- GET /analytics/rules --------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong"},
    {"Authorization": ADMIN_TOKEN},
    {"Authorization": f"Basic {ADMIN_TOKEN}"},
    {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
])
def test_analytics_needs_the_admin_token(client: Client, headers: dict) -> None:
    response = client.get("/analytics/rules", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("unset", [None, ""])
def test_analytics_refused_when_admin_token_unset(make_client: Callable[..., Client], unset: str | None) -> None:
    client = make_client(admin_token=unset)
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}, AUTH):
        response = client.get("/analytics/rules", headers=headers)
        assert response.status_code == 401, headers
        assert "CDS_ADMIN_TOKEN" in response.json()["issue"][0]["diagnostics"]


def test_analytics_exact_numbers_and_time_window(client: Client) -> None:
    before = datetime.now(UTC)
    liver = [issue(client, "cirrhosis-active")["liver-disease"] for _ in range(4)]
    time.sleep(0.05)
    middle = datetime.now(UTC)
    time.sleep(0.05)
    stopped = issue(client, "opioid-stopped-3-days")
    after = datetime.now(UTC)

    hepatology = liver[0]["suggestions"][1]
    assert hepatology["label"] == "Request hepatology review before any naltrexone"
    feedback = body(
        override(liver[0], "hepatology-approved"),
        override(liver[1], "hepatology-approved"),
        override(liver[2], "record-incorrect"),
        accept(liver[3], liver[3]["suggestions"][1]["uuid"]),
        override(stopped["opioid-washout"], "benefit-outweighs-risk"),
        accept(stopped["overdose-risk"]),
        override(stopped["urine-screen-needed"], "action-completed", system=NON_ADHERENCE),
        # a reason we never offered on that card: counted, without a display
        override(stopped["urine-screen-needed"], "made-up", at="2026-11-25T16:50:00Z"),
    )
    assert post(client, feedback) == (200, {"stored": 8, "received": 8})

    display = {r["code"]: r["display"] for c in [liver[0], *stopped.values()] for r in c.get("overrideReasons", [])}

    def reason(code: str, n: int, system: str = REASON_SYSTEM, hl7: str | None = None) -> dict:
        mapped = None if hl7 is None else {"system": NON_ADHERENCE, "code": hl7, "display": HL7_DISPLAY[hl7]}
        return {"system": system, "code": code, "display": display.get(code), "count": n, "non_adherence": mapped}

    def hl7(code: str, n: int) -> dict:
        return {"system": NON_ADHERENCE, "code": code, "display": HL7_DISPLAY[code], "count": n}

    def suggestion(label: str, issued: int, accepted: int) -> dict:
        return {"label": label, "issued": issued, "accepted": accepted,
                "acceptance_rate": accepted / issued if issued else None}

    labels = {rule: [s["label"] for s in card.get("suggestions", [])] for rule, card in stopped.items()}
    expected = {
        "liver-disease": {
            "rule_id": "liver-disease", "issued": 4, "accepted": 1, "overridden": 3, "override_rate": 0.75,
            "override_reasons": [reason("hepatology-approved", 2),
                                 reason("record-incorrect", 1, hl7="cds-not-applicable")],
            "non_adherence_reasons": [hl7("cds-not-applicable", 1)],
            "suggestions": [suggestion(liver[0]["suggestions"][0]["label"], 4, 0),
                            suggestion(hepatology["label"], 4, 1)],
        },
        "opioid-washout": {
            "rule_id": "opioid-washout", "issued": 1, "accepted": 0, "overridden": 1, "override_rate": 1.0,
            "override_reasons": [reason("benefit-outweighs-risk", 1)],
            "non_adherence_reasons": [],
            "suggestions": [suggestion(label, 1, 0) for label in labels["opioid-washout"]],
        },
        "overdose-risk": {
            "rule_id": "overdose-risk", "issued": 1, "accepted": 1, "overridden": 0, "override_rate": 0.0,
            "override_reasons": [],
            "non_adherence_reasons": [],
            "suggestions": [suggestion(labels["overdose-risk"][0], 1, 1)],
        },
        "urine-screen-needed": {
            "rule_id": "urine-screen-needed", "issued": 1, "accepted": 0, "overridden": 1, "override_rate": 1.0,
            "override_reasons": [reason("action-completed", 1, NON_ADHERENCE, "action-completed"),
                                 reason("made-up", 1)],
            "non_adherence_reasons": [hl7("action-completed", 1)],
            "suggestions": [suggestion(labels["urine-screen-needed"][0], 1, 0)],
        },
        "liver-tests-missing": {
            "rule_id": "liver-tests-missing", "issued": 1, "accepted": 0, "overridden": 0, "override_rate": None,
            "override_reasons": [],
            "non_adherence_reasons": [],
            "suggestions": [suggestion(labels["liver-tests-missing"][0], 1, 0)],
        },
    }
    assert all(display.values()) and "made-up" not in display
    for rule in expected.values():  # 5 hook calls in all, nothing silent
        rule.update(silent=0, hook_calls=5, shown_per_100_calls=rule["issued"] * 20.0, silent_per_100_calls=0.0)
    response = client.get("/analytics/rules", headers=AUTH)
    data = response.json()
    # per day: the cards were issued now (one UTC day, or two around midnight), each day with its calls
    for rule in data["rules"]:
        daily = rule.pop("daily")
        assert sum(d["issued"] for d in daily) == rule["issued"] and all(d["silent"] == 0 for d in daily)
    assert data.pop("hook_calls") == 5 and sum(d["hook_calls"] for d in data.pop("hook_calls_per_day")) == 5
    assert data == {"rules": [expected[rule] for rule in sorted(expected)]}

    # time window on the cards' issue time: [since, until)
    assert analytics(client, since=iso(before), until=iso(after)) == expected
    assert analytics(client, until=iso(middle)) == {"liver-disease": expected["liver-disease"]}
    assert analytics(client, since=iso(middle)) == {k: v for k, v in expected.items() if k != "liver-disease"}
    assert analytics(client, since=iso(after)) == {}
    assert analytics(client, until=iso(before)) == {}
    assert analytics(client, since=iso(middle), until=iso(middle)) == {}
    # an offset other than Z means the same instant
    assert analytics(client, until=middle.astimezone().isoformat()) == {"liver-disease": expected["liver-disease"]}
    bad = client.get("/analytics/rules", headers=AUTH, params={"since": "not-a-date"})
    assert bad.status_code == 400
    assert bad.json()["resourceType"] == "OperationOutcome"


# --- privacy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["cirrhosis-active", "opioid-stopped-3-days"])
def test_ledger_holds_no_patient_id_or_name(client: Client, db_url: str, scenario: str) -> None:
    cards = issue(client, scenario)
    items = [override(c, c["overrideReasons"][0]["code"]) if c.get("overrideReasons") else accept(c)
             for c in cards.values()]
    assert post(client, body(*items))[0] == 200
    assert count(db_url, "issued_card") == len(cards)

    patient = patient_of(scenario)
    request = hook_request(scenario)
    assert request["context"]["patientId"] == patient["id"]
    secrets = {patient["id"], *(i["value"] for i in patient.get("identifier", [])), patient["birthDate"]}
    for name in patient.get("name", []):
        secrets.update(name.get("given", []))
        secrets.add(name["family"])
    # the fixture ids are long and specific enough not to occur by chance (e.g. "pt-cirrhosis-active")
    assert all(len(s) >= 4 for s in secrets), secrets
    for secret in sorted(secrets):
        assert find_text(db_url, secret) == [], f"{secret!r} stored in clear"
    # the positive control: the scan does find what is stored
    card = next(iter(cards.values()))
    assert find_text(db_url, card["uuid"][:13])
    assert ("issued_card", "summary", 1) in find_text(db_url, card["summary"][:20])


def test_batched_feedback_as_epic_sends_it(client: Client, db_url: str) -> None:
    """One POST for cards of two hook calls; `overrideReasons` (plural) with reasons without display; an Epic
    extension reason; one card accepted, then overridden later. Stored once per card event, counted once."""
    first = issue(client, "opioid-stopped-3-days")
    second = issue(client, "cirrhosis-active")  # another hook instance
    washout, urine, liver = first["opioid-washout"], first["urine-screen-needed"], second["liver-disease"]
    batch = {"feedback": [
        {"card": washout["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-25T16:33:03Z",
         "overrideReasons": [{"reason": {"system": REASON_SYSTEM, "code": "benefit-outweighs-risk"}},
                             {"reason": {"system": NON_ADHERENCE, "code": "action-completed"},
                              "userComment": "stopped last week"}]},
        {"card": liver["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-25T16:34:00Z",
         "extension": {"com.epic.cdshooks.feedback.override-reason": {
             "system": "urn:oid:1.2.840.114350.1.13.0.1.7.4.698084.30006", "code": "3",
             "display": "Patient declined"}}},
        {"card": urine["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-25T16:35:00Z",
         "acceptedSuggestions": [{"id": urine["suggestions"][0]["uuid"]}]},
        {"card": urine["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-25T16:36:00Z",
         "overrideReasons": [{"system": NON_ADHERENCE, "code": "action-completed"}]},  # a bare Coding
    ]}
    assert post(client, batch) == (200, {"stored": 4, "received": 4})
    assert post(client, batch) == (200, {"stored": 0, "received": 4})  # idempotent, batch and all
    assert count(db_url, "feedback") == 4
    assert count(db_url, "feedback_reason") == 4
    rules = analytics(client)
    w = rules["opioid-washout"]
    assert (w["accepted"], w["overridden"]) == (0, 1)
    assert [(r["code"], r["count"]) for r in w["override_reasons"]] == [("action-completed", 1),
                                                                       ("benefit-outweighs-risk", 1)]
    assert w["non_adherence_reasons"] == [{"system": NON_ADHERENCE, "code": "action-completed",
                                           "display": HL7_DISPLAY["action-completed"], "count": 1}]
    u = rules["urine-screen-needed"]
    assert (u["accepted"], u["overridden"]) == (0, 1)  # accepted, then overridden: the later one wins
    assert u["suggestions"][0]["accepted"] == 1  # both events stay stored
    lv = rules["liver-disease"]
    assert lv["overridden"] == 1
    assert [(r["system"], r["code"], r["display"]) for r in lv["override_reasons"]] == [
        ("urn:oid:1.2.840.114350.1.13.0.1.7.4.698084.30006", "3", None)]  # not a reason we offered


def test_overridden_then_accepted_counts_as_accepted(client: Client) -> None:
    card = issue(client, "cirrhosis-active")["liver-disease"]
    assert post(client, body(override(card, "record-incorrect", at="2026-11-25T16:00:00Z"),
                             accept(card, at="2026-11-25T16:05:00Z")))[0] == 200
    rule = analytics(client)["liver-disease"]
    assert (rule["accepted"], rule["overridden"]) == (1, 0)
    assert rule["override_reasons"] == [] and rule["non_adherence_reasons"] == []


@pytest.mark.parametrize("bad", [{"reason": {"system": REASON_SYSTEM, "code": ""}},
                                 {"reason": {"system": 7, "code": "x"}}])
def test_bad_override_reasons_are_refused_naming_the_field(client: Client, bad: dict) -> None:
    card = issue(client, "cirrhosis-active")["liver-disease"]
    entry = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": STAMP, "overrideReasons": [bad]}
    response = client.post(f"/cds-services/{SIGN}/feedback", json={"feedback": [entry]})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"][0].startswith("feedback[0].overrideReasons[0]")
