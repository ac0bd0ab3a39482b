"""`defib demo` runs the loop: leak in traffic → incident → contained, rolled back, verified."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from defib.demo.tour import STAGES, Progress, run
from tests.support.engine import _fast_engine  # noqa: F401  (fast engine timings, autouse)


def test_demo_reaches_every_stage_and_the_leak_stops(tmp_path: Path) -> None:
    """Every stage of the loop is reached, and after mitigation the same prompt leaks nothing."""
    out = io.StringIO()
    seen: list[Progress] = []
    mitigated = run(
        Console(file=out, width=200, force_terminal=False),
        data_dir=tmp_path / "demo",
        timeout=90,
        observe=seen.append,
    )
    text = out.getvalue()
    assert mitigated, text
    progress = seen[-1]
    assert [key for key, _ in STAGES if key not in progress.reached] == [], text
    before = [a for when, _, a in progress.answers if when == "before"]
    after = [a for when, _, a in progress.answers if when == "after"]
    assert any("jane.doe@example.com" in a for a in before)  # v2 really leaked
    assert after and all("@" not in a and "123-45-6789" not in a for a in after), after
    assert "What defib did about INC-1" in text
    assert "replayed clean (pii)" in text  # it says what was verified and how
    # The security team was told (its webhook, caught locally), and the final state is shown.
    assert any(line.startswith("[webhook] ") and "INC-1" in line for line in progress.notified)
    assert "Final status: INC-1 is mitigated." in text
    assert "[mitigated]" in text or "[resolved]" in text  # the status survives Rich markup
    assert "/incidents/INC-1" in text
