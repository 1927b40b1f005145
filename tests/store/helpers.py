"""Builders and row counters shared by the store tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from cds_service.store import FeedbackItem, IssuedCard, IssuedSuggestion, Store
from cds_service.store.models import Base

REASON_SYSTEM = "https://example.org/cds-naltrexone/override-reason"
REASONS = (
    (REASON_SYSTEM, "benefit", "Benefit outweighs risk"),
    (REASON_SYSTEM, "pt-aware", "Patient aware, will monitor"),
    (REASON_SYSTEM, "not-relevant", "Not relevant to this patient"),
)
LABELS = ("Cancel the naltrexone order", "Order non-opioid analgesia")


def new_uuid() -> str:
    return str(uuid.uuid4())


def make_card(rule_id: str = "naltrexone-opioid", *, labels: tuple[str, ...] = LABELS) -> IssuedCard:
    return IssuedCard(
        uuid=new_uuid(),
        rule_id=rule_id,
        indicator="critical",
        summary=f"Summary of {rule_id}",
        suggestions=tuple(IssuedSuggestion(uuid=new_uuid(), label=label) for label in labels),
        override_reasons=REASONS,
    )


def issue(
    store: Store,
    cards: list[IssuedCard],
    *,
    service_id: str = "naltrexone-order-select",
    patient_id: str = "patient-1",
    issued_at: datetime | None = None,
) -> list[IssuedCard]:
    store.record_issued(
        service_id=service_id,
        hook="order-select",
        hook_instance=new_uuid(),
        patient_id=patient_id,
        cards=cards,
        issued_at=issued_at,
    )
    return cards


def accepted(card: IssuedCard, *suggestions: str, at: datetime | None = None) -> FeedbackItem:
    return FeedbackItem(
        card=card.uuid,
        outcome="accepted",
        accepted_suggestions=tuple(suggestions),
        reason_system=None,
        reason_code=None,
        user_comment=None,
        outcome_timestamp=at or datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    )


def overridden(
    card: IssuedCard,
    code: str | None,
    *,
    system: str | None = REASON_SYSTEM,
    comment: str | None = "clinician comment",
    at: datetime | None = None,
) -> FeedbackItem:
    return FeedbackItem(
        card=card.uuid,
        outcome="overridden",
        accepted_suggestions=(),
        reason_system=system if code is not None else None,
        reason_code=code,
        user_comment=comment,
        outcome_timestamp=at or datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    )


def count_rows(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Base.metadata.tables[table])).scalar_one())


def row_counts(store: Store) -> dict[str, int]:
    return {name: count_rows(store, name) for name in Base.metadata.tables}
