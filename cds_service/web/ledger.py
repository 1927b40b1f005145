"""What the ledger stores from the HTTP side: the rows of the cards as sent (from the evaluation's findings and
the uuids the renderer and the client profile assigned), and the feedback as EHRs send it (CDS Hooks 2.0
`overrideReason`, Epic's `overrideReasons` and extension reasons), validated into store items."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import datetime

from pydantic import ValidationError

from cds_service.bounded import utc_instant
from cds_service.cards.render import RenderedCard
from cds_service.errors import BadRequest
from cds_service.hooks.models import FeedbackEntry, FeedbackRequest
from cds_service.store import FeedbackItem, IssuedCard, IssuedSuggestion

# RFC 3339 §5.6 date-time ('T' and 'Z' in either case, §5.6 NOTE); ISO 8601 forms outside it are refused
RFC3339_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)


def issued_cards(cards: Sequence[RenderedCard], *, silent: bool = False) -> list[IssuedCard]:
    """The ledger rows of rendered cards, from their findings and the uuids assigned to them (never from the
    card JSON); `silent` for the cards of silent-mode rules, which no client saw (kept as rendered).

    What is stored, whatever client profile reshaped the cards (`profiles`), so that the EHR's feedback
    resolves and the analytics count what clinicians were offered:

    - the card uuid as sent (no profile changes it): feedback names it;
    - the finding's rule id, never `source.topic.code` (Epic receives `opioidwashout` for `opioid-washout`):
      analytics key on the rule id, the same for every EHR;
    - the indicator, the summary as sent (clipped to 140 characters) and the override reasons as offered (none
      on an info card): no profile rewrites a summary or drops an override reason (tests/profiles holds them
      to it), so these are the finding's own;
    - the suggestions the client received, each with the uuid and label it received: one a profile turned
      into plain guidance (the client cannot apply it) is not stored, since no feedback can accept it and
      counting it as offered would lower its acceptance rate; one a profile split into parts (Epic: one action
      per suggestion, "(1 of 2)") or re-issued with fewer actions is stored as each part, with its own uuid,
      since that is what the EHR's acceptedSuggestions name.
    """
    return [
        IssuedCard(
            uuid=c.uuid,
            rule_id=c.rule_id,
            indicator=c.finding.indicator,
            summary=c.summary,
            suggestions=tuple(IssuedSuggestion(s.uuid, s.label) for s in c.suggestions),
            override_reasons=tuple((r.system, r.code, r.display) for r in c.override_reasons),
            silent=silent,
        )
        for c in cards
    ]


def parse_feedback(data: object) -> list[FeedbackItem]:
    try:
        request = FeedbackRequest.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequest(f"Invalid feedback: {where}: {first['msg']}", expression=[where]) from None
    items = []
    for i, entry in enumerate(request.feedback):
        stamp = None
        if RFC3339_DATE_TIME.fullmatch(entry.outcomeTimestamp):
            # e.g. month 13, a leap second (:60), or year 1 with an offset (no UTC form: OutOfRange)
            with contextlib.suppress(ValueError):
                stamp = utc_instant(datetime.fromisoformat(entry.outcomeTimestamp.upper().replace("Z", "+00:00")))
        if stamp is None:
            raise BadRequest(f"feedback[{i}].outcomeTimestamp must be an RFC 3339 date-time with a time zone "
                             f"between 1900 and 2200, e.g. 2026-11-25T16:33:03Z.",
                             expression=[f"feedback[{i}].outcomeTimestamp"])
        accepted = tuple(s.id for s in entry.acceptedSuggestions or [])
        if entry.outcome == "accepted" and not accepted:
            raise BadRequest(f"feedback[{i}]: outcome 'accepted' requires acceptedSuggestions.",
                             expression=[f"feedback[{i}].acceptedSuggestions"])
        reasons, comment = feedback_reasons(entry, i)
        items.append(FeedbackItem(
            card=entry.card,
            outcome=entry.outcome,
            accepted_suggestions=accepted,
            reason_system=reasons[0][0] if reasons else None,
            reason_code=reasons[0][1] if reasons else None,
            user_comment=comment,
            outcome_timestamp=stamp,
            reasons=reasons,
        ))
    return items


MAX_REASON_CHARS = 500


def _coding(value: object, where: str) -> tuple[str | None, str] | None:
    """(system, code) of a Coding, or of an OverrideReason's `reason`; None when there is no code at all."""
    if isinstance(value, dict) and isinstance(value.get("reason"), dict):
        value = value["reason"]
    if not isinstance(value, dict) or "code" not in value:
        return None
    code, system = value.get("code"), value.get("system")
    if not isinstance(code, str) or not code.strip() or len(code) > MAX_REASON_CHARS:
        raise BadRequest(f"{where}.code must be a non-empty string (at most {MAX_REASON_CHARS} characters).",
                         expression=[f"{where}.code"])
    if system is not None and (not isinstance(system, str) or not system or len(system) > MAX_REASON_CHARS):
        raise BadRequest(f"{where}.system must be a URI string.", expression=[f"{where}.system"])
    return system, code


def feedback_reasons(entry: FeedbackEntry, i: int) -> tuple[tuple[tuple[str | None, str], ...], str | None]:
    """Every override reason of a feedback item, in order and without repeats, and the first user comment.

    Sources: `overrideReason` (CDS Hooks 2.0), `overrideReasons` (Epic's documentation: the plural, a list of
    OverrideReason objects; a list of bare Codings is read too), and `extension` members whose name says
    `reason` (Epic extension reasons: a Coding, an OverrideReason, or a list of them). `display` is never
    required: the Sandbox and Epic send reasons without it; the analytics take it from the issued card.
    """
    found: list[tuple[str | None, str]] = []
    comment: str | None = None
    if entry.overrideReason is not None:
        if entry.overrideReason.reason is not None:
            found.append((entry.overrideReason.reason.system, entry.overrideReason.reason.code))
        comment = entry.overrideReason.userComment
    for n, item in enumerate(entry.overrideReasons or []):
        coding = _coding(item, f"feedback[{i}].overrideReasons[{n}]")
        if coding is not None:
            found.append(coding)
        said = item.get("userComment")
        if comment is None and isinstance(said, str) and said:
            comment = said
    for key, value in sorted((entry.extension or {}).items()):
        if "reason" not in key.lower():
            continue
        values = value if isinstance(value, list) else [value]
        for n, item in enumerate(values[:50]):
            coding = _coding(item, f"feedback[{i}].extension.{key[:60]}[{n}]")
            if coding is not None:
                found.append(coding)
    return tuple(dict.fromkeys(found)), comment
