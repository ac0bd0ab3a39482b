"""Alert folding against real storage (SQLite and PostgreSQL): create, merge, reopen,
re-deliveries, clearing and acknowledgement, group commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection

from defib.incidents.lifecycle import IncidentService
from defib.intake.folding import AlertFolding
from defib.intake.results import Triage
from defib.model import Alert, Command, IllegalTransition, Incident, IncidentType, Severity, Status
from defib.store.database import Database


class FakeClock:
    """A controllable clock: tests move time explicitly."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def svc(db: Database, clock: FakeClock) -> IncidentService:
    return IncidentService(db, clock=clock)


@pytest.fixture
def fold(db: Database, svc: IncidentService, clock: FakeClock) -> AlertFolding:
    return AlertFolding(db, svc, clock=clock)


def alert(title: str = "Toxic replies", **kw: object) -> Alert:
    return Alert(source="test", title=title, **kw)  # type: ignore[arg-type]


def triage(fp: str = "fp1", sev: Severity = Severity.SEV2) -> Triage:
    return Triage(IncidentType.TOXICITY, sev, ("chat-api",), fp, "test rule")


def test_ingest_creates_then_merges_and_raises_severity(
    fold: AlertFolding, svc: IncidentService
) -> None:
    [r1] = fold.ingest([(alert(), triage())], "am")
    [r2] = fold.ingest([(alert(), triage(sev=Severity.SEV1))], "am")
    assert (r1.action, r2.action) == ("created", "merged")
    assert r1.incident_id == r2.incident_id
    inc = svc.get(r1.incident_id or "")
    assert (inc.alert_count, inc.severity) == (2, Severity.SEV1)
    kinds = [e.kind for e in svc.timeline(inc.id)]
    assert kinds == ["created", "alert_merged", "severity_changed"]


def test_ingest_ignores_non_incidents_but_keeps_them(
    fold: AlertFolding, svc: IncidentService, db: Database
) -> None:
    from sqlalchemy import func, select

    from defib.store.tables import alerts

    [r] = fold.ingest([(alert("Watchdog"), Triage(None, None, (), None, "heartbeat"))], "am")
    assert (r.action, r.incident_id) == ("ignored", None)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == 1


def test_redelivery_is_recognised_once(fold: AlertFolding, svc: IncidentService) -> None:
    a = alert(delivery_key="am:abc:2026-01-01T00:00:00Z")
    [r1] = fold.ingest([(a, triage())], "am")
    [r2] = fold.ingest([(a, triage())], "am")
    assert (r1.action, r2.action) == ("created", "duplicate")
    assert r2.incident_id == r1.incident_id  # the answer names where the first one went
    assert svc.get(r1.incident_id or "").alert_count == 1


def test_alert_soon_after_resolution_reopens(
    fold: AlertFolding, svc: IncidentService, clock: FakeClock
) -> None:
    [r1] = fold.ingest([(alert(), triage())], "am")
    clock.advance(minutes=1)
    svc.apply(r1.incident_id or "", Command.RESOLVE, "bob")
    clock.advance(minutes=10)
    [r2] = fold.ingest([(alert(), triage())], "am")
    assert (r2.action, r2.incident_id) == ("reopened", r1.incident_id)
    assert svc.get(r1.incident_id or "").status is Status.DETECTED
    clock.advance(minutes=1)
    svc.apply(r1.incident_id or "", Command.RESOLVE, "bob")
    clock.advance(hours=2)
    [r3] = fold.ingest([(alert(), triage())], "am")
    assert r3.action == "created"
    assert r3.incident_id != r1.incident_id


def test_reopen_refused_while_a_newer_incident_is_open(
    fold: AlertFolding, svc: IncidentService, clock: FakeClock
) -> None:
    [r1] = fold.ingest([(alert(), triage())], "am")
    clock.advance(minutes=1)
    svc.apply(r1.incident_id or "", Command.RESOLVE, "bob")
    clock.advance(hours=1)
    [r2] = fold.ingest([(alert(), triage())], "am")
    assert r2.action == "created"
    with pytest.raises(IllegalTransition, match="newer open incident"):
        svc.apply(r1.incident_id or "", Command.REOPEN, "bob")
    assert svc.get(r1.incident_id or "").status is Status.RESOLVED


def test_cleared_alerts_resolve_a_mitigated_incident(
    fold: AlertFolding, svc: IncidentService, clock: FakeClock
) -> None:
    """The incident resolves itself once every series has cleared and it was mitigated."""
    a1 = alert(source_key="pod-1", status="firing")
    a2 = alert(source_key="pod-2", status="firing")
    [r1] = fold.ingest([(a1, triage())], "am")
    fold.ingest([(a2, triage())], "am")
    clock.advance(minutes=1)
    cleared = Triage(None, None, (), None, "resolved", related_fingerprint="fp1")
    [c1] = fold.ingest([(alert(source_key="pod-1", status="resolved"), cleared)], "am")
    assert (c1.action, c1.incident_id) == ("cleared", r1.incident_id)
    svc.apply(r1.incident_id or "", Command.MITIGATE, "bob")
    clock.advance(minutes=1)
    [c2] = fold.ingest([(alert(source_key="pod-2", status="resolved"), cleared)], "am")
    assert c2.action == "resolved"
    inc = svc.get(r1.incident_id or "")
    assert inc.status is Status.RESOLVED
    kinds = [e.kind for e in svc.timeline(inc.id)]
    assert kinds.count("alert_resolved") == 2
    assert kinds[-1] == "transition"


