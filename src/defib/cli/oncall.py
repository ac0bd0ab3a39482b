"""`defib oncall [SCHEDULE] [--at TIME]`: who is on call, the rotation ahead, overrides.

With `--override PERSON --from T --until T` it puts PERSON on call for SCHEDULE over every
rotation (`POST /api/v1/oncall/overrides`); `--delete-override ID` removes one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from defib.cli.client import ApiClient, api_client
from defib.cli.common import ConfigOption, JsonOption
from defib.cli.output import console, fail, print_json, print_table


def _when(text: str, option: str) -> str:
    """ISO 8601; without a zone it means UTC (said in the help), never the machine's zone."""
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: {text!r} is not an ISO 8601 time (e.g. 2026-12-24T18:00+01:00)")
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.isoformat()


def _short(iso: str) -> str:
    return iso[:16].replace("T", " ") + " UTC" if iso.endswith(("Z", "+00:00")) else iso


def oncall(
    schedule: Annotated[
        str | None, typer.Argument(help="A schedule (default: every configured one).")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="ISO 8601 time (no zone: UTC); default now.")
    ] = None,
    weeks: Annotated[
        int, typer.Option("--weeks", min=0, max=52, help="With SCHEDULE: the rotation ahead.")
    ] = 2,
    override: Annotated[
        str | None, typer.Option("--override", help="Put this person on call for SCHEDULE.")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="With --override: start (default now).")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="With --override: end.")] = None,
    comment: Annotated[str, typer.Option("--comment", "-m", help="With --override: why.")] = "",
    delete_override: Annotated[
        str | None, typer.Option("--delete-override", help="Remove this override (its id).")
    ] = None,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Who is on call now (or --at), and for one SCHEDULE the coming rotation."""
    client = api_client(config)
    if delete_override is not None:
        client.request("DELETE", f"/api/v1/oncall/overrides/{delete_override}")
        console.print(f"deleted override {delete_override}")
        return
    if override is not None:
        _override(client, schedule, override, from_, until, comment, json)
        return
    if from_ is not None or until is not None:
        fail("--from and --until go with --override")
    params: dict[str, Any] = {}
    if schedule:
        params["schedule"] = schedule
    if at:
        params["at"] = _when(at, "--at")
    found = client.get_all("/api/v1/oncall", params)
    shifts: list[Any] = []
    if schedule and weeks:
        start = params.get("at") or datetime.now(UTC).isoformat()
        end = (datetime.fromisoformat(start) + timedelta(weeks=weeks)).isoformat()
        shifts = client.get_all(f"/api/v1/oncall/{schedule}/shifts", {"from": start, "until": end})
    if json:
        print_json({"on_call": found, "shifts": shifts} if schedule else found)
        return
    print_table(
        "on call",
        ["schedule", "person", "since", "until", "why"],
        [
            [
                o["schedule"],
                o["person"] or "(nobody)",
                _short(o["shift_start"]),
                _short(o["shift_end"]),
                o["source"],
            ]
            for o in found
        ],
    )
    if shifts:
        print_table(
            f"{schedule}: the next {weeks} week(s)",
            ["from", "until", "person", "why"],
            [
                [_short(s["start"]), _short(s["end"]), s["person"] or "(nobody)", s["source"]]
                for s in shifts
            ],
        )


def _override(
    client: ApiClient,
    schedule: str | None,
    person: str,
    start: str | None,
    until: str | None,
    comment: str,
    json: bool,
) -> None:
    if not schedule:
        fail("--override: name the SCHEDULE (defib oncall SCHEDULE --override PERSON ...)")
    if until is None:
        fail("--override: give --until (when the override ends)")
    body = {
        "schedule": schedule,
        "person": person,
        "start": _when(start, "--from") if start else datetime.now(UTC).isoformat(),
        "end": _when(until, "--until"),
        "comment": comment,
    }
    made = client.post("/api/v1/oncall/overrides", json=body)
    if json:
        print_json(made)
        return
    console.print(
        f"override {made['id']}: {person} on call for {schedule} "
        f"from {_short(made['start'])} until {_short(made['end'])}"
    )
