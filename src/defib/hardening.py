"""What defib checks about its own footing at start: file modes and insecure settings.

The data directory holds the SQLite database, the admin token, evidence blobs and the
checkpoint key: everything the API shows to admins only. defib creates it 0700 and its
files 0600 (blobs 0400: written once); at start it warns, without changing anything, when
an existing directory or file is readable by other local users, because an operator may
have loosened them on purpose (a backup user's group) and silently undoing that would
surprise them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from defib.config import Settings

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SAMPLE_LIMIT = 2000  # entries looked at under evidence/: a start must stay quick


def private_dir(path: Path) -> None:
    """Create `path` (and missing parents) as 0700; an existing one is left as it is."""
    if path.is_dir():
        return
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    # mkdir's mode is masked by the umask; say it exactly.
    os.chmod(path, PRIVATE_DIR)


def private_file(path: Path) -> None:
    """Create an empty `path` as 0600 if it does not exist (SQLite then keeps the mode,
    and gives its -wal and -shm files the same)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    os.close(fd)


def _loose(path: Path) -> int | None:
    """The group/other permission bits of `path`, or None when there are none (or no file)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return mode if mode & 0o077 else None


def loose_modes(data_dir: Path, sqlite_files: list[Path]) -> list[str]:
    """One warning per file or directory other local users can read or enter."""
    found: list[str] = []

    def check(path: Path, what: str) -> None:
        mode = _loose(path)
        if mode is not None:
            found.append(f"{what} {path} is mode {mode:04o}: other local users can read it")

    check(data_dir, "the data directory")
    for f in sqlite_files:
        for extra in ("", "-wal", "-shm"):
            check(f.with_name(f.name + extra), "the database file")
    check(data_dir / "admin-token", "the admin token")
    # Secrets and the checkpoint log kept beside it by default (issue 25: these were missed).
    for name, what in (
        ("session-secret", "the console's session secret"),
        ("evidence-anchor.key", "the evidence signing key"),
        ("evidence-checkpoints.jsonl", "the evidence checkpoint log"),
    ):
        check(data_dir / name, what)
    evidence = data_dir / "evidence"
    seen = 0
    if evidence.is_dir():
        check(evidence, "the evidence directory")
        for root, dirs, files in os.walk(evidence):
            for name in dirs + files:
                seen += 1
                if seen > SAMPLE_LIMIT:
                    return found
                before = len(found)
                check(Path(root) / name, "evidence")
                if len(found) > before and len(found) > 5:
                    found.append("(more evidence files are readable by others; stopped here)")
                    return found
    return found


def anonymous_warnings(settings: Settings) -> list[str]:
    """What `gateway.allow_anonymous` opens up (logged at start, shown on /readyz)."""
    if not settings.gateway.allow_anonymous:
        return []
    open_ = [s.name for s in settings.systems if not s.gateway.api_key_hashes]
    if not open_:
        return []
    return [
        "gateway.allow_anonymous is on: any caller may use "
        + ", ".join(open_)
        + " without a client key (list gateway.api_key_hashes per system to close it)"
    ]
