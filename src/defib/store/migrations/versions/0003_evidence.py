"""evidence items (content-addressed, hash-chained per incident)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from defib.store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "evidence_items",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("incident_seq", _ID, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("collected_at", UTCDateTime(), nullable=False),
        sa.Column("collected_by", sa.String(length=200), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=1200), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_seq"],
            ["incidents.seq"],
            name=op.f("fk_evidence_items_incident_seq_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_items")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_evidence_items_idempotency_key")),
    )
    op.create_index(
        "uq_evidence_items_incident_seq_n", "evidence_items", ["incident_seq", "n"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_evidence_items_incident_seq_n", table_name="evidence_items")
    op.drop_table("evidence_items")
