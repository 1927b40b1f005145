"""Silent mode: `issued_card.silent`, and hook calls counted per service and day.

A silent card was computed and remembered but left out of the response. Whether a rule is silent is a
setting (`CDS_SILENT_RULES`, `CDS_SILENT_SERVICES`), so switching it needs no further migration.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD COLUMN on both dialects (no table copy)
    op.add_column("issued_card", sa.Column("silent", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "hook_call_day",
        sa.Column("service_id", sa.Text(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("service_id", "day", name="pk_hook_call_day"),
    )


def downgrade() -> None:
    op.drop_table("hook_call_day")
    # Native DROP COLUMN (SQLite >= 3.35): a batch table copy would drop issued_card, and its ON DELETE
    # CASCADE foreign keys would take every suggestion, reason and feedback row with it.
    op.execute("ALTER TABLE issued_card DROP COLUMN silent")
