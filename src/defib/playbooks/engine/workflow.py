"""The workflow: one run's steps executed durably, in order.

`execute` is the body of the one DBOS workflow (see `host`). Its sequence of DBOS
operations (steps, sleeps, receives) must be the same on every replay, so it depends only
on the run as `load` checkpointed it and on recorded step outputs. Each step is:
a `when` check, a dry run's description, an approval wait, then attempts of the action
with retries and backoff, or a durable sleep for `wait`. What a step came to is a
`StepOutcome`; it crosses DBOS step boundaries as a plain dict (see `outcome`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from defib.actions import (
    ActionContext,
    ActionError,
    ActionRegistry,
    DurableSleep,
    Outcome,
    UnknownAction,
)
from defib.actions.base import Action
from defib.actions.environment import ActionEnvironment
from defib.events import RecordedKind
from defib.playbooks.engine import host
from defib.playbooks.engine.ledger import Ledger, StepRef
from defib.playbooks.engine.outcome import LoadedRun, StepOutcome
from defib.playbooks.runs import TERMINAL_STATUSES, RunStatus, run_actor, step_key
from defib.playbooks.spec import OnFailure, OnTimeout, Playbook, Step
from defib.playbooks.waiting import (
    AttentionListener,
    RunNeedsAttention,
    WaitingListener,
    WaitingStep,
    announce,
    announce_attention,
)
from defib.store.outage import is_storage_unavailable

# What an action's outcome makes of its step.
_STEP_STATUS = {
    Outcome.SUCCEEDED: RunStatus.SUCCEEDED,
    Outcome.SKIPPED: RunStatus.SKIPPED,
    Outcome.UNVERIFIED: RunStatus.UNVERIFIED,
}


# Run outcomes that leave work for a person (announced to the incident's people).
ANNOUNCED_STATUSES = frozenset({RunStatus.NEEDS_ATTENTION, RunStatus.FAILED, RunStatus.TIMED_OUT})


def approval_topic(index: int, generation: int) -> str:
    return f"approval:{index}:{generation}"


def retry_delay(step: Step, run_id: str, index: int, attempt: int) -> float:
    """Backoff before retry `attempt`; jitter seeded by the step so a replay computes the same."""
    return step.retries.delay(attempt, random.Random(f"{run_id}:{index}:{attempt}"))


class Workflow:
    """Executes runs (inside DBOS's workflow) against the ledger and the actions."""

    def __init__(
        self,
        ledger: Ledger,
        actions: ActionRegistry,
        clock: Callable[[], datetime],
        executor_id: Callable[[], str | None],
        environment: ActionEnvironment,
    ) -> None:
        self.ledger = ledger
        self.actions = actions
        self.clock = clock
        # What every action's context carries (`ctx.env`): injected, never looked up.
        self.environment = environment
        self._executor_id = executor_id
        # Told when a step starts waiting for approval (Slack's Approve/Reject message).
        self.on_waiting: list[WaitingListener] = []
        # Told when a run ends needing a person (Slack's "needs attention" message).
        self.on_attention: list[AttentionListener] = []

    # -- the workflow body ----------------------------------------------------------------

    async def execute(self, run_id: str) -> str:
        loaded = await host.run_step("load", self.step_load, run_id)
        if loaded is None:
            return "missing"
        plan = LoadedRun.from_checkpoint(loaded)
        if plan.status in TERMINAL_STATUSES:
            return plan.status.value
        playbook = Playbook.from_dict(plan.spec)
        incident = plan.incident
        gen, dry_run, todo = plan.generation, plan.dry_run, plan.todo
        seq = int(incident["seq"])
        aborted_at: int | None = None
        abort_status: str | None = None
        for pos, index in enumerate(todo):
            step = playbook.steps[index]
            ref = StepRef(run_id, gen, index, step.name, seq)
            following = todo[pos + 1] if pos + 1 < len(todo) else None
            chain: tuple[int, Step] | None = None
            if following is not None and self.plain(playbook.steps[following], incident, dry_run):
                chain = (following, playbook.steps[following])
            outcome = await self._execute_step(
                ref, step, incident, dry_run, chain, following is None
            )
            if outcome.recorded:
                # The attempt recorded its outcome (and maybe the run's end) itself.
                if outcome.run_status is not None:
                    return self._ended(run_id, seq, outcome.run_status)
                status = outcome.status.value
            else:
                status = await host.run_step(
                    f"finish-{index}", self.ledger.step_finished, ref, outcome
                )
            failed = status in (RunStatus.FAILED, RunStatus.TIMED_OUT)
            if failed and (step.on_failure is OnFailure.ABORT or outcome.abort):
                aborted_at, abort_status = index, status
                break
        final: str = await host.run_step(
            "finish", self.ledger.run_finished, run_id, gen, aborted_at, abort_status
        )
        return self._ended(run_id, seq, final)

    def _ended(self, run_id: str, seq: int, status: str) -> str:
        """The run's final status; a run that needs a person is announced (Slack): one
        that ended `needs_attention`, and one that `failed` or `timed_out`, the stricter
        outcomes, which need a person at least as much. Outside any DBOS step: a replay
        after a crash may announce it again, never lose it."""
        if status in ANNOUNCED_STATUSES:
            announce_attention(self.on_attention, RunNeedsAttention(run_id, seq))
        return status

    def step_load(self, run_id: str) -> dict[str, Any] | None:
        """The `load` step: the run (checkpointed as a dict), marked running."""
        loaded = self.ledger.load(run_id, self._executor_id(), self.plain)
        return None if loaded is None else loaded.as_checkpoint()

    async def _execute_step(
        self,
        ref: StepRef,
        step: Step,
        incident: dict[str, Any],
        dry_run: bool,
        chain: tuple[int, Step] | None,
        last: bool,
    ) -> StepOutcome:
        """A step's outcome; `recorded` when its attempt already wrote it (see `step_attempt`),
        which then also started step `chain` and, if `last`, ended the run."""
        run_id, gen, index = ref.run_id, ref.gen, ref.index
        if not step.applies(incident):
            return StepOutcome(RunStatus.SKIPPED, reason=f"when is false: {step.when}")
        if dry_run:
            would = self.describe(run_id, gen, index, step, incident)
            output: dict[str, Any] = {"dry_run": True, "would": would}
            if step.approval.required:
                output["approval"] = (
                    f"would wait up to {step.approval.timeout_seconds:g}s for {step.approval.role}"
                    f", then {step.approval.on_timeout}"
                )
            return StepOutcome(RunStatus.SKIPPED, reason="dry run", output=output)
        if step.approval.required:
            verdict = await self._await_approval(
                ref, step, self.describe(run_id, gen, index, step, incident)
            )
            if verdict is not None:
                return verdict
        try:
            action = self.actions.get(step.action)
        except UnknownAction as exc:
            return StepOutcome(RunStatus.FAILED, error=str(exc))
        attempts = step.retries.count + 1
        last_status, last_error = RunStatus.FAILED, ""
        for attempt in range(1, attempts + 1):
            try:
                if isinstance(action, DurableSleep) and not isinstance(action, Action):
                    ctx = self.context(run_id, gen, index, step, attempt, incident)
                    seconds = action.sleep_seconds(ctx)
                    until: str = await host.run_step(
                        f"sleep-{index}", self.ledger.mark_sleeping, ref, seconds
                    )
                    remaining = (datetime.fromisoformat(until) - self.clock()).total_seconds()
                    await host.sleep(remaining)
                    return StepOutcome(
                        RunStatus.SUCCEEDED, attempts=attempt, output={"slept_seconds": seconds}
                    )
                result = await host.run_step(
                    f"step-{index}-{attempt}",
                    self.step_attempt,
                    run_id,
                    gen,
                    index,
                    attempt,
                    step.model_dump(mode="json"),
                    incident,
                    None if chain is None else chain[0],
                    None if chain is None else chain[1].model_dump(mode="json"),
                    last,
                    timeout_seconds=step.timeout_seconds,
                    preemptible=True,
                )
                return StepOutcome.from_checkpoint(result)
            except host.StepTimeout:
                last_status = RunStatus.TIMED_OUT
                last_error = f"timed out after {step.timeout_seconds:g}s"
            except ActionError as exc:
                last_status, last_error = RunStatus.FAILED, str(exc)
            except Exception as exc:
                # A cancellation stops the workflow; storage that stayed unusable through
                # the step's retries is not the action's failure: the workflow ends in
                # error and the reconciler drives the run again once storage is back.
                if host.is_cancellation(exc) or is_storage_unavailable(exc):
                    raise
                last_status, last_error = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
            if attempt < attempts:
                wait = retry_delay(step, run_id, index, attempt)
                await host.run_step(
                    f"retry-{index}-{attempt}",
                    self.ledger.attempt_failed,
                    ref,
                    attempt,
                    last_error,
                    wait,
                )
                await host.sleep(wait)
        return StepOutcome(last_status, attempts=attempts, error=last_error)

    async def _await_approval(self, ref: StepRef, step: Step, asks: str) -> StepOutcome | None:
        """Wait durably for a decision; an outcome ends the step, None means go ahead."""
        approval = step.approval
        deadline: str = await host.run_step(
            f"await-{ref.index}",
            self.step_waiting,
            ref,
            approval.role.value,
            approval.timeout_seconds,
            asks,
        )
        # The deadline is the checkpointed one: a crash between that checkpoint and recv
        # recording its own timer must not restart the full wait.
        remaining = (datetime.fromisoformat(deadline) - self.clock()).total_seconds()
        message = await host.recv(approval_topic(ref.index, ref.gen), timeout_seconds=remaining)
        if isinstance(message, dict) and message.get("decision") == "cancel":
            return StepOutcome(RunStatus.CANCELLED, error="run cancelled")
        await host.run_step(
            f"decided-{ref.index}",
            self.ledger.decided,
            ref,
            message if isinstance(message, dict) else None,
        )
        if message is None:
            if approval.on_timeout is OnTimeout.ABORT:
                return StepOutcome(RunStatus.TIMED_OUT, error="nobody approved in time", abort=True)
            if approval.on_timeout is OnTimeout.SKIP:
                return StepOutcome(RunStatus.SKIPPED, reason="nobody approved in time")
        elif message.get("decision") == "reject":
            by, note = message.get("by"), message.get("note") or ""
            return StepOutcome(
                RunStatus.SKIPPED, reason=f"rejected by {by}" + (f": {note}" if note else "")
            )
        return None

    def step_waiting(self, ref: StepRef, role: str, secs: float, asks: str) -> str:
        """The `await` step: the step marked waiting (then announced); its deadline."""
        deadline, fresh = self.ledger.waiting(ref, role, secs, asks)
        if fresh:
            announce(
                self.on_waiting,
                WaitingStep(ref.run_id, ref.index, ref.name, ref.seq, role, deadline, asks),
            )
        return deadline

    # -- one attempt (a DBOS step) --------------------------------------------------------

    async def step_attempt(
        self,
        run_id: str,
        gen: int,
        index: int,
        attempt: int,
        step_json: dict[str, Any],
        incident: dict[str, Any],
        next_index: int | None = None,
        next_json: dict[str, Any] | None = None,
        last: bool = False,
    ) -> dict[str, Any]:
        """One attempt of an action, and on success its bookkeeping (the DBOS step a crash may
        re-execute: keys make the action safe, and a step whose outcome is already on its row
        is not run again). Returns the outcome's checkpoint form, `recorded`."""
        step = Step.model_validate(step_json)
        seq = int(incident["seq"])
        ref = StepRef(run_id, gen, index, step.name, seq)
        prior = await asyncio.to_thread(self.ledger.begin_attempt, ref, step, attempt, last)
        if prior is not None:
            return prior.as_checkpoint()
        action = self.actions.get(step.action)
        ctx = self.context(run_id, gen, index, step, attempt, incident)
        if not isinstance(action, Action):
            raise ActionError(f"action {step.action!r} cannot run as a step")
        result = await action.run(ctx)
        outcome = StepOutcome(
            _STEP_STATUS[result.outcome],
            attempts=attempt,
            output=dict(result.detail) if result.detail else None,
            reason=result.reason or None,
        )
        following: tuple[StepRef, Step] | None = None
        if next_index is not None and next_json is not None:
            next_step = Step.model_validate(next_json)
            following = (StepRef(run_id, gen, next_index, next_step.name, seq), next_step)
        run_status = await asyncio.to_thread(self.ledger.end_attempt, ref, outcome, following, last)
        return dataclasses.replace(outcome, recorded=True, run_status=run_status).as_checkpoint()

    # -- what actions see -----------------------------------------------------------------

    def describe(
        self, run_id: str, gen: int, index: int, step: Step, incident: Mapping[str, Any]
    ) -> str:
        try:
            action = self.actions.get(step.action)
            return action.describe(self.context(run_id, gen, index, step, 0, incident))
        except (UnknownAction, ActionError) as exc:
            return f"would fail: {exc}"

    def context(
        self,
        run_id: str,
        gen: int,
        index: int,
        step: Step,
        attempt: int,
        incident: Mapping[str, Any],
    ) -> ActionContext:
        seq = int(incident["seq"])

        async def timeline(kind: RecordedKind, data: Mapping[str, Any], key: str) -> None:
            await self.ledger.timeline(seq, run_actor(run_id), kind, data, key)

        return ActionContext(
            run_id=run_id,
            step_index=index,
            step_name=step.name,
            generation=gen,
            attempt=attempt,
            idempotency_key=step_key(run_id, index, gen),
            incident=incident,
            params=step.params,
            timeout_seconds=step.timeout_seconds,
            timeline=timeline,
            env=self.environment,
        )

    def plain(self, step: Step, incident: Mapping[str, Any], dry_run: bool) -> bool:
        """Whether `step` goes straight to its action (no `when` skip, approval, dry run or
        durable sleep): then the transaction before it may mark it started."""
        if dry_run or step.approval.required or not step.applies(incident):
            return False
        try:
            return isinstance(self.actions.get(step.action), Action)
        except UnknownAction:
            return False
