"""evidence shared across replicas: link format version, blobs, checkpoints, verifying keys;
shared secrets (console sessions) and storm counters (issue 25)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from defib.store.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("evidence_items") as batch:
        # Items already stored were linked by the v1 rule and keep verifying by it.
        batch.add_column(
            sa.Column("link_version", sa.Integer(), nullable=False, server_default="1")
        )
    op.create_table(
        "evidence_blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_evidence_blobs"),
    )
    op.create_table(
        "evidence_checkpoints",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("incident_seq", _ID, nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_checkpoints"),
    )
    op.create_index(
        "ix_evidence_checkpoints_incident_seq", "evidence_checkpoints", ["incident_seq"]
    )
    op.create_table(
        "evidence_keys",
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("public_key", sa.String(100), nullable=False),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("registered_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_evidence_keys"),
    )
    op.create_table(
        "shared_secrets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_shared_secrets"),
    )
    op.create_table(
        "storm_counters",
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", "window_start", name="pk_storm_counters"),
    )


def downgrade() -> None:
    op.drop_table("storm_counters")
    op.drop_table("shared_secrets")
    op.drop_table("evidence_keys")
    op.drop_index("ix_evidence_checkpoints_incident_seq", table_name="evidence_checkpoints")
    op.drop_table("evidence_checkpoints")
    op.drop_table("evidence_blobs")
    with op.batch_alter_table("evidence_items") as batch:
        batch.drop_column("link_version")
