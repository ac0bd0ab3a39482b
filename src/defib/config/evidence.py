"""The `evidence_anchor:` section: signed checkpoints of every evidence chain, where they and
the evidence bytes are kept, and the external mirrors (docs/security.md)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from defib.config.fields import EnvName, HttpUrl, Section


class S3Target(Section):
    """An S3-compatible bucket (AWS S3, MinIO, Ceph): path-style requests signed with SigV4."""

    endpoint_url: HttpUrl
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+$")
    region: str = "us-east-1"
    prefix: str = Field(default="", max_length=200, description="Key prefix, e.g. `defib/`.")
    access_key_env: EnvName = "AWS_ACCESS_KEY_ID"
    secret_key_env: EnvName = "AWS_SECRET_ACCESS_KEY"


class CheckpointMirror(Section):
    """An external append-only copy of the checkpoints: a webhook (`url`) or a file (`path`)."""

    url: HttpUrl | None = Field(default=None, description="POST each checkpoint as JSON.")
    secret_env: EnvName | None = Field(
        default=None, description="HMAC-SHA256 key for the webhook's X-Defib-Signature."
    )
    path: Path | None = Field(
        default=None, description="Append each checkpoint as a line (verify reads it too)."
    )
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _one_target(self) -> CheckpointMirror:
        if (self.url is None) == (self.path is None):
            raise ValueError("set exactly one of url (a webhook) or path (a file)")
        return self


class EvidenceAnchorSettings(Section):
    """Signed checkpoints of every evidence chain, outside the database (docs/security.md)."""

    enabled: bool = True
    key_file: Path | None = Field(
        default=None,
        description="Ed25519 signing key, base64 (default <data_dir>/evidence-anchor.key, "
        "created 0600).",
    )
    key_env: EnvName | None = Field(
        default=None, description="Environment variable holding the key instead of a file."
    )
    signer_url: HttpUrl | None = Field(
        default=None,
        description="A KMS-style signing service (GET /public-key, POST /sign) instead of "
        "a key on this host; wins over key_env and key_file.",
    )
    signer_token_env: EnvName | None = Field(
        default=None, description="Environment variable with the signing service's bearer token."
    )
    log_file: Path | None = Field(
        default=None,
        description="Append-only checkpoint log (default <data_dir>/evidence-checkpoints.jsonl).",
    )
    # Issue 25: several replicas and workers must read the same checkpoints and bytes.
    store: Literal["auto", "database", "file"] = Field(
        default="auto",
        description="Where checkpoints are kept: auto = the database on PostgreSQL (every "
        "replica reads it), the log file on SQLite.",
    )
    blob_store: Literal["auto", "database", "file", "s3"] = Field(
        default="auto",
        description="Where evidence bytes are kept: auto = the database on PostgreSQL, "
        "<data_dir>/evidence on SQLite; s3 = the bucket in `s3`.",
    )
    s3: S3Target | None = Field(default=None, description="The bucket for blob_store: s3.")
    trusted_keys: list[str] = Field(
        default_factory=list,
        description="Base64 Ed25519 public keys whose checkpoints verify (besides this "
        "process's own key). Empty: every key registered in the database is trusted.",
    )
    mirrors: list[CheckpointMirror] = Field(
        default_factory=list,
        description="Append-only sinks every checkpoint is also written to before the step "
        "that collected the evidence succeeds.",
    )

    @field_validator("trusted_keys")
    @classmethod
    def _public_keys(cls, v: list[str]) -> list[str]:
        # Checked here, so a typo is a config error at start, not a crash on first verify.
        for i, text in enumerate(v):
            try:
                raw = base64.b64decode(text.strip(), validate=True)
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise ValueError(f"item {i}: not a base64 Ed25519 public key (32 bytes)")
        return v

    @model_validator(mode="after")
    def _bucket_for_s3(self) -> EvidenceAnchorSettings:
        if self.blob_store == "s3" and self.s3 is None:
            raise ValueError("blob_store s3 needs the bucket in evidence_anchor.s3")
        return self
