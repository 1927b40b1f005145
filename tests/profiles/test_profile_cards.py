"""`profile_cards`: rendered cards reshaped for a client, each with exactly the suggestions that client
receives (uuid and label as sent, and the finding's suggestion each offers): what the ledger stores."""

from __future__ import annotations

import pytest

from cds_service.cards.render import RenderedCard, render
from cds_service.profiles import profile_cards, profile_names
from cds_service.rules.base import ActionSpec, Finding, OverrideReasonSpec, SuggestionSpec
from cds_service.web.ledger import issued_cards

SWAP = SuggestionSpec("Swap", (
    ActionSpec("delete", "Remove the draft MedicationRequest/a", resource_id="MedicationRequest/a"),
    ActionSpec("create", "Create a urine screen", resource={"resourceType": "ServiceRequest", "status": "draft"})))
ASK = SuggestionSpec("Ask a specialist")
STOP = SuggestionSpec("Stop the opioid", (ActionSpec(
    "update", "Set MedicationRequest/o to stopped",
    resource={"resourceType": "MedicationRequest", "id": "o", "status": "stopped",
              "medicationCodeableConcept": {"text": "oxycodone"}}),))
REASON = OverrideReasonSpec("benefit", "Benefit outweighs the risk")


@pytest.fixture
def rendered() -> RenderedCard:
    return render(Finding(rule_id="opioid-concurrent", title="Naltrexone with a current opioid", indicator="critical",
                          summary="Stop? Oxycodone is current", detail="Lead.", order_ref="MedicationRequest/a",
                          suggestions=(SWAP, ASK, STOP), override_reasons=(REASON,)))


def _sent(card: RenderedCard) -> list[tuple[str, str]]:
    return [(s.uuid, s.label) for s in card.suggestions]


def _in_json(card: RenderedCard) -> list[tuple[str, str]]:
    return [(s["uuid"], s["label"]) for s in card.card.get("suggestions", [])]


@pytest.mark.parametrize("profile", profile_names())
def test_the_suggestions_kept_are_the_ones_in_the_json(rendered: RenderedCard, profile: str) -> None:
    [card] = profile_cards(profile, [rendered])
    assert _sent(card) == _in_json(card)
    assert card.uuid == card.card["uuid"] == rendered.uuid
    assert card.finding is rendered.finding
    [row] = issued_cards([card])
    assert (row.uuid, row.rule_id, row.indicator, row.summary) == (
        card.card["uuid"], "opioid-concurrent", card.card["indicator"], card.card["summary"])
    assert [(s.uuid, s.label) for s in row.suggestions] == _in_json(card)
    assert list(row.override_reasons) == [(r["system"], r["code"], r["display"]) for r in card.card["overrideReasons"]]


def test_generic_sends_the_rendered_suggestions(rendered: RenderedCard) -> None:
    [card] = profile_cards("generic", [rendered])
    assert card.suggestions == rendered.suggestions


def test_epic_splits_drops_and_says_which_suggestion_each_part_offers(rendered: RenderedCard) -> None:
    """Epic: one action per suggestion (Swap becomes two parts with new uuids), a suggestion without an action
    shows nothing (Ask: guidance), an update of a MedicationRequest is not applied (Stop: guidance)."""
    [card] = profile_cards("epic", [rendered])
    assert [(s.label, s.spec) for s in card.suggestions] == [("Swap (1 of 2)", SWAP), ("Swap (2 of 2)", SWAP)]
    assert not {s.uuid for s in card.suggestions} & {s.uuid for s in rendered.suggestions}
    assert card.card["source"]["topic"]["code"] == "opioidconcurrent" and card.rule_id == "opioid-concurrent"


def test_sandbox_drops_what_it_would_misapply(rendered: RenderedCard) -> None:
    [card] = profile_cards("sandbox", [rendered])
    by_spec = {s.spec.label: s for s in card.suggestions}
    assert list(by_spec) == ["Swap", "Ask a specialist"]
    assert by_spec["Swap"].uuid == rendered.suggestions[0].uuid  # unchanged, so the same uuid
    assert by_spec["Ask a specialist"].uuid == rendered.suggestions[1].uuid
