"""A silence covering every system of an incident skips notify_team, never notify_security_team."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from defib.bootstrap import Runtime
from defib.model import IncidentType
from defib.playbooks.runs import RunStatus
from defib.silences import parse_matchers
from defib.silences.service import SilenceDraft
from tests.support.actions import systems_config
from tests.support.actions.peers import HttpPeer, MailPeer
from tests.support.engine import declare, only_run, wait_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _silence(rt: Runtime, *matchers: str) -> str:
    now = datetime.now(UTC)
    draft = SilenceDraft(parse_matchers(matchers), now, now + timedelta(hours=1), "t", "rollout")
    return rt.silences.put(draft, "tester", admin=True).id


def test_silenced_systems_skip_team_notifications_but_not_security_ones(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """notify_team of a silenced system's incident is skipped with the silence on the timeline
    and nothing is sent; a data leak's notify_security_team still pages and emails."""
    monkeypatch.setenv("TEST_HOOK_SECRET", "hook-secret")
    rt = make_runtime(**systems_config(http_peer, mail_peer))
    sid = _silence(rt, "system=chat-api")
    start_worker(rt)
    inc = declare(rt, IncidentType.PERFORMANCE, systems=("chat-api",), title="p99 latency 9s")
    run = wait_run(rt, only_run(rt, inc).id)
    notify = run.steps[0]
    assert notify.name == "notify_team" and notify.status is RunStatus.SKIPPED, notify
    skipped = [e.data for e in rt.incidents.timeline(inc) if e.kind.endswith("_skipped")]
    assert [e["silenced_by"] for e in skipped if "silenced_by" in e] == [[sid]]
    assert http_peer.requests == [] and mail_peer.mails == []

    leak = declare(rt, IncidentType.DATA_LEAK, systems=("chat-api",), title="SSNs in replies")
    run = wait_run(
        rt, only_run(rt, leak).id, until=lambda r: r.steps[2].status is not RunStatus.PENDING
    )
    assert run.steps[1].name == "notify_security_team"
    assert run.steps[1].status is RunStatus.SUCCEEDED
    assert http_peer.at("/pd/v2/enqueue") and mail_peer.mails
