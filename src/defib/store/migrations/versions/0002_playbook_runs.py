"""playbook runs, their steps, and engine heartbeats

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from defib.store.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ACTIVE = "status IN ('pending', 'running', 'waiting_approval') AND dry_run = false"


def upgrade() -> None:
    op.create_table(
        "playbook_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("incident_seq", _ID, nullable=False),
        sa.Column("playbook", sa.String(length=64), nullable=False),
        sa.Column("playbook_version", sa.String(length=64), nullable=False),
        sa.Column("playbook_digest", sa.String(length=64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("dry_run", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column("workflow_id", sa.String(length=80), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_seq"],
            ["incidents.seq"],
            name=op.f("fk_playbook_runs_incident_seq_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_runs")),
    )
    with op.batch_alter_table("playbook_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_playbook_runs_incident_seq", ["incident_seq", "created_at"], unique=False
        )
        batch_op.create_index("ix_playbook_runs_status", ["status"], unique=False)
        batch_op.create_index(
            "uq_playbook_runs_active",
            ["incident_seq", "playbook"],
            unique=True,
            sqlite_where=sa.text(_ACTIVE),
            postgresql_where=sa.text(_ACTIVE),
        )

    op.create_table(
        "playbook_run_steps",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("approval", sa.JSON(), nullable=True),
        sa.Column("deadline_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["playbook_runs.id"],
            name=op.f("fk_playbook_run_steps_run_id_playbook_runs"),
        ),
        sa.PrimaryKeyConstraint("run_id", "idx", name=op.f("pk_playbook_run_steps")),
    )

    op.create_table(
        "engine_heartbeats",
        sa.Column("executor_id", sa.String(length=120), nullable=False),
        sa.Column("hostname", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.Column("recovered_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("executor_id", name=op.f("pk_engine_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table("engine_heartbeats")
    op.drop_table("playbook_run_steps")
    with op.batch_alter_table("playbook_runs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_playbook_runs_active",
            sqlite_where=sa.text(_ACTIVE),
            postgresql_where=sa.text(_ACTIVE),
        )
        batch_op.drop_index("ix_playbook_runs_status")
        batch_op.drop_index("ix_playbook_runs_incident_seq")
    op.drop_table("playbook_runs")
