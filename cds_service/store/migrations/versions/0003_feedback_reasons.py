"""Feedback may carry several override reasons (`overrideReasons`, Epic extension reasons): one row each.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

`feedback.reason_system` / `reason_code` keep the first reason (what older rows hold); `feedback_reason`
holds every reason of a feedback event, in the order sent. Existing reasons are copied over.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback_reason",
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("system", sa.Text(), nullable=True),
        sa.Column("code", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["feedback_id"], ["feedback.id"], ondelete="CASCADE",
                                name="fk_feedback_reason_feedback_id_feedback"),
        sa.PrimaryKeyConstraint("feedback_id", "position", name="pk_feedback_reason"),
    )
    op.execute(
        "INSERT INTO feedback_reason (feedback_id, position, system, code) "
        "SELECT id, 0, reason_system, reason_code FROM feedback WHERE reason_code IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("feedback_reason")
