"""Client profiles: every fixture scenario under every profile gives the same rule ids and indicators, each
response passes that profile's validator, and nothing the rules recommend disappears on the way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.docs import pack_rules
from cds_service.profiles import PROFILES, apply_profile, get_profile, profile_names
from cds_service.profiles.base import GUIDANCE_HEADING, alphanumeric_code
from cds_service.rules.base import rule_info
from cds_service.rules.registry import default_packs
from tests.cds_validator import PROFILE_CHECKS, assert_valid_cards_response
from tests.conftest import Client, load_fixture, make_settings, scenario_ids

HOOKS = ("order-sign", "order-select")


def test_registry_names_are_the_public_contract() -> None:
    assert profile_names() == ["generic", "sandbox", "epic", "oracle"]
    assert set(PROFILE_CHECKS) == set(PROFILES)
    for profile in PROFILES.values():
        assert "http" in profile.document or "commit" in profile.document, profile.name
    with pytest.raises(ValueError, match="known: generic, sandbox, epic, oracle"):
        get_profile("cerner")


def test_epic_topic_codes_are_alphanumeric_stable_and_unique() -> None:
    rule_ids = _all_rule_ids()
    codes = [alphanumeric_code(r) for r in rule_ids]
    assert all(re.fullmatch(r"[A-Za-z0-9]{1,100}", c) for c in codes), codes
    assert len(set(codes)) == len(rule_ids), "two rule ids map to one Epic topic code"
    assert alphanumeric_code("opioid-concurrent") == "opioidconcurrent"


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory):
    """One app per profile (CDS_CLIENT_PROFILE with auth off), sharing nothing."""
    out: dict[str, Client] = {}
    managers = []
    for name in profile_names():
        path: Path = tmp_path_factory.mktemp(name)
        manager = TestClient(create_app(make_settings(path, client_profile=name)))
        out[name] = Client(manager.__enter__(), name)
        managers.append(manager)
    yield out
    for manager in managers:
        manager.__exit__(None, None, None)


def _rules(body: dict, profile: str) -> list[tuple[str, str]]:
    code = {alphanumeric_code(r): r for r in _all_rule_ids()} if profile == "epic" else None
    return sorted(((code[c["source"]["topic"]["code"]] if code else c["source"]["topic"]["code"]), c["indicator"])
                  for c in body["cards"])


def _all_rule_ids() -> list[str]:
    return sorted({rule_info(fn).id for pack in default_packs() for fn, _dirs in pack_rules(pack)})


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("scenario", scenario_ids())
def test_every_scenario_same_cards_under_every_profile(clients: dict[str, Client], scenario: str,
                                                       hook: str) -> None:
    request = load_fixture(scenario, f"{hook}.json")
    bodies = {}
    for name, client in clients.items():
        response = client.hook(request)  # the client checks the profile's limits on every response
        assert response.status_code == 200, response.text
        bodies[name] = response.json()
    generic = bodies["generic"]
    for name, body in bodies.items():
        assert _rules(body, name) == _rules(generic, "generic"), name
        for card, twin in zip(body["cards"], generic["cards"], strict=True):
            assert card["summary"] == twin["summary"] and card["indicator"] == twin["indicator"]
            assert card.get("overrideReasons") == twin.get("overrideReasons")
            assert card["detail"].startswith(twin["detail"][:400])
            _nothing_lost(twin, card, name)


def _nothing_lost(generic_card: dict, card: dict, profile: str) -> None:
    """Every generic suggestion is still offered, or written as guidance into the detail."""
    offered = {s["label"].split(" (")[0] for s in card.get("suggestions", [])}
    for s in generic_card.get("suggestions", []):
        if s["label"].split(" (")[0] in offered:
            continue
        assert GUIDANCE_HEADING in card["detail"], f"{profile}: '{s['label']}' silently dropped"
        assert f"- {s['label']}" in card["detail"], f"{profile}: '{s['label']}' not in the guidance"


CARD = {
    "uuid": "0190c2a0-0000-7000-8000-000000000001",
    "summary": "Test card",
    "indicator": "critical",
    "detail": "Lead.\n\n**Evidence**\n- a line",
    "source": {"label": "x", "topic": {"system": "urn:cds-naltrexone:rule", "code": "opioid-concurrent",
                                       "display": "Naltrexone with a current opioid"}},
    "overrideReasons": [{"system": "urn:x", "code": "c", "display": "d"}],
    "selectionBehavior": "at-most-one",
    "suggestions": [
        {"label": "Swap", "uuid": "0190c2a0-0000-7000-8000-000000000002", "actions": [
            {"type": "delete", "description": "Remove the draft MedicationRequest/a",
             "resourceId": "MedicationRequest/a"},
            {"type": "create", "description": "Create a urine screen",
             "resource": {"resourceType": "ServiceRequest", "status": "draft"}}]},
        {"label": "Ask a specialist", "uuid": "0190c2a0-0000-7000-8000-000000000003"},
        {"label": "Stop the opioid", "uuid": "0190c2a0-0000-7000-8000-000000000004", "actions": [
            {"type": "update", "description": "Set MedicationRequest/o to stopped",
             "resource": {"resourceType": "MedicationRequest", "id": "o", "status": "stopped",
                          "medicationCodeableConcept": {"text": "oxycodone"}}}]},
    ],
    "links": [{"label": "App", "url": "https://app.example.org/launch", "type": "smart", "appContext": "x=1"},
              {"label": "Label", "url": "https://dailymed.example.org", "type": "absolute"}],
}


def test_epic_splits_a_create_delete_pair_and_moves_the_rest_to_guidance() -> None:
    out = apply_profile("epic", {"cards": [CARD]})
    card = out["cards"][0]
    assert card["selectionBehavior"] == "any"
    assert [(s["label"], [a["type"] for a in s["actions"]]) for s in card["suggestions"]] == [
        ("Swap (1 of 2)", ["delete"]), ("Swap (2 of 2)", ["create"])]
    assert len({s["uuid"] for s in card["suggestions"]}) == 2
    assert "- Ask a specialist" in card["detail"]  # Epic shows no action-less suggestion
    assert "- Stop the opioid: Set MedicationRequest/o to stopped" in card["detail"]  # update of a MedicationRequest
    assert card["source"]["topic"] == {**CARD["source"]["topic"], "code": "opioidconcurrent"}
    assert [link["type"] for link in card["links"]] == ["smart", "absolute"]  # Epic supports appContext
    assert_valid_cards_response(out, "epic")
    assert CARD["source"]["topic"]["code"] == "opioid-concurrent"  # the input is not changed


def test_oracle_turns_an_app_context_link_into_guidance_and_lists_links() -> None:
    out = apply_profile("oracle", {"cards": [CARD]})
    card = out["cards"][0]
    assert [link["label"] for link in card["links"]] == ["Label"]
    assert "- App: https://app.example.org/launch (open it from the chart)" in card["detail"]
    assert "**Links**\n- Label: https://dailymed.example.org" in card["detail"]
    assert [len(s.get("actions", [])) for s in card["suggestions"]] == [2, 0, 1]  # applied as the spec says
    assert_valid_cards_response(out, "oracle")


def test_oracle_clips_a_long_detail_at_a_line_and_keeps_the_guidance() -> None:
    long = {**CARD, "detail": "Lead.\n\n**Evidence**\n" + "\n".join(f"- line {i} " + "x" * 60 for i in range(200))}
    card = apply_profile("oracle", {"cards": [long]})["cards"][0]
    assert len(card["detail"]) <= 3000
    assert re.search(r"… \(\d+ more lines in the full card", card["detail"])
    assert card["detail"].rstrip().endswith("https://dailymed.example.org")


def test_sandbox_keeps_delete_and_service_request_creates_only() -> None:
    card = apply_profile("sandbox", {"cards": [CARD]})["cards"][0]
    assert [s["label"] for s in card["suggestions"]] == ["Swap", "Ask a specialist"]
    assert card["selectionBehavior"] == "any"
    assert "- Stop the opioid: Set MedicationRequest/o to stopped" in card["detail"]
    assert_valid_cards_response(apply_profile("sandbox", {"cards": [CARD]}), "sandbox")


def test_generic_changes_nothing() -> None:
    assert apply_profile("generic", {"cards": [CARD]}) == {"cards": [CARD]}
    assert apply_profile(None, {"cards": []}) == {"cards": []}


def test_epic_split_suggestions_are_in_the_ledger_and_feedback_keys_on_the_rule_id(tmp_path: Path) -> None:
    """Under `epic` the client sees other suggestion uuids and topic codes than the generic card: the ledger
    records what was sent (so feedback on a split suggestion is accepted) and analytics keep the rule id."""
    settings = make_settings(tmp_path, client_profile="epic", admin_token="t")
    with TestClient(create_app(settings)) as http:
        client = Client(http, "epic")
        body = client.hook(load_fixture("opioid-stopped-3-days", "order-sign.json")).json()
        washout = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "opioidwashout")
        suggestion = washout["suggestions"][0]
        feedback = {"feedback": [{"card": washout["uuid"], "outcome": "accepted",
                                  "outcomeTimestamp": "2026-11-25T16:33:03Z",
                                  "acceptedSuggestions": [{"id": suggestion["uuid"]}]}]}
        response = http.post("/cds-services/naltrexone-order-sign/feedback", json=feedback)
        assert response.json() == {"stored": 1, "received": 1}, response.text
        rules = {r["rule_id"]: r for r in http.get("/analytics/rules",
                                                   headers={"Authorization": "Bearer t"}).json()["rules"]}
    assert "opioid-washout" in rules and "opioidwashout" not in rules
    assert rules["opioid-washout"]["accepted"] == 1
