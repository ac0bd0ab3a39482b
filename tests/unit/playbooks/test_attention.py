"""The run's attention check (pure): which finished runs did their job and which need a person."""

from __future__ import annotations

from typing import Any

from defib.playbooks.attention import attention_reasons
from defib.playbooks.runs import RunStatus, RunStep
from defib.playbooks.spec import Step


def step(name: str, action: str, **kw: Any) -> Step:
    return Step.model_validate({"name": name, "action": action, **kw})


def row(index: int, s: Step, status: RunStatus, output: dict[str, Any] | None = None) -> RunStep:
    return RunStep(index, s.name, s.action, status, output=output)


def test_all_required_steps_done_needs_nothing() -> None:
    """A notify that reached someone and a verified check: no reason."""
    notify, verify = step("tell", "notify_team"), step("check", "verify_endpoint")
    rows = [
        row(0, notify, RunStatus.SUCCEEDED, {"sent": 2}),
        row(1, verify, RunStatus.SUCCEEDED),
    ]
    assert attention_reasons([notify, verify], rows, "SEV1") == []


def test_unverified_required_step_needs_attention() -> None:
    verify = step("check", "verify_endpoint")
    rows = [row(0, verify, RunStatus.UNVERIFIED, {"reason": "no probe"})]
    assert attention_reasons([verify], rows, "SEV3") == [
        "check is unverified: confirm the fix or act"
    ]


def test_skipped_required_step_names_its_reason() -> None:
    notify = step("tell", "notify_team")
    rows = [row(0, notify, RunStatus.SKIPPED, {"reason": "no owners to notify"})]
    (reason,) = attention_reasons([notify], rows, "SEV3")
    assert reason == "required step tell was skipped: no owners to notify"


def test_sev1_that_reached_nobody_is_named_even_if_notify_is_optional() -> None:
    notify = step("tell", "notify_team", required=False)
    rows = [row(0, notify, RunStatus.SKIPPED, {"reason": "no owners"})]
    assert attention_reasons([notify], rows, "SEV1") == [
        "SEV1 incident: no notification reached anyone"
    ]
    assert attention_reasons([notify], rows, "SEV3") == []


def test_deliberate_skips_are_not_reasons() -> None:
    """A step whose `when` was false, and a notification a person silenced, are by design."""
    conditional = step("rollback", "rollback_model", when="severity == 'SEV1'")
    silenced = step("tell", "notify_team")
    rows = [
        row(0, conditional, RunStatus.SKIPPED, {"reason": "when is false"}),
        row(1, silenced, RunStatus.SKIPPED, {"silenced_by": ["s1"], "reason": "silenced"}),
    ]
    assert attention_reasons([conditional, silenced], rows, "SEV1") == []


def test_optional_steps_may_be_skipped() -> None:
    evidence = step("collect", "collect_evidence")
    assert not evidence.is_required
    rows = [row(0, evidence, RunStatus.SKIPPED, {"reason": "nothing"})]
    assert attention_reasons([evidence], rows, "SEV2") == []
