"""Typed SQLAlchemy 2 declarative models of the card ledger, feedback and JWT replay cache.

The schema itself is created by the Alembic migrations in `cds_service/store/migrations/`; these models
must stay equal to what the migrations build (a test compares them).

No patient data lives here: the patient id is stored only as an HMAC-SHA256 hex digest; no names, no
FHIR resources. `feedback.user_comment` is clinician free text: it is stored, but must never be logged.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def as_utc(value: datetime) -> datetime:
    """`value` as an aware UTC datetime (a naive datetime is taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every dialect.

    PostgreSQL: `timestamptz`. SQLite (no time zones): naive UTC text, which sorts and compares correctly
    because every value is normalised to UTC on the way in. Always returns aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


class CardRow(Base):
    """One card sent to an EHR (the ledger): which call and rule produced a card uuid."""

    __tablename__ = "issued_card"

    card_uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_id: Mapped[str] = mapped_column(Text)
    hook: Mapped[str] = mapped_column(Text)
    hook_instance: Mapped[str] = mapped_column(Text)
    patient_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256(patient_hash_key, patient id), hex
    rule_id: Mapped[str] = mapped_column(Text)
    indicator: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(index=True)
    # the verified JWT `iss` and `tenant` of the call that received the card (None: auth off); feedback on
    # the card is accepted only from the same issuer and tenant (migration 0002)
    issuer: Mapped[str | None] = mapped_column(Text)
    tenant: Mapped[str | None] = mapped_column(Text)
    # silent mode: the rule ran and its card is remembered, but the response left it out (never shown;
    # migration 0004)
    silent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (Index("ix_issued_card_rule_id_issued_at", "rule_id", "issued_at"),)


class HookCallDayRow(Base):
    """How many hook calls reached the rules, per service and UTC day: the denominator of 'per 100 calls'.

    A counter, not one row per call: the ledger keeps cards, and a call without cards leaves only this.
    """

    __tablename__ = "hook_call_day"

    service_id: Mapped[str] = mapped_column(Text, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD (UTC), sorts as text
    calls: Mapped[int] = mapped_column(Integer)


class SuggestionRow(Base):
    __tablename__ = "issued_suggestion"

    card_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("issued_card.card_uuid", ondelete="CASCADE"), primary_key=True
    )
    suggestion_uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(Text)


class OverrideReasonRow(Base):
    __tablename__ = "issued_override_reason"

    card_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("issued_card.card_uuid", ondelete="CASCADE"), primary_key=True
    )
    system: Mapped[str] = mapped_column(Text, primary_key=True)
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    display: Mapped[str] = mapped_column(Text)


class FeedbackRow(Base):
    """One feedback event (`POST .../feedback` item), stored once per `dedupe_key`."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    card_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("issued_card.card_uuid", ondelete="CASCADE"), index=True
    )
    outcome: Mapped[str] = mapped_column(String(16))
    reason_system: Mapped[str | None] = mapped_column(Text)
    reason_code: Mapped[str | None] = mapped_column(Text)
    user_comment: Mapped[str | None] = mapped_column(Text)  # clinician free text: never log it
    outcome_timestamp: Mapped[datetime]
    received_at: Mapped[datetime]
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)


class FeedbackReasonRow(Base):
    """Every override reason of one feedback event, in the order sent (`overrideReason`, `overrideReasons`,
    EHR extension reasons); `feedback.reason_system/code` keep the first one."""

    __tablename__ = "feedback_reason"

    feedback_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    system: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str] = mapped_column(Text)


class AcceptedSuggestionRow(Base):
    __tablename__ = "feedback_accepted_suggestion"

    feedback_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True
    )
    card_uuid: Mapped[str] = mapped_column(String(64))
    suggestion_uuid: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (
        ForeignKeyConstraint(
            ["card_uuid", "suggestion_uuid"],
            ["issued_suggestion.card_uuid", "issued_suggestion.suggestion_uuid"],
            ondelete="CASCADE",
            name="fk_feedback_accepted_suggestion_issued_suggestion",
        ),
        Index("ix_feedback_accepted_suggestion_card_uuid_suggestion_uuid", "card_uuid", "suggestion_uuid"),
    )


class JwtReplayRow(Base):
    """JWT replay cache: one row per (iss, jti) seen, until it expires."""

    __tablename__ = "jwt_replay"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    iss: Mapped[str] = mapped_column(Text)
    jti: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (UniqueConstraint("iss", "jti"),)


__all__ = [
    "AcceptedSuggestionRow",
    "Base",
    "CardRow",
    "FeedbackReasonRow",
    "FeedbackRow",
    "HookCallDayRow",
    "JwtReplayRow",
    "OverrideReasonRow",
    "SuggestionRow",
    "UTCDateTime",
    "as_utc",
]
