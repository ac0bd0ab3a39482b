"""Table definitions (SQLAlchemy Core). Migrations in `migrations/` must match these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from defib.store.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger there would break it.
_Id = BigInteger().with_variant(Integer(), "sqlite")

OPEN_STATUS_SQL = "status IN ('detected', 'acknowledged', 'mitigated')"

incidents = Table(
    "incidents",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("type", String(32), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("affected_systems", JSON, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("fingerprint", String(64), nullable=True),
    Column("alert_count", Integer, nullable=False, server_default="0"),
    Column("first_seen_at", UTCDateTime, nullable=True),
    Column("last_seen_at", UTCDateTime, nullable=True),
    Column("commander", String(200), nullable=True),
    Column("detected_at", UTCDateTime, nullable=False),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("mitigated_at", UTCDateTime, nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("reopened_at", UTCDateTime, nullable=True),
    Column("reopen_count", Integer, nullable=False, server_default="0"),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # What assess_data_impact found: counts per entity type, affected user ids, record
    # references; never the leaked values. Written only by store/impact.py.
    Column("impact", JSON, nullable=True),
    # Opened on the classifier's best guess (defib.classify.undecided); cleared by a retype.
    Column("needs_triage", Boolean, nullable=False, server_default=text("false")),
    # The postmortem's review fields (summary, contributing factors, lessons, action items)
    # and a person's taxonomy mapping (null: derived from the type and evidence on read).
    # Written only by store/review.py.
    Column("review", JSON, nullable=True),
    Column("taxonomy", JSON, nullable=True),
    Index("ix_incidents_status", "status"),
    Index("ix_incidents_type", "type"),
    Index("ix_incidents_fingerprint", "fingerprint"),
    # The database, not a process-local lock, guarantees one open incident per fingerprint.
    Index(
        "uq_incidents_open_fingerprint",
        "fingerprint",
        unique=True,
        sqlite_where=text(OPEN_STATUS_SQL),
        postgresql_where=text(OPEN_STATUS_SQL),
    ),
)

timeline_events = Table(
    "timeline_events",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column(
        "incident_seq",
        _Id,
        ForeignKey("incidents.seq", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    # Writers that may run twice (a playbook step retried after a crash) pass a key; the
    # second insert is a no-op, so each event lands exactly once.
    Column("idempotency_key", String(300), nullable=True, unique=True),
    Index("ix_timeline_events_incident_seq", "incident_seq", "id"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("format", String(32), nullable=False),
    Column("source", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("incident_seq", _Id, ForeignKey("incidents.seq"), nullable=True),
    Column("type", String(32), nullable=True),
    Column("severity", String(8), nullable=True),
    Column("fingerprint", String(64), nullable=True),
    Column("delivery_key", String(300), nullable=True),
    Column("reason", Text, nullable=False, server_default=""),
    Column("payload", JSON, nullable=False),
    Index("ix_alerts_incident_seq", "incident_seq"),
)

# The last delivery seen per (status, delivery key): a repeat of the same state is a
# re-delivery. The primary key makes that check race-free across replicas; a change of
# state deletes the other states' rows, so the next change is accepted again.
deliveries = Table(
    "deliveries",
    metadata,
    Column("key", String(320), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
)

# Which source alerts (series) feed an open incident and whether each still fires, so the
# incident can resolve itself once every one of them has cleared.
incident_alerts = Table(
    "incident_alerts",
    metadata,
    Column("incident_seq", _Id, ForeignKey("incidents.seq"), primary_key=True),
    Column("source_key", String(300), primary_key=True),
    Column("firing", Boolean, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    # A revoked token's name may be used again.
    Index(
        "uq_api_tokens_active_name",
        "name",
        unique=True,
        sqlite_where=text("revoked_at IS NULL"),
        postgresql_where=text("revoked_at IS NULL"),
    ),
)

# -- playbook runs (the durable engine; DBOS keeps its own checkpoints beside these) --------

# A run in one of these states holds its (incident, playbook) slot: one active run each.
ACTIVE_RUN_SQL = "status IN ('pending', 'running', 'waiting_approval') AND dry_run = false"

playbook_runs = Table(
    "playbook_runs",
    metadata,
    # Also the DBOS workflow id of the first execution and the prefix of idempotency keys.
    Column("id", String(40), primary_key=True),
    Column("incident_seq", _Id, ForeignKey("incidents.seq"), nullable=False),
    Column("playbook", String(64), nullable=False),
    Column("playbook_version", String(64), nullable=False),
    Column("playbook_digest", String(64), nullable=False),
    # The frozen playbook (Playbook.freeze()): editing the YAML never changes a run.
    Column("spec", JSON, nullable=False),
    Column("status", String(24), nullable=False),
    Column("dry_run", Boolean, nullable=False, server_default=text("false")),
    Column("trigger", String(16), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("error", Text, nullable=True),
    # A person's "retry step n" starts a new generation under a new workflow id.
    Column("generation", Integer, nullable=False, server_default="0"),
    Column("workflow_id", String(80), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_playbook_runs_incident_seq", "incident_seq", "created_at"),
    Index("ix_playbook_runs_status", "status"),
    Index(
        "uq_playbook_runs_active",
        "incident_seq",
        "playbook",
        unique=True,
        sqlite_where=text(ACTIVE_RUN_SQL),
        postgresql_where=text(ACTIVE_RUN_SQL),
    ),
)

playbook_run_steps = Table(
    "playbook_run_steps",
    metadata,
    Column("run_id", String(40), ForeignKey("playbook_runs.id"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("action", String(128), nullable=False),
    Column("status", String(24), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("started_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("error", Text, nullable=True),
    Column("output", JSON, nullable=True),
    # {"decision", "by", "note", "at"} once a person (or the deadline) decided.
    Column("approval", JSON, nullable=True),
    Column("deadline_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

# One row per engine process; the janitor resumes the runs of executors that stopped beating.
engine_heartbeats = Table(
    "engine_heartbeats",
    metadata,
    Column("executor_id", String(120), primary_key=True),
    Column("hostname", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    # Set once the janitor has handed this executor's runs to another one.
    Column("recovered_at", UTCDateTime, nullable=True),
)

# Evidence items: metadata per item; the bytes live content-addressed (SHA-256) under
# <data_dir>/evidence. Each item's chain_hash covers the previous item's, per incident.
evidence_items = Table(
    "evidence_items",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("incident_seq", _Id, ForeignKey("incidents.seq"), nullable=False),
    Column("n", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("name", String(1000), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=True),
    Column("chain_hash", String(64), nullable=False),
    Column("collected_at", UTCDateTime, nullable=False),
    Column("collected_by", String(200), nullable=False),
    Column("meta", JSON, nullable=False),
    # <run id>:<step index>:<item name>: a re-executed step finds its item already there.
    Column("idempotency_key", String(1200), nullable=True, unique=True),
    # Which rule computed chain_hash (evidence/chain.py): 1 before issue 25, 2 after.
    Column("link_version", Integer, nullable=False, server_default="1"),
    Index("uq_evidence_items_incident_seq_n", "incident_seq", "n", unique=True),
)

# Evidence bytes every replica and worker reads (the database blob store), by SHA-256.
evidence_blobs = Table(
    "evidence_blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Signed checkpoints of evidence chains (evidence/anchor.py), one signed JSON line each.
# No foreign key: a checkpoint outlives whatever happens to the incident's rows.
evidence_checkpoints = Table(
    "evidence_checkpoints",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("incident_seq", _Id, nullable=False, index=True),
    Column("line", Text, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

# Public halves of the keys that signed checkpoints (the private halves never come here).
evidence_keys = Table(
    "evidence_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("public_key", String(100), nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("registered_by", String(200), nullable=False),
)

# The hosts whose evidence anchor failed its last checkpoint write (issue 25): every
# replica's /readyz reads them, so a standalone worker's failure is seen behind the load
# balancer too. A host's row goes when its next checkpoint write succeeds.
evidence_anchor_failures = Table(
    "evidence_anchor_failures",
    metadata,
    Column("writer", String(200), primary_key=True),
    Column("error", Text, nullable=False),
    Column("failed_at", UTCDateTime, nullable=False),
)

# Secrets every replica must share, made once by whichever starts first (the console's
# session key when none is configured).
shared_secrets = Table(
    "shared_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Storm budgets counted across replicas: uses per (scope, key, minute window).
storm_counters = Table(
    "storm_counters",
    metadata,
    Column("scope", String(16), primary_key=True),
    Column("key", String(300), primary_key=True),
    Column("window_start", BigInteger, primary_key=True),
    Column("used", Integer, nullable=False),
)

# What defib enforces on each protected system; every gateway replica polls this row.
system_state = Table(
    "system_state",
    metadata,
    Column("system", String(100), primary_key=True),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    Column("disabled_by", _Id, nullable=True),
    Column("disabled_reason", Text, nullable=False, server_default=""),
    Column("active_version", String(200), nullable=True),
    Column("filters", JSON, nullable=False),
    Column("revision", Integer, nullable=False, server_default=text("0")),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
)

# Model versions per system: what people marked them, and when each was in service.
model_versions = Table(
    "model_versions",
    metadata,
    Column("system", String(100), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("ordinal", Integer, nullable=False),
    Column("status", String(16), nullable=False, server_default="unknown"),
    Column("marked_by", String(200), nullable=True),
    Column("marked_at", UTCDateTime, nullable=True),
    Column("note", Text, nullable=False, server_default=""),
    Column("first_served_at", UTCDateTime, nullable=True),
    Column("last_served_at", UTCDateTime, nullable=True),
)

# Completions the gateway sampled; prompt and response are masked at rest unless a system
# is configured otherwise (`masked` says which). Read by collect_evidence and
# assess_data_impact; pruned after the system's retention.
captures = Table(
    "captures",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("system", String(100), nullable=False),
    Column("version", String(200), nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("request_id", String(100), nullable=False),
    Column("user_id", String(200), nullable=True),
    Column("endpoint", String(50), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("response", Text, nullable=False),
    Column("masked", Boolean, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("streamed", Boolean, nullable=False),
    Column("blocked", Boolean, nullable=False),
    # [{"detector", "entity", "count"}]: what inline detection found (never the values).
    Column("findings", JSON, nullable=False),
    Index("ix_captures_system_at", "system", "at"),
    Index("ix_captures_at", "at"),
)

# Silences and maintenance windows (Alertmanager's model plus an optional weekly schedule).
# Expiring one sets ends_at to now; rows are kept, as Alertmanager keeps expired silences.
silences = Table(
    "silences",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("matchers", JSON, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("comment", Text, nullable=False, server_default=""),
    Column("updated_at", UTCDateTime, nullable=False),
    # {"days", "start", "duration_minutes"} for a weekly maintenance window.
    Column("schedule", JSON, nullable=True),
    # A maintenance window from the config: its name (kept in step with the config at start).
    Column("name", String(100), nullable=True, unique=True),
    Index("ix_silences_ends_at", "ends_at"),
)

# Who changed what outside any one incident: silences added, changed and expired, and data
# leaks told to security while a silence kept them from opening an incident. Append-only.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("kind", String(64), nullable=False),
    # What it is about (a silence id, an alert's dedup key), for filtering by eye.
    Column("subject", String(200), nullable=False, server_default=""),
    Column("data", JSON, nullable=False),
    Index("ix_audit_events_kind", "kind", "id"),
)

# On-call overrides (docs/oncall.md): `person` holds `schedule` from starts_at to ends_at,
# over every rotation. Deleting one sets deleted_at; rows are kept for the record.
oncall_overrides = Table(
    "oncall_overrides",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("schedule", String(100), nullable=False),
    Column("person", String(100), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("comment", Text, nullable=False, server_default=""),
    Column("deleted_at", UTCDateTime, nullable=True),
    Index("ix_oncall_overrides_schedule", "schedule", "ends_at"),
)

# PagerDuty v3 webhook events already applied (their `event.id`): a replayed delivery is
# answered without acting twice.
pagerduty_webhook_events = Table(
    "pagerduty_webhook_events",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
)
