"""The Runtime is the composition root: it builds each service once and hands the same
instance to the actions, the API and the console."""

from __future__ import annotations

import os
from collections.abc import Callable

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
