"""The storm's on-call checks, on made-up observations (no processes): each page key
delivered once, every page on the timeline received, nothing after paging stopped, one
escalation run per incident."""

from __future__ import annotations

from typing import Any

from bench.drill.invariants import Observed, check
from bench.drill.peers import Delivery

T0 = 1767225600.0  # 2026-01-01T00:00:00Z
KEY1 = "INC-1:page:storm-oncall:1:0:pager-a:webhook"
KEY2 = "INC-1:page:storm-oncall:2:0:pager-b:webhook"


def _run(run_id: str, playbook: str) -> dict[str, Any]:
    return {
        "id": run_id,
        "incident_id": "INC-1",
        "playbook": playbook,
        "status": "succeeded",
        "error": None,
        "steps": [],
    }


def _sent(key: str, at: str = "2026-01-01T00:00:01+00:00") -> dict[str, Any]:
    return {
        "kind": "page_sent",
        "actor": "run:e1",
        "at": at,
        "data": {"channel": "webhook", "idempotency_key": key},
    }


def _seen(pages: list[Delivery], events: list[dict[str, Any]], runs: Any = None) -> Observed:
    finished = [
        {"kind": "run_finished", "actor": f"run:{r}", "at": "2026-01-01T00:00:09+00:00", "data": {}}
        for r in ("r1", "e1")
    ]
    return Observed(
        runs=runs if runs is not None else [_run("r1", "storm"), _run("e1", "oncall-storm-oncall")],
        incidents=1,
        terminal_after={"r1": 1.0, "e1": 1.0},
        timelines={"INC-1": finished + events},
        webhook=pages,
        slack=[],
        pagerduty=[],
        mails=[],
        active_versions={},
        decided_by="storm-responder",
    )


def _page(key: str, at: float, person: str = "pager-a") -> Delivery:
    return Delivery(f"/page/{person}", key, b"{}", at, 200)


def test_pages_each_received_once_pass_and_a_redelivery_is_counted() -> None:
    pages = [_page(KEY1, T0 + 1), _page(KEY1, T0 + 1.2), _page(KEY2, T0 + 3, "pager-b")]
    report = check(_seen(pages, [_sent(KEY1), _sent(KEY2)]))
    assert report.ok, report.violations
    figures = report.figures["pages"]
    assert figures["keys"] == 2 and figures["redeliveries_deduplicated"] == 1
    assert figures["by_level_repeat"] == {"1:0": 1, "2:0": 1}
    assert report.figures["escalation_runs"] == 1
    assert report.figures["webhook"]["deliveries"] == 0  # pages are not playbook webhooks


def test_a_page_on_the_timeline_never_received_fails_the_storm() -> None:
    report = check(_seen([_page(KEY1, T0 + 1)], [_sent(KEY1), _sent(KEY2)]))
    assert report.violations == [f"page {KEY2}: on the timeline as sent, never received"]


def test_a_page_after_paging_stopped_fails_the_storm() -> None:
    stopped = {
        "kind": "paging_stopped",
        "actor": "run:e1",
        "at": "2026-01-01T00:00:02+00:00",
        "data": {"reason": "INC-1 is acknowledged"},
    }
    pages = [_page(KEY1, T0 + 1), _page(KEY2, T0 + 2.5, "pager-b")]
    report = check(_seen(pages, [_sent(KEY1), _sent(KEY2), stopped]))
    assert [v.split(" arrived")[0] for v in report.violations] == [f"page {KEY2}"]
    assert report.figures["pages"]["after_stop"] == 1


def test_two_escalation_runs_for_one_incident_fail_the_storm() -> None:
    runs = [_run("r1", "storm"), _run("e1", "oncall-storm-oncall"), _run("e2", "oncall-x")]
    report = check(_seen([_page(KEY1, T0 + 1)], [_sent(KEY1)], runs))
    assert "INC-1: 2 escalation runs (one expected)" in report.violations
