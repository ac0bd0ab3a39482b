"""Where signed checkpoint lines are kept and copied to.

- `DatabaseCheckpointLog`: a table every replica and worker reads (default on PostgreSQL).
- `FileCheckpointLog`: an append-only JSON-lines file (default on SQLite, one host). A line
  torn by a crash mid-write is skipped with a warning when read, and the next append starts
  on a fresh line, so one torn line never spoils any other checkpoint.
- Mirrors: every checkpoint is also written to each configured sink before the step that
  collected the evidence succeeds: a webhook (Standard Webhooks signed POST; the receiver
  keeps an append-only copy) or a file (which verify reads too).

Lines are the signed checkpoint documents; what they mean is `anchor.py`'s business.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from defib.integrations.signing import IDEMPOTENCY_HEADER, signature_headers
from defib.integrations.tls import verify_context
from defib.store import evidence as repo
from defib.store.database import Database

Doc = dict[str, Any]
_INCIDENT = re.compile(rb'"incident":\s*(\d+)')


class CheckpointLog(Protocol):
    def append(self, incident_seq: int, line: str) -> None: ...

    def read(self, incident_seq: int) -> tuple[list[Doc], list[str]]:
        """This incident's checkpoint documents, oldest first, and warnings."""
        ...

    def probe(self) -> str | None:
        """Why an append would fail now (None: it should succeed)."""
        ...


class Mirror(Protocol):
    name: str

    def append(self, incident_seq: int, line: str) -> None: ...


class DatabaseCheckpointLog:
    """Checkpoints in the `evidence_checkpoints` table, shared by every process."""

    name = "database"

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, incident_seq: int, line: str) -> None:
        at = datetime.now(UTC)
        self.db.transact(lambda conn: repo.insert_checkpoint(conn, incident_seq, line, at))

    def read(self, incident_seq: int) -> tuple[list[Doc], list[str]]:
        with self.db.read() as conn:
            lines = repo.checkpoint_lines(conn, incident_seq)
        docs: list[Doc] = []
        warnings: list[str] = []
        for row_id, line in lines:
            doc = _parse(line.encode())
            if doc is None:
                warnings.append(f"checkpoint row {row_id} is not a checkpoint; skipped")
            else:
                docs.append(doc)
        return docs, warnings

    def probe(self) -> str | None:
        return None  # the database's own readiness check covers it


class FileCheckpointLog:
    """An append-only JSON-lines file (0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file {path.name}"
        self._lock = threading.Lock()

    def append(self, incident_seq: int, line: str) -> None:
        """One write() of one line (O_APPEND, fsync), so lines of two writers never mix."""
        data = line.encode() + b"\n"
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    # The last write was torn (a crash, a full disk): end that fragment so
                    # this checkpoint is a line of its own and stays readable.
                    data = b"\n" + data
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self, incident_seq: int) -> tuple[list[Doc], list[str]]:
        docs: list[Doc] = []
        warnings: list[str] = []
        try:
            lines = list(_raw_lines(self.path))
        except OSError as exc:
            # Its items then count as unanchored: verify fails, saying why here.
            return [], [f"the checkpoint log {self.path.name} cannot be read ({exc.strerror})"]
        for lineno, raw in lines:
            doc = _parse(raw)
            if doc is None:
                # Only this incident's own torn lines concern it; another incident's (or an
                # unreadable one's) never make this verify fail.
                found = _INCIDENT.search(raw)
                if found is None or int(found.group(1)) == incident_seq:
                    warnings.append(
                        f"{self.path.name} line {lineno} is not a complete checkpoint (a torn "
                        "write?); skipped"
                    )
                continue
            if doc.get("incident") == incident_seq:
                docs.append(doc)
        return docs, warnings

    def probe(self) -> str | None:
        target = self.path if self.path.exists() else self.path.parent
        if not os.access(target, os.W_OK):
            return f"the checkpoint log {self.path.name} cannot be written"
        return None


class WebhookMirror:
    """POSTs each checkpoint to a receiver that keeps an append-only copy."""

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.name = f"webhook {httpx.URL(url).host}"
        self.secret = secret
        self.timeout = timeout
        self.transport = transport

    def append(self, incident_seq: int, line: str) -> None:
        body = line.encode()
        # The same checkpoint resent after a failure carries the same id: receivers dedupe.
        message_id = "ckpt_" + hashlib.sha256(body).hexdigest()[:32]
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: message_id}
        if self.secret:
            headers.update(signature_headers(body, self.secret, message_id))
        # The process's TLS context: an operator's CA bundle applies to the mirror too.
        with httpx.Client(
            transport=self.transport, timeout=self.timeout, verify=verify_context()
        ) as client:
            response = client.post(self.url, content=body, headers=headers)
        if response.status_code >= 300:
            raise OSError(f"checkpoint {self.name} answered {response.status_code}")


def _parse(raw: bytes) -> Doc | None:
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _raw_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            if raw.strip():
                yield lineno, raw
