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


def assert_valid_cards_response(body: dict) -> None:
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
