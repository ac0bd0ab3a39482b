"""The key that signs console session cookies: from settings, else generated once and kept
in the database (every replica behind a load balancer must sign with the same key; with
their own data directories a file each would refuse each other's sessions, issue 25)."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

from defib.config import Settings
from defib.store import secrets as secrets_repo
from defib.store.database import Database

SECRET_NAME = "console-session"


def session_secret(settings: Settings, db: Database | None = None) -> str:
    """`session_secret` if configured; otherwise the database's shared one (created on first
    start; a `session-secret` file from before seeds it, so existing sessions survive), or,
    without a database, the data dir's `session-secret` file (mode 0600)."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    if db is not None:
        try:
            candidate = settings.session_secret_path.read_text(encoding="utf-8").strip()
        except OSError:
            candidate = ""
        with db.write() as conn:
            return secrets_repo.get_or_create(
                conn, SECRET_NAME, candidate or secrets.token_urlsafe(48), datetime.now(UTC)
            )
    path = settings.session_secret_path
    try:
        existing = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        # O_EXCL: of two processes starting at once, one writes and the other reads its key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return value
