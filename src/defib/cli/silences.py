"""`defib silences add|list|expire`: silences and maintenance windows on a running server.

They speak the server's Alertmanager v2 silences API, the same one amtool uses.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from defib.cli.client import ApiClient, api_client
from defib.cli.common import ConfigOption, JsonOption
from defib.cli.output import console, fail, print_json, print_table
from defib.model import InvalidInput
from defib.silences import Weekly, parse_matchers
from defib.silences.schedule import parse_days, parse_duration, parse_hhmm

app = typer.Typer(no_args_is_help=True, help="Silences and maintenance windows.")

# A maintenance window added without --until repeats until expired.
_OPEN_END = "9000-01-01T00:00:00Z"


def _client(config: Path | None) -> ApiClient:
    return api_client(config)


def _author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "defib-cli"


@app.command()
def add(
    matchers: Annotated[
        list[str], typer.Argument(help='e.g. system=chat-api type=~"performance|bias"')
    ],
    for_: Annotated[
        str, typer.Option("--for", help="How long (2h, 90m, 1d); a window's length with --every.")
    ] = "1h",
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why (required).")] = "",
    starts: Annotated[
        str | None, typer.Option("--starts", help="ISO 8601 start (default: now).")
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(
            "--every", help="Weekly maintenance window on these days: sun, sat,sun, daily."
        ),
    ] = None,
    at: Annotated[
        str, typer.Option("--at", help="With --every: opening time, HH:MM UTC.")
    ] = "00:00",
    until: Annotated[
        str | None, typer.Option("--until", help="With --every: ISO 8601 end of the series.")
    ] = None,
    author: Annotated[
        str | None,
        typer.Option(
            "--author",
            help="Who asks (default: $USER); kept in the comment, since the server stores"
            " your token's name as createdBy.",
        ),
    ] = None,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Silence matching alerts now for --for, or every week with --every/--at."""
    if not comment.strip():
        fail("--comment: say why (it is shown to everyone who wonders where the alerts went)")
    try:
        parse_matchers(matchers)
        length = parse_duration(for_)
        now = datetime.now(UTC)
        start = datetime.fromisoformat(starts) if starts else now
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        body: dict[str, Any] = {
            "matchers": [m.to_dict() for m in parse_matchers(matchers)],
            "createdBy": author or _author(),
            "comment": comment,
            "startsAt": start.isoformat(),
        }
        if every is not None:
            weekly = Weekly(parse_days(every), parse_hhmm(at), length)
            body["schedule"] = weekly.to_dict()
            body["endsAt"] = until or _OPEN_END
        else:
            body["endsAt"] = (start + length).isoformat()
    except (InvalidInput, ValueError) as exc:
        fail(str(exc))
    client = _client(config)
    created = client.post("/api/v2/silences", json=body)
    silence = client.get(f"/api/v2/silence/{created['silenceID']}")
    if json:
        print_json(silence)
        return
    console.print(created["silenceID"])


@app.command("list")
def list_(
    matchers: Annotated[list[str] | None, typer.Argument(help="Only silences with these.")] = None,
    expired: Annotated[bool, typer.Option("--expired", help="Include expired ones.")] = False,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Silences and maintenance windows, newest first."""
    params = [("filter", m) for m in matchers or []]
    found = _client(config).get("/api/v2/silences", params=params)
    if not expired:
        found = [s for s in found if s["status"]["state"] != "expired"]
    if json:
        print_json(found)
        return
    print_table(
        "silences",
        ["id", "state", "matchers", "starts", "ends", "by", "comment"],
        [
            [
                s["id"],
                s["status"]["state"],
                ", ".join(_matcher_text(m) for m in s["matchers"]),
                s["startsAt"][:16].replace("T", " "),
                s["endsAt"][:16].replace("T", " "),
                s["createdBy"],
                s["comment"],
            ]
            for s in found
        ],
        empty="Nothing is silenced.",
    )


def _matcher_text(m: dict[str, Any]) -> str:
    op = (
        ("=~" if m["isRegex"] else "=")
        if m.get("isEqual", True)
        else ("!~" if m["isRegex"] else "!=")
    )
    return f'{m["name"]}{op}"{m["value"]}"'


@app.command()
def expire(
    silence_ids: Annotated[list[str], typer.Argument(help="Silence ids (from `list`).")],
    config: ConfigOption = None,
) -> None:
    """Expire silences now (they stay listed with --expired)."""
    client = _client(config)
    for silence_id in silence_ids:
        client.request("DELETE", f"/api/v2/silence/{silence_id}")
        console.print(f"expired {silence_id}")
