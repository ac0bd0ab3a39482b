"""evidence anchor failures every replica's readiness reads (issue 25)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from defib.store.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_anchor_failures",
        sa.Column("writer", sa.String(200), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("writer", name="pk_evidence_anchor_failures"),
    )


def downgrade() -> None:
    op.drop_table("evidence_anchor_failures")
