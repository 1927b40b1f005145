"""Issuer and tenant of each issued card: feedback is accepted only from the EHR that received the card.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable: with CDS_AUTH_MODE=off there is no issuer; cards issued before this revision have none either
    # (feedback on them is then accepted only from a caller without an issuer: auth off)
    with op.batch_alter_table("issued_card") as batch:
        batch.add_column(sa.Column("issuer", sa.Text(), nullable=True))
        batch.add_column(sa.Column("tenant", sa.Text(), nullable=True))


def downgrade() -> None:
    # Native DROP COLUMN (SQLite >= 3.35, PostgreSQL): a batch table copy would drop issued_card, and its
    # ON DELETE CASCADE foreign keys would take every suggestion, reason and feedback row with it.
    op.execute("ALTER TABLE issued_card DROP COLUMN tenant")
    op.execute("ALTER TABLE issued_card DROP COLUMN issuer")
