"""system state (kill switch, routing, output filters), model versions, gateway captures

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from defib.store.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "system_state",
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("disabled_by", _ID, nullable=True),
        sa.Column("disabled_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("active_version", sa.String(length=200), nullable=True),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("system", name=op.f("pk_system_state")),
    )
    op.create_table(
        "model_versions",
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="unknown", nullable=False),
        sa.Column("marked_by", sa.String(length=200), nullable=True),
        sa.Column("marked_at", UTCDateTime(), nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("first_served_at", UTCDateTime(), nullable=True),
        sa.Column("last_served_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("system", "name", name=op.f("pk_model_versions")),
    )
    op.create_table(
        "captures",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("endpoint", sa.String(length=50), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("masked", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("streamed", sa.Boolean(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captures")),
    )
    op.create_index("ix_captures_system_at", "captures", ["system", "at"])
    op.create_index("ix_captures_at", "captures", ["at"])


def downgrade() -> None:
    op.drop_index("ix_captures_at", table_name="captures")
    op.drop_index("ix_captures_system_at", table_name="captures")
    op.drop_table("captures")
    op.drop_table("model_versions")
    op.drop_table("system_state")
