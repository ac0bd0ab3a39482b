"""The Runtime is the composition root: it builds each service once and hands the same
instance to the actions, the API and the console."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from defib.bootstrap import Runtime


def test_the_actions_environment_carries_the_runtimes_own_services(
    make_runtime: Callable[..., Runtime],
) -> None:
    rt = make_runtime()
    env = rt.actions_env
    assert env.control is rt.control
    assert env.evidence is rt.evidence
    assert env.incidents is rt.incidents
    assert env.secrets is rt.secrets is os.environ
    assert rt.engine.environment is env
    # The console's and the API's system changes go through the same control service.
    assert rt.system_changes.control is rt.control


def test_actions_and_services_share_the_runtimes_clock(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Swapping the incident service's clock (as tests and the demo do) moves every
    service the Runtime built, actions included."""
    rt = make_runtime()
    pinned = rt.incidents.clock()
    rt.incidents.clock = lambda: pinned
    assert rt.actions_env.clock() == pinned
    assert rt.control.clock() == pinned


def test_the_engines_process_knobs_are_read_at_the_root(
    make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """$DEFIB_EXECUTOR_ID (the id `defib serve`, the Responder and the demo start their
    worker with) and $DEFIB_DBOS_LOG_LEVEL are read by the Runtime and handed down."""
    monkeypatch.delenv("DEFIB_EXECUTOR_ID", raising=False)
    monkeypatch.delenv("DEFIB_DBOS_LOG_LEVEL", raising=False)
    plain = make_runtime()
    assert plain.executor_id is None
    assert plain.engine.host.log_level == "WARNING"
    monkeypatch.setenv("DEFIB_EXECUTOR_ID", "worker-7")
    monkeypatch.setenv("DEFIB_DBOS_LOG_LEVEL", "DEBUG")
    rt = make_runtime()
    assert rt.executor_id == "worker-7"
    assert rt.engine.host.log_level == "DEBUG"
