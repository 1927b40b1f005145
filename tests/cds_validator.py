"""One validator for every hook response: the CDS Hooks 2.0 response rules and this service's card contract."""

from __future__ import annotations

import uuid
from typing import Any

from cds_service.hooks.models import CardsResponse

INDICATORS = {"info", "warning", "critical"}
RULE_SYSTEM = "urn:cds-naltrexone:rule"


def _no_nulls_or_empties(value: Any, path: str) -> None:
    if value is None:
        raise AssertionError(f"{path} is null")
    if isinstance(value, dict):
        assert value, f"{path} is an empty object"
        for k, v in value.items():
            _no_nulls_or_empties(v, f"{path}.{k}")
    elif isinstance(value, list):
        assert value or path == "cards", f"{path} is an empty array"
        for i, v in enumerate(value):
            _no_nulls_or_empties(v, f"{path}[{i}]")
    elif isinstance(value, str):
        assert value != "", f"{path} is an empty string"


def assert_valid_cards_response(body: dict, profile: str = "generic") -> None:
    """The CDS Hooks 2.0 rules, this service's card contract, and the named client profile's limits."""
    _assert_spec(body)
    PROFILE_CHECKS[profile](body)


def _actions(body: dict):
    for i, card in enumerate(body["cards"]):
        for j, s in enumerate(card.get("suggestions", [])):
            yield f"cards[{i}].suggestions[{j}]", card, s


def _resource_type(action: dict) -> str | None:
    if action["type"] == "delete":
        return action["resourceId"].partition("/")[0]
    return action["resource"].get("resourceType")


def assert_generic(body: dict) -> None:
    for card in body["cards"]:
        assert card["source"]["topic"]["code"] == card["source"]["topic"]["code"].strip()


def assert_epic(body: dict) -> None:
    """Epic's documented limits (fhir.epic.com, CDS Hooks): `any` only; one action per suggestion, with a
    description (what users read); update only of ServiceRequest; topic code alphanumeric <= 100."""
    for i, card in enumerate(body["cards"]):
        code = card["source"]["topic"]["code"]
        assert code.isascii() and code.isalnum() and len(code) <= 100, f"cards[{i}] topic code {code!r}"
        if "suggestions" in card:
            assert card["selectionBehavior"] == "any", card["selectionBehavior"]
    for where, _card, s in _actions(body):
        actions = s.get("actions", [])
        assert len(actions) == 1, f"{where} has {len(actions)} actions"
        for a in actions:
            assert a.get("description"), f"{where}: action without description"
            if a["type"] == "update":
                assert _resource_type(a) == "ServiceRequest", f"{where}: update of {_resource_type(a)}"
            if a["type"] == "create":
                assert _resource_type(a) in {"ServiceRequest", "MedicationRequest"}, where


def assert_oracle(body: dict) -> None:
    """Oracle Health: no `appContext` on links; details sized for a narrow side panel."""
    for i, card in enumerate(body["cards"]):
        for link in card.get("links", []):
            assert "appContext" not in link, f"cards[{i}] link with appContext"
        assert len(card.get("detail", "")) <= 3600, f"cards[{i}] detail is {len(card['detail'])} characters"


def assert_sandbox(body: dict) -> None:
    """The Sandbox copies any create/update's medicationCodeableConcept into the draft: none may carry one."""
    for where, _card, s in _actions(body):
        for a in s.get("actions", []):
            resource = a.get("resource") or {}
            assert "medicationCodeableConcept" not in resource and "medicationReference" not in resource, where


PROFILE_CHECKS = {"generic": assert_generic, "epic": assert_epic, "oracle": assert_oracle,
                  "sandbox": assert_sandbox}


def _assert_spec(body: dict) -> None:
    CardsResponse.model_validate(body)
    assert set(body) <= {"cards", "systemActions"}, body.keys()
    assert isinstance(body["cards"], list)
    for key, value in body.items():
        _no_nulls_or_empties(value, key)
    seen_uuids: set[str] = set()
    per_rule_order: set[tuple[str, str]] = set()
    for i, card in enumerate(body["cards"]):
        where = f"cards[{i}]"
        assert len(card["summary"]) < 140, f"{where}.summary is {len(card['summary'])} characters"
        assert card["indicator"] in INDICATORS
        assert card["source"]["label"]
        topic = card["source"]["topic"]
        assert topic["system"] == RULE_SYSTEM and topic["code"] and topic["display"], topic
        uuid.UUID(card["uuid"])
        assert card["uuid"] not in seen_uuids
        seen_uuids.add(card["uuid"])
        assert card.get("detail"), f"{where} has no detail (evidence)"
        assert "**Evidence**" in card["detail"] or topic["code"] in {"indication-missing"}, \
            f"{where} ({topic['code']}) shows no evidence"
        if card["indicator"] in {"warning", "critical"}:
            reasons = card.get("overrideReasons")
            assert reasons, f"{where} ({topic['code']}) has no overrideReasons"
            for r in reasons:
                assert r["system"] and r["code"] and r["display"], r
        if "suggestions" in card:
            assert card.get("selectionBehavior") in {"at-most-one", "any"}, f"{where} lacks selectionBehavior"
            recommended = [s for s in card["suggestions"] if s.get("isRecommended")]
            if card["selectionBehavior"] == "at-most-one":
                assert len(recommended) <= 1
            for s in card["suggestions"]:
                uuid.UUID(s["uuid"])
                assert s["uuid"] not in seen_uuids
                seen_uuids.add(s["uuid"])
                for a in s.get("actions", []):
                    assert a["type"] in {"create", "update", "delete"} and a["description"]
                    if a["type"] == "delete":
                        assert "resourceId" in a and "resource" not in a, a
                        assert "/" in a["resourceId"]
                    else:
                        assert isinstance(a.get("resource"), dict), a
        else:
            assert "selectionBehavior" not in card
        for link in card.get("links", []):
            assert link["type"] in {"absolute", "smart"} and link["url"].startswith("http")
        # one card per rule per order: a card names its order in the delete action or detail; approximate
        # by rule id + summary, which names the order's drug
        key = (topic["code"], card["summary"])
        assert key not in per_rule_order, f"two {topic['code']} cards for the same order"
        per_rule_order.add(key)
