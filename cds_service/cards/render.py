"""Findings rendered as CDS Hooks 2.0 cards: fresh (time-ordered) uuids, no nulls, no empty optionals."""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.cards.ids import uuid7
from cds_service.rules.base import SEVERITY, Finding

RULE_SYSTEM = "urn:cds-naltrexone:rule"
MAX_SUMMARY = 139


def _clip(summary: str) -> str:
    return summary if len(summary) <= MAX_SUMMARY else summary[: MAX_SUMMARY - 1].rstrip() + "…"


def card(finding: Finding) -> dict:
    out: dict = {
        "uuid": uuid7(),
        "summary": _clip(finding.summary),
        "indicator": finding.indicator,
        "detail": finding.detail,
        "source": {
            "label": finding.source_label,
            "topic": {"system": RULE_SYSTEM, "code": finding.rule_id, "display": finding.title},
        },
    }
    if finding.source_url:
        out["source"]["url"] = finding.source_url
    if finding.suggestions:
        suggestions = []
        for s in finding.suggestions:
            sug: dict = {"label": s.label, "uuid": uuid7()}
            if s.recommended:
                sug["isRecommended"] = True
            actions = []
            for a in s.actions:
                action: dict = {"type": a.type, "description": a.description}
                if a.resource is not None:
                    action["resource"] = a.resource
                if a.resource_id is not None:
                    action["resourceId"] = a.resource_id
                actions.append(action)
            if actions:
                sug["actions"] = actions
            suggestions.append(sug)
        out["suggestions"] = suggestions
        out["selectionBehavior"] = "at-most-one"
    if finding.override_reasons and finding.indicator != "info":
        out["overrideReasons"] = [{"system": r.system, "code": r.code, "display": r.display}
                                  for r in finding.override_reasons]
    if finding.links:
        out["links"] = [{"label": link.label, "url": link.url, "type": "absolute"} for link in finding.links]
    return out


def cards(findings: Sequence[Finding]) -> list[dict]:
    """Most severe first, so an EHR that shows only the first card shows the one that matters."""
    ordered = sorted(findings, key=lambda f: (-SEVERITY[f.indicator], f.order_ref, f.rule_id))
    return [card(f) for f in ordered]
