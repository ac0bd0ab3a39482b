"""The storm's plan, drawn from one seed before anything starts (pure, no I/O).

The same seed gives the same kills (which process, after how long, how long it stays down)
and the same alerts, so `--seed N` replays a storm's schedule. What the processes were
doing at each instant is up to the operating system, so a replay is the same storm, not
the same interleaving.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kill:
    """SIGKILL `target` `after` seconds after the previous kill, restart it `down` later.

    With `from_ready`, `after` counts from the moment the target is ready again: a storm of
    blind kills alone lands almost all of them on processes still starting (a restart takes
    longer than the mean gap), the API never answers, and the storm tests startup only.
    """

    after: float
    target: str
    down: float
    from_ready: bool = True


@dataclass(frozen=True, slots=True)
class Schedule:
    seed: int
    kills: tuple[Kill, ...]
    # Before which kill (index) each wave of alerts is posted; wave 0 goes before the first.
    waves: tuple[int, ...]

    @property
    def duration(self) -> float:
        return sum(k.after + k.down for k in self.kills)


def plan(
    seed: int,
    targets: tuple[str, ...],
    kills: int,
    *,
    gap: tuple[float, float] = (0.3, 3.0),
    down: tuple[float, float] = (0.0, 0.6),
    waves: int | None = None,
    blind: float = 0.25,
) -> Schedule:
    """`kills` kills spread over `targets`; alert waves (default one per five kills, at
    least four) evenly over the first 80 % of them, so every kill lands on busy processes
    and the last ones on runs those waves started. A `blind` share of the kills count their
    gap from the previous kill, not from readiness: they land on processes still starting."""
    if not targets or kills < 1:
        raise ValueError("a storm needs at least one target and one kill")
    rng = random.Random(seed)
    drawn = tuple(
        Kill(
            after=round(rng.uniform(*gap), 3),
            target=rng.choice(targets),
            down=round(rng.uniform(*down), 3),
            from_ready=rng.random() >= blind,
        )
        for _ in range(kills)
    )
    count = waves if waves is not None else max(4, kills // 5)
    span = max(1, (kills * 4) // 5)
    starts = tuple(sorted({min(kills - 1, (i * span) // count) for i in range(count)}))
    return Schedule(seed, drawn, starts)


def approves(step_key: str) -> bool:
    """Whether the storm's responder approves a waiting step (else rejects): one in four is
    rejected, decided by the step's key so a decision retried after a kill never flips."""
    return hashlib.sha256(step_key.encode()).digest()[0] % 4 != 0
