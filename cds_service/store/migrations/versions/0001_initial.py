"""Initial schema: card ledger, issued suggestions and override reasons, feedback, JWT replay cache.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "issued_card",
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("service_id", sa.Text(), nullable=False),
        sa.Column("hook", sa.Text(), nullable=False),
        sa.Column("hook_instance", sa.Text(), nullable=False),
        sa.Column("patient_hash", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("indicator", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("issued_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("card_uuid", name="pk_issued_card"),
    )
    op.create_index("ix_issued_card_issued_at", "issued_card", ["issued_at"])
    op.create_index("ix_issued_card_rule_id_issued_at", "issued_card", ["rule_id", "issued_at"])

    op.create_table(
        "issued_suggestion",
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("suggestion_uuid", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_uuid"],
            ["issued_card.card_uuid"],
            name="fk_issued_suggestion_card_uuid_issued_card",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("card_uuid", "suggestion_uuid", name="pk_issued_suggestion"),
    )

    op.create_table(
        "issued_override_reason",
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("display", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_uuid"],
            ["issued_card.card_uuid"],
            name="fk_issued_override_reason_card_uuid_issued_card",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("card_uuid", "system", "code", name="pk_issued_override_reason"),
    )

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason_system", sa.Text(), nullable=True),
        sa.Column("reason_code", sa.Text(), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.Column("outcome_timestamp", UTC_TS, nullable=False),
        sa.Column("received_at", UTC_TS, nullable=False),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_uuid"],
            ["issued_card.card_uuid"],
            name="fk_feedback_card_uuid_issued_card",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.UniqueConstraint("dedupe_key", name="uq_feedback_dedupe_key"),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])

    op.create_table(
        "feedback_accepted_suggestion",
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("suggestion_uuid", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
            name="fk_feedback_accepted_suggestion_feedback_id_feedback",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["card_uuid", "suggestion_uuid"],
            ["issued_suggestion.card_uuid", "issued_suggestion.suggestion_uuid"],
            name="fk_feedback_accepted_suggestion_issued_suggestion",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feedback_id", "suggestion_uuid", name="pk_feedback_accepted_suggestion"),
    )
    op.create_index(
        "ix_feedback_accepted_suggestion_card_uuid_suggestion_uuid",
        "feedback_accepted_suggestion",
        ["card_uuid", "suggestion_uuid"],
    )

    op.create_table(
        "jwt_replay",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("iss", sa.Text(), nullable=False),
        sa.Column("jti", sa.Text(), nullable=False),
        sa.Column("expires_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_jwt_replay"),
        sa.UniqueConstraint("iss", "jti", name="uq_jwt_replay_iss_jti"),
    )
    op.create_index("ix_jwt_replay_expires_at", "jwt_replay", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_jwt_replay_expires_at", table_name="jwt_replay")
    op.drop_table("jwt_replay")
    op.drop_index(
        "ix_feedback_accepted_suggestion_card_uuid_suggestion_uuid", table_name="feedback_accepted_suggestion"
    )
    op.drop_table("feedback_accepted_suggestion")
    op.drop_index("ix_feedback_card_uuid", table_name="feedback")
    op.drop_table("feedback")
    op.drop_table("issued_override_reason")
    op.drop_table("issued_suggestion")
    op.drop_index("ix_issued_card_rule_id_issued_at", table_name="issued_card")
    op.drop_index("ix_issued_card_issued_at", table_name="issued_card")
    op.drop_table("issued_card")
