"""What a client profile is, and how it reshapes a CDS Hooks response for one EHR.

A profile is data: which `selectionBehavior` the client accepts, how many actions it applies per suggestion,
which action types and resource types it applies correctly, which link types it shows, whether it honours
`appContext`, the longest detail worth sending and how `source.topic.code` must look. `apply` turns a
generic response (what `cards.render` builds) into one the client renders and applies as intended.

What never changes with the profile: which cards there are, their indicators, summaries, evidence and
override reasons. A suggestion the client cannot apply (or would misapply, like the Sandbox copying a
`medicationCodeableConcept` into the draft) is never silently dropped: it becomes a line of plain guidance
at the end of the detail, so the clinician still reads what the service recommends.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cds_service.cards.ids import uuid7
from cds_service.cards.render import RenderedCard, SentSuggestion

GUIDANCE_HEADING = "**Suggested actions (do them in the chart; this EHR cannot apply them from the card)**"


@dataclass(frozen=True, slots=True)
class ClientProfile:
    """The response rules of one CDS client; `document` names the public document they follow."""

    name: str
    title: str
    document: str
    selection_behavior: str  # the value sent with suggestions ("at-most-one" | "any")
    max_actions_per_suggestion: int | None  # None: any number
    # action type -> resource types the client applies (None: any type); an action type absent here is not applied
    applies: dict[str, frozenset[str] | None]
    # an action whose resource carries one of these elements is misapplied by the client (e.g. the Sandbox
    # copies `medicationCodeableConcept` into the draft): it becomes guidance
    misapplied_elements: tuple[str, ...] = ()
    # resource type -> note appended to the action description (what the client does differently)
    action_notes: dict[str, str] = field(default_factory=dict)
    suggestions_without_actions: bool = True  # False: the client shows only actions (label unused)
    link_types: frozenset[str] = frozenset({"absolute", "smart"})
    app_context: bool = True  # False: a link with `appContext` becomes guidance (it would launch without it)
    links_in_detail: bool = False  # True: links are also listed in the detail (the client may strip them)
    max_detail_chars: int | None = None
    topic_code: Callable[[str], str] = field(default=lambda rule_id: rule_id)  # rule id -> source.topic.code

    def can_apply(self, action: dict) -> bool:
        kinds = self.applies
        if action.get("type") not in kinds:
            return False
        allowed = kinds[action["type"]]
        resource = action.get("resource")
        if action.get("type") == "delete":
            rtype = str(action.get("resourceId", "")).partition("/")[0]
        else:
            rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        if allowed is not None and rtype not in allowed:
            return False
        return not (isinstance(resource, dict) and any(e in resource for e in self.misapplied_elements))


def alphanumeric_code(rule_id: str) -> str:
    """A rule id as an alphanumeric code of at most 100 characters (Epic's `source.topic.code` constraint):
    the letters and digits of the id, in order, so `opioid-concurrent` -> `opioidconcurrent`. Stable: it
    depends on the rule id only (Epic ties overrides to it)."""
    return re.sub(r"[^A-Za-z0-9]", "", rule_id)[:100]


def _guidance_line(suggestion: dict, actions: list[dict]) -> str:
    label = suggestion.get("label", "")
    what = "; ".join(a["description"] for a in actions if a.get("description"))
    return f"- {label}" + (f": {what}" if what and what != label else "")


def _clip_detail(detail: str, limit: int) -> str:
    """At most `limit` characters, cut at a line boundary; says how much was left out."""
    if len(detail) <= limit:
        return detail
    lines = detail.split("\n")
    kept: list[str] = []
    size = 0
    note_room = 80
    for line in lines:
        if size + len(line) + 1 > limit - note_room:
            break
        kept.append(line)
        size += len(line) + 1
    left = len(lines) - len(kept)
    return "\n".join(kept).rstrip() + f"\n\n… ({left} more lines in the full card: open the service's source)"


def _profile_card(card: dict, profile: ClientProfile) -> tuple[dict, list[tuple[str, str, str]]]:
    """The card reshaped for `profile`, and each suggestion it now offers: (uuid, label, the uuid of the
    generic suggestion it comes from)."""
    out = {k: v for k, v in card.items() if k not in {"suggestions", "selectionBehavior", "links"}}
    out["source"] = copy.deepcopy(card["source"])
    topic = out["source"].get("topic")
    if isinstance(topic, dict) and isinstance(topic.get("code"), str):
        topic["code"] = profile.topic_code(topic["code"])
    guidance: list[str] = []
    suggestions: list[dict] = []
    sent: list[tuple[str, str, str]] = []  # per suggestion offered: uuid, label, the generic one's uuid
    for sug in card.get("suggestions", []):
        actions = list(sug.get("actions", []))
        usable = [a for a in actions if profile.can_apply(a)]
        unusable = [a for a in actions if not profile.can_apply(a)]
        if unusable:
            guidance.append(_guidance_line(sug, unusable))
        if not actions:
            if profile.suggestions_without_actions:
                suggestions.append(dict(sug))
                sent.append((sug.get("uuid", ""), sug.get("label", ""), sug.get("uuid", "")))
            else:
                guidance.append(_guidance_line(sug, []))
            continue
        if not usable:
            continue
        usable = [_noted(a, profile) for a in usable]
        limit = profile.max_actions_per_suggestion
        if limit is None or len(usable) <= limit:
            kept = dict(sug)
            kept["actions"] = usable
            if unusable:
                kept["uuid"] = uuid7()  # not the suggestion the generic card offered
            suggestions.append(kept)
            sent.append((kept.get("uuid", ""), kept.get("label", ""), sug.get("uuid", "")))
            continue
        for i in range(0, len(usable), limit):
            part = dict(sug)
            part["uuid"] = uuid7()
            part["actions"] = usable[i:i + limit]
            if len(usable) > limit:
                part["label"] = f"{sug['label']} ({i // limit + 1} of {-(-len(usable) // limit)})"
            suggestions.append(part)
            sent.append((part["uuid"], part.get("label", ""), sug.get("uuid", "")))
    if suggestions:
        out["suggestions"] = suggestions
        out["selectionBehavior"] = profile.selection_behavior
    links = []
    listed: list[str] = []
    for link in card.get("links", []):
        line = f"- {link.get('label', 'Link')}: {link.get('url', '')}"
        if link.get("type") not in profile.link_types or ("appContext" in link and not profile.app_context):
            guidance.append(f"{line} (open it from the chart)")
            continue
        links.append(link)
        if profile.links_in_detail:
            listed.append(line)
    if links:
        out["links"] = links
    extras = ""
    if guidance:
        extras += f"\n\n{GUIDANCE_HEADING}\n" + "\n".join(guidance)
    if listed:
        extras += "\n\n**Links**\n" + "\n".join(listed)
    detail = out.get("detail", "")
    if profile.max_detail_chars is not None and detail:
        # the guidance and links are short and must survive: the card's own text is what gets cut
        detail = _clip_detail(detail, max(profile.max_detail_chars - len(extras), 600))
    detail += extras
    if detail:
        out["detail"] = detail
    return out, sent


def _noted(action: dict, profile: ClientProfile) -> dict:
    resource = action.get("resource")
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    note = profile.action_notes.get(f"{action.get('type')} {rtype}")
    if not note:
        return action
    return {**action, "description": f"{action['description']}. {note}"}


def apply(profile: ClientProfile, response: dict[str, Any]) -> dict[str, Any]:
    """`response` reshaped for `profile` (a new dict; the input is not changed)."""
    out = {k: v for k, v in response.items() if k != "cards"}
    out["cards"] = [_profile_card(c, profile)[0] for c in response.get("cards", [])]
    return out


def apply_rendered(profile: ClientProfile, rendered: Sequence[RenderedCard]) -> list[RenderedCard]:
    """Rendered cards reshaped for `profile`, each with the suggestions the client now receives (uuid and
    label as sent, and the finding's suggestion each one offers): what the ledger must hold for feedback
    from this client to resolve. The card uuid, summary, indicator and override reasons are never changed."""
    out = []
    for r in rendered:
        card, sent = _profile_card(r.card, profile)
        specs = {s.uuid: s.spec for s in r.suggestions}
        out.append(replace(r, card=card, suggestions=tuple(SentSuggestion(uuid, label, specs[source])
                                                           for uuid, label, source in sent)))
    return out
