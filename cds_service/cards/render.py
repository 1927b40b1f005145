"""Findings rendered as CDS Hooks 2.0 cards: fresh (time-ordered) uuids, no nulls, no empty optionals.

Each card comes back with the facts the ledger keeps about it (`RenderedCard`): the finding it shows and the
uuids assigned to the card and to each suggestion. The ledger is written from these, never by reading the
card's JSON back, so a client profile that reshapes the JSON (topic codes, split suggestions) cannot change
which rule a card is counted under.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cds_service.cards.ids import uuid7
from cds_service.rules.base import SEVERITY, Finding, OverrideReasonSpec, SuggestionSpec

RULE_SYSTEM = "urn:cds-naltrexone:rule"
MAX_SUMMARY = 139


def _clip(summary: str) -> str:
    return summary if len(summary) <= MAX_SUMMARY else summary[: MAX_SUMMARY - 1].rstrip() + "…"


def sent_summary(finding: Finding) -> str:
    """The summary as the card carries it (clipped to the CDS Hooks limit of 140 characters)."""
    return _clip(finding.summary)


def sent_override_reasons(finding: Finding) -> tuple[OverrideReasonSpec, ...]:
    """The override reasons the card offers: none on an info card (nothing to override)."""
    return finding.override_reasons if finding.indicator != "info" else ()


@dataclass(frozen=True, slots=True)
class SentSuggestion:
    """One suggestion as the client receives it: its uuid and label, and the finding's suggestion it offers
    (a client profile may offer one finding suggestion as several, each with a uuid of its own)."""

    uuid: str
    label: str
    spec: SuggestionSpec


@dataclass(frozen=True, slots=True)
class RenderedCard:
    """A card (`card`, the JSON sent) with what the ledger keeps of it, taken from the evaluation."""

    finding: Finding
    uuid: str
    suggestions: tuple[SentSuggestion, ...]
    card: dict[str, Any]

    @property
    def rule_id(self) -> str:
        return self.finding.rule_id

    @property
    def summary(self) -> str:
        return sent_summary(self.finding)

    @property
    def override_reasons(self) -> tuple[OverrideReasonSpec, ...]:
        return sent_override_reasons(self.finding)


def _suggestion(spec: SuggestionSpec, uuid: str) -> dict[str, Any]:
    sug: dict[str, Any] = {"label": spec.label, "uuid": uuid}
    if spec.recommended:
        sug["isRecommended"] = True
    actions = []
    for a in spec.actions:
        action: dict[str, Any] = {"type": a.type, "description": a.description}
        if a.resource is not None:
            action["resource"] = a.resource
        if a.resource_id is not None:
            action["resourceId"] = a.resource_id
        actions.append(action)
    if actions:
        sug["actions"] = actions
    return sug


def render(finding: Finding) -> RenderedCard:
    """One finding as a card, with a fresh uuid for the card and for each suggestion."""
    uuid = uuid7()
    sent = tuple(SentSuggestion(uuid7(), s.label, s) for s in finding.suggestions)
    out: dict[str, Any] = {
        "uuid": uuid,
        "summary": sent_summary(finding),
        "indicator": finding.indicator,
        "detail": finding.detail,
        "source": {
            "label": finding.source_label,
            "topic": {"system": RULE_SYSTEM, "code": finding.rule_id, "display": finding.title},
        },
    }
    if finding.source_url:
        out["source"]["url"] = finding.source_url
    if sent:
        out["suggestions"] = [_suggestion(s.spec, s.uuid) for s in sent]
        out["selectionBehavior"] = "at-most-one"
    reasons = sent_override_reasons(finding)
    if reasons:
        out["overrideReasons"] = [{"system": r.system, "code": r.code, "display": r.display} for r in reasons]
    if finding.links:
        out["links"] = [{"label": link.label, "url": link.url, "type": "absolute"} for link in finding.links]
    return RenderedCard(finding, uuid, sent, out)


def render_all(findings: Sequence[Finding]) -> list[RenderedCard]:
    """Most severe first, so an EHR that shows only the first card shows the one that matters."""
    ordered = sorted(findings, key=lambda f: (-SEVERITY[f.indicator], f.order_ref, f.rule_id))
    return [render(f) for f in ordered]

