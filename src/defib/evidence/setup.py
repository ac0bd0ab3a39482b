"""The blob store and checkpoint anchor the settings describe (wired once per process).

Credentials named by `*_env` settings are looked up in `secrets`, the environment mapping
the composition root read (`Runtime.secrets`); nothing here reads the process environment.
"""

from __future__ import annotations

from collections.abc import Mapping

from defib.config import Settings
from defib.evidence.anchor import Anchor
from defib.evidence.blobs import (
    BlobStorage,
    DatabaseBlobStore,
    FileBlobStore,
    LayeredBlobStore,
)
from defib.evidence.checkpoints import (
    CheckpointLog,
    DatabaseCheckpointLog,
    FileCheckpointLog,
    Mirror,
    WebhookMirror,
)
from defib.evidence.s3 import S3BlobStore
from defib.evidence.signer import Ed25519Signer, RemoteSigner, Signer, load_or_create_key
from defib.store.database import Database


def _shared(choice: str, db: Database) -> bool:
    """Whether `auto`/`database`/`file` means the database: auto does on PostgreSQL, where
    several replicas and workers with their own disks must read the same evidence."""
    return choice == "database" or (choice == "auto" and not db.is_sqlite)


def build_blobs(settings: Settings, db: Database, secrets: Mapping[str, str]) -> BlobStorage:
    files = FileBlobStore(settings.data_dir / "evidence")
    s3 = settings.evidence_anchor.s3
    if settings.evidence_anchor.blob_store == "s3" and s3 is not None:
        return LayeredBlobStore(
            S3BlobStore(
                str(s3.endpoint_url),
                s3.bucket,
                access_key=secrets.get(s3.access_key_env, ""),
                secret_key=secrets.get(s3.secret_key_env, ""),
                region=s3.region,
                prefix=s3.prefix,
            ),
            files,
        )
    if _shared(settings.evidence_anchor.blob_store, db):
        # Bytes stored on this host before the database became the default still verify.
        return LayeredBlobStore(DatabaseBlobStore(db), files)
    return files


def build_anchor(settings: Settings, db: Database, secrets: Mapping[str, str]) -> Anchor | None:
    """The anchor the settings describe (None when `evidence_anchor.enabled` is false).

    The signing key is loaded on first use, so reading evidence never needs it."""
    cfg = settings.evidence_anchor
    if not cfg.enabled:
        return None
    key_file = cfg.key_file or settings.data_dir / "evidence-anchor.key"

    def signer() -> Signer:
        if cfg.signer_url is not None:
            token = secrets.get(cfg.signer_token_env) if cfg.signer_token_env else None
            return RemoteSigner(str(cfg.signer_url), token=token)
        return Ed25519Signer(load_or_create_key(key_file, cfg.key_env, secrets))

    log: CheckpointLog
    if _shared(cfg.store, db):
        log = DatabaseCheckpointLog(db)
    else:
        log = FileCheckpointLog(cfg.log_file or settings.data_dir / "evidence-checkpoints.jsonl")
    mirrors: list[Mirror] = []
    for m in cfg.mirrors:
        if m.path is not None:
            mirrors.append(FileCheckpointLog(m.path))
        elif m.url is not None:
            secret = secrets.get(m.secret_env) if m.secret_env else None
            mirrors.append(WebhookMirror(str(m.url), secret=secret, timeout=m.timeout_seconds))
    return Anchor(signer, log, mirrors=mirrors, db=db, pinned=cfg.trusted_keys)


def trust_warnings(settings: Settings, db: Database) -> list[str]:
    """What to say at start about who could re-sign checkpoints (logged, shown on /readyz)."""
    cfg = settings.evidence_anchor
    if cfg.enabled and not cfg.trusted_keys and _shared(cfg.store, db):
        return [
            "evidence checkpoints are verified with every key registered in the database: "
            "whoever can write the database can register a key and re-sign them; pin "
            "evidence_anchor.trusted_keys (docs/security.md)"
        ]
    return []
