"""The storm's plan and its checks, on made-up observations (no processes)."""

from __future__ import annotations

from typing import Any

from bench.drill.invariants import Observed, check, step_of
from bench.drill.peers import Delivery, Mail
from bench.drill.schedule import approves, plan


def test_one_seed_gives_one_schedule_and_another_seed_another() -> None:
    a, b = plan(7, ("serve", "worker-1"), 40), plan(7, ("serve", "worker-1"), 40)
    assert a == b
    assert plan(8, ("serve", "worker-1"), 40).kills != a.kills
    assert {k.target for k in a.kills} == {"serve", "worker-1"}
    assert a.waves[0] == 0 and len(a.waves) == 8 and max(a.waves) < 40


def test_most_kills_wait_for_readiness_and_a_share_lands_while_starting() -> None:
    """Blind kills alone would hit processes still starting nearly every time (the API
    would never answer); the default plan keeps about a quarter of them."""
    kills = plan(11, ("serve",), 400).kills
    blind = sum(not k.from_ready for k in kills)
    assert 60 < blind < 140, blind
    assert all(k.from_ready for k in plan(11, ("serve",), 50, blind=0.0).kills)


def test_an_alert_defib_never_accepts_is_recorded_and_the_poster_goes_on() -> None:
    """Nothing listens on the port: each alert is given up after the poster's patience and
    listed (the storm makes them violations); the thread still ends when closed."""
    from bench.drill.storm import Api, Poster

    from defib.testing import free_port

    poster = Poster(Api(f"http://127.0.0.1:{free_port()}"), patience=0.3)
    poster.start()
    poster.submit([{"title": "first"}, {"title": "second"}])
    poster.close()
    poster.join(timeout=30)
    assert not poster.is_alive()
    assert [u.split(" never")[0] for u in poster.unposted] == ["alert 'first'", "alert 'second'"]
    assert poster.incidents == set()


def test_the_responder_decides_a_step_the_same_way_every_time() -> None:
    keys = [f"r{i}:2" for i in range(200)]
    assert [approves(k) for k in keys] == [approves(k) for k in keys]
    assert 0 < sum(not approves(k) for k in keys) < 100


def run(status: str = "succeeded", ended: str = "2026-01-01T00:00:10+00:00") -> dict[str, Any]:
    step = {
        "index": 0,
        "name": "page",
        "action": "webhook",
        "status": status,
        "ended_at": ended if status == "succeeded" else None,
        "error": None,
        "approval": None,
    }
    return {
        "id": "r1",
        "incident_id": "INC-1",
        "playbook": "storm",
        "status": status,
        "error": None,
        "steps": [step],
    }


def observed(runs: list[dict[str, Any]], webhook: list[Delivery], **kw: Any) -> Observed:
    events = [{"kind": "run_finished", "actor": "run:r1", "data": {}}, *kw.get("events", [])]
    return Observed(
        runs=runs,
        incidents=1,
        terminal_after={"r1": 2.0},
        timelines={"INC-1": events},
        webhook=webhook,
        slack=kw.get("slack", []),
        pagerduty=[],
        mails=kw.get("mails", []),
        active_versions={},
        decided_by="storm-responder",
    )


AT_END = 1767225610.0  # 2026-01-01T00:00:10Z


def test_a_clean_storm_passes() -> None:
    report = check(observed([run()], [Delivery("/first", "r1:0", b"{}", AT_END - 1, 200)]))
    assert report.ok, report.violations
    assert report.figures["max_seconds_to_terminal_after_last_restart"] == 2.0


def test_a_run_that_never_ends_fails_the_storm() -> None:
    report = check(observed([run("running")], []))
    assert any("never ended" in v for v in report.violations)


def test_a_run_the_reconciler_failed_is_finished_once_by_the_reconciler() -> None:
    """Its run_finished is the reconciler's (actor defib:reconciler, data.run_id); counted as
    the run's one finish, and the run counted as failed by the reconciler."""
    failed = {**run("failed"), "error": "reconciled: its workflow exhausted its recovery attempts"}
    finish = {"kind": "run_finished", "actor": "defib:reconciler", "data": {"run_id": "r1"}}
    seen = observed([failed], [], events=[finish])
    seen.timelines["INC-1"] = [finish]  # not the run's own run_finished
    report = check(seen)
    assert not any("run_finished" in v for v in report.violations), report.violations
    assert report.figures["runs_failed_by_reconciler"] == 1
    seen.timelines["INC-1"] = []
    assert any("0 run_finished" in v for v in check(seen).violations)


def test_a_delivery_after_its_step_ended_fails_the_storm() -> None:
    """A completed step ran again: its key arrived after the step's ended_at."""
    late = Delivery("/first", "r1:0", b"{}", AT_END + 0.5, 200)
    report = check(observed([run()], [Delivery("/first", "r1:0", b"{}", AT_END - 1, 200), late]))
    assert any("after its step ended" in v for v in report.violations), report.violations


def test_a_succeeded_webhook_its_receiver_never_saw_fails_the_storm() -> None:
    report = check(observed([run()], []))
    assert any("never reached" in v for v in report.violations)


def test_slack_and_mail_duplicates_are_counted_not_failed() -> None:
    slack = [Delivery("/s", "r1:0:slack:x", b"{}", AT_END - 2, 200)] * 2
    mails = [Mail("<r1.0.email.y@example.org>", "r1:0:email:y", ("a@b.c",), AT_END - 2)] * 3
    webhook = [Delivery("/first", "r1:0", b"{}", AT_END - 1, 200)]
    report = check(observed([run()], webhook, slack=slack, mails=mails))
    assert report.ok, report.violations
    assert report.figures["slack"]["duplicates"] == 1
    assert report.figures["email"]["duplicates"] == 2
    # No confirmation on these timelines says in_doubt: both repeats are unflagged.
    assert report.figures["slack"]["duplicates_not_in_doubt"] == ["r1:0:slack:x"]
    assert report.figures["email"]["duplicates_not_in_doubt"] == ["r1:0:email:y"]


def test_a_repeat_the_timeline_flags_in_doubt_is_not_listed_as_unflagged() -> None:
    slack = [Delivery("/s", "r1:0:slack:x", b"{}", AT_END - 2, 200)] * 2
    sent = {
        "kind": "run_step_notification_sent",
        "actor": "run:r1",
        "data": {"channel": "slack", "idempotency_key": "r1:0:slack:x", "in_doubt": True},
    }
    webhook = [Delivery("/first", "r1:0", b"{}", AT_END - 1, 200)]
    report = check(observed([run()], webhook, slack=slack, events=[sent]))
    assert report.figures["slack"]["resent_in_doubt"] == 1
    assert report.figures["slack"]["duplicates_not_in_doubt"] == []


def test_effect_keys_name_their_run_and_step() -> None:
    assert step_of("r1:3:slack:abc") == ("r1", 3)
    assert step_of("nonsense") is None
