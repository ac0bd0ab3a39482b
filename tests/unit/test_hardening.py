"""The start-up mode check covers every secret defib keeps in its data directory."""

from __future__ import annotations

from pathlib import Path

from defib.hardening import loose_modes


def test_loose_secrets_and_checkpoint_log_are_warned_about(tmp_path: Path) -> None:
    """session-secret, evidence-anchor.key and the checkpoint log readable by others: warned
    (issue 25: the check looked at the database files and the admin token only)."""
    tmp_path.chmod(0o700)
    names = ("session-secret", "evidence-anchor.key", "evidence-checkpoints.jsonl")
    for name in names:
        (tmp_path / name).write_text("x")
        (tmp_path / name).chmod(0o600)
    assert loose_modes(tmp_path, []) == []
    for name in names:
        (tmp_path / name).chmod(0o644)
    warned = "\n".join(loose_modes(tmp_path, []))
    for name in names:
        assert f"{name} is mode 0644" in warned
