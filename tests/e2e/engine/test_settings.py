"""The engine's `engine:` settings section: validated at start, the key named, env overrides."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from defib.bootstrap import Runtime
from defib.config import ConfigError, load_settings
from defib.testing import defib_executable, free_port


def _defib(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DEFIB_")}
    return subprocess.run(
        [defib_executable(), *args],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_refuses_a_bad_engine_value_naming_the_key(tmp_path: Path) -> None:
    out = _defib(
        tmp_path,
        "serve",
        "--port",
        str(free_port()),
        env={"DEFIB_ENGINE_POLL_SECONDS": "fast", "DEFIB_HOME": str(tmp_path / "home")},
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1
    assert out.stderr.startswith("defib: error:") and "engine.poll_seconds:" in out.stderr
    assert not (tmp_path / "home" / "defib.db").exists()


def test_worker_refuses_a_heartbeat_ttl_shorter_than_the_beat(tmp_path: Path) -> None:
    cfg = tmp_path / "defib.yaml"
    cfg.write_text("engine:\n  heartbeat_seconds: 5\n  heartbeat_ttl_seconds: 3\n")
    out = _defib(tmp_path, "worker", "--config", str(cfg), env={})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1
    assert "engine.heartbeat_ttl_seconds: must exceed heartbeat_seconds (5), got 3" in out.stderr


def test_environment_beats_the_file_key_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "defib.yaml"
    cfg.write_text("engine:\n  sweep_seconds: 9\n  concurrency: 7\n")
    monkeypatch.setenv("DEFIB_ENGINE_SWEEP_SECONDS", "0.25")
    engine = load_settings(cfg, data_dir=tmp_path).engine
    assert (engine.sweep_seconds, engine.concurrency) == (0.25, 7)
    assert engine.poll_seconds == 0.05  # unset: the default


def test_unknown_or_out_of_range_engine_keys_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFIB_ENGINE_SWEEP_SECOND", "1")
    with pytest.raises(ConfigError, match=r"engine\.sweep_second: unknown key"):
        load_settings(None, data_dir=tmp_path)
    monkeypatch.delenv("DEFIB_ENGINE_SWEEP_SECOND")
    monkeypatch.setenv("DEFIB_ENGINE_CONCURRENCY", "0")
    with pytest.raises(ConfigError, match=r"engine\.concurrency: Input should be greater"):
        load_settings(None, data_dir=tmp_path)


def test_the_runtime_engine_runs_with_the_settings_section(
    make_runtime: Callable[..., Runtime],
) -> None:
    rt = make_runtime()
    # tests/engine/conftest.py sets DEFIB_ENGINE_SWEEP_SECONDS=0.5 and friends.
    assert rt.engine.tuning is rt.settings.engine
    assert rt.engine.tuning.sweep_seconds == 0.5
    assert rt.engine.tuning.heartbeat_ttl_seconds == 3
    assert rt.engine.environment is rt.actions_env