def test_cleared_alert_does_not_resolve_an_unmitigated_incident(
    fold: AlertFolding, svc: IncidentService
) -> None:
    [r1] = fold.ingest([(alert(source_key="s"), triage())], "am")
    cleared = Triage(None, None, (), None, "resolved", related_fingerprint="fp1")
    [c] = fold.ingest([(alert(source_key="s", status="resolved"), cleared)], "am")
    assert c.action == "cleared"
    assert svc.get(r1.incident_id or "").status is Status.DETECTED


def test_resolved_without_open_incident_is_ignored(
    fold: AlertFolding, svc: IncidentService
) -> None:
    cleared = Triage(None, None, (), None, "resolved", related_fingerprint="nope")
    [c] = fold.ingest([(alert(status="resolved"), cleared)], "am")
    assert (c.action, c.incident_id) == ("ignored", None)


def test_source_acknowledgement_acknowledges_a_detected_incident(
    fold: AlertFolding, svc: IncidentService, clock: FakeClock
) -> None:
    [r1] = fold.ingest([(alert(dedup_key="pd-1"), triage())], "pd")
    clock.advance(seconds=30)
    acked = Triage(None, None, (), None, "ack", related_fingerprint="fp1")
    [a] = fold.ingest([(alert(dedup_key="pd-1", status="acknowledged"), acked)], "pd")
    assert a.action == "acknowledged"
    assert svc.get(r1.incident_id or "").status is Status.ACKNOWLEDGED


def test_state_change_re_arms_redelivery_detection(
    fold: AlertFolding, svc: IncidentService, clock: FakeClock
) -> None:
    """trigger, trigger (dup), resolve, trigger again: the second cycle counts."""
    fire = alert(delivery_key="pd-9", source_key="pd-9")
    res = alert(delivery_key="pd-9", source_key="pd-9", status="resolved")
    cleared = Triage(None, None, (), None, "resolved", related_fingerprint="fp1")
    actions = []
    for a, t in [
        (fire, triage()),
        (fire, triage()),
        (res, cleared),
        (res, cleared),
        (fire, triage()),
    ]:
        clock.advance(seconds=1)
        actions.append(fold.ingest([(a, t)], "pd")[0].action)
    assert actions == ["created", "duplicate", "cleared", "duplicate", "merged"]


def test_group_commit_folds_a_run_into_one_incident_and_one_event(
    fold: AlertFolding, svc: IncidentService
) -> None:
    """Three senders' alerts in one transaction: one incident, exact count, answers per sender."""
    a = alert(source_key="s1")
    b = alert(source_key="s2", delivery_key="d-1")
    out = fold.ingest_batches(
        [
            ([(a, triage())], "am-1"),
            ([(b, triage(sev=Severity.SEV1)), (b, triage())], "am-2"),
            ([(alert("Watchdog"), Triage(None, None, (), None, "heartbeat"))], "am-3"),
        ]
    )
    assert [[r.action for r in batch] for batch in out] == [
        ["created"],
        ["merged", "duplicate"],
        ["ignored"],
    ]
    inc = svc.get(out[0][0].incident_id or "")
    assert (inc.alert_count, inc.severity) == (2, Severity.SEV1)
    events = svc.timeline(inc.id)
    assert [e.kind for e in events] == ["created"]
    assert events[0].data["count"] == 2


def test_group_commit_keeps_a_series_in_order(
    fold: AlertFolding, svc: IncidentService, clock: FakeClock
) -> None:
    """Firing then resolved for one series in the same group: created, then cleared."""
    fire = alert(source_key="s1", delivery_key="x@1")
    clear = alert(source_key="s1", delivery_key="x@1", status="resolved")
    cleared = Triage(None, None, (), None, "resolved", related_fingerprint="fp1")
    [results] = fold.ingest_batches([([(fire, triage()), (clear, cleared)], "am")])
    assert [r.action for r in results] == ["created", "cleared"]


class Recorder:
    """Response hooks and a resolve listener that write down what they were told."""

    def __init__(self) -> None:
        self.planned: list[str] = []
        self.woken: list[str] = []
        self.resolved: list[int] = []

    def plan(self, conn: Connection, incident: Incident, actor: str) -> None:
        self.planned.append(incident.id)

    def after_commit(self, incidents: Sequence[Incident]) -> None:
        self.woken.extend(i.id for i in incidents)

    def heard(self, db: Database, seqs: Sequence[int]) -> None:
        self.resolved.extend(seqs)


def test_folding_plans_and_announces_through_the_incident_service(
    db: Database, clock: FakeClock
) -> None:
    """An alert that opens an incident plans its response in the transaction and wakes the
    engine after it; a merge plans nothing; clearing a mitigated incident is announced."""
    told = Recorder()
    svc = IncidentService(db, clock=clock, hooks=told, on_resolved=[told.heard])
    fold = AlertFolding(db, svc, clock=clock)
    [r1] = fold.ingest([(alert(source_key="s"), triage())], "am")
    fold.ingest([(alert(source_key="s"), triage())], "am")
    assert told.planned == told.woken == [r1.incident_id]
    svc.apply(r1.incident_id or "", Command.MITIGATE, "bob")
    cleared = Triage(None, None, (), None, "resolved", related_fingerprint="fp1")
    [c] = fold.ingest([(alert(source_key="s", status="resolved"), cleared)], "am")
    assert c.action == "resolved"
    assert told.resolved == [svc.get(r1.incident_id or "").seq]
