"""The key that signs console session cookies: from settings, else generated once on disk."""

from __future__ import annotations

import os
import secrets

from defib.config import Settings


def session_secret(settings: Settings) -> str:
    """`session_secret` if configured; otherwise the data dir's `session-secret` (mode 0600).

    Every replica must sign with the same key, so several replicas either configure it or
    share the data dir; a single process just creates it on first start.
    """
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
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
