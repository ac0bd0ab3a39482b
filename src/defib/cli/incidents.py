"""`defib incidents`, `defib timeline`, `defib alert`: act on a running server over HTTP."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from defib.cli.client import ApiClient, api_client
from defib.cli.common import ConfigOption, JsonOption
from defib.cli.output import console, fail, print_json, print_table
from defib.model import Command, IncidentType, Severity, Status
from defib.timefmt import display

app = typer.Typer(no_args_is_help=True, help="List, show, declare and move incidents.")
alert_app = typer.Typer(no_args_is_help=True, help="Send alerts to defib.")

NoteOption = Annotated[str | None, typer.Option("--note", "-m", help="A note for the timeline.")]


def _client(config: Path | None) -> ApiClient:
    return api_client(config)


def _show_incident(inc: dict[str, Any]) -> None:
    rows = [
        ("id", inc["id"]),
        ("title", inc["title"]),
        (
            "type",
            inc["type"] + (" (needs triage: a best guess)" if inc.get("needs_triage") else ""),
        ),
        ("severity", inc["severity"]),
        ("status", inc["status"]),
        ("systems", ", ".join(inc["affected_systems"])),
        ("commander", inc["commander"]),
        ("alerts received", inc["alert_count"]),
        ("detected", display(inc["detected_at"])),
        ("acknowledged", _at(inc["acknowledged_at"])),
        ("mitigated", _at(inc["mitigated_at"])),
        ("resolved", _at(inc["resolved_at"])),
        ("closed", _at(inc["closed_at"])),
    ]
    print_table(None, ["field", "value"], [(k, v) for k, v in rows if v not in (None, "")])
    if inc.get("description"):
        console.print(inc["description"])


@app.command("list")
def list_(
    config: ConfigOption = None,
    status: Annotated[list[Status] | None, typer.Option(help="Repeatable.")] = None,
    type_: Annotated[list[IncidentType] | None, typer.Option("--type", help="Repeatable.")] = None,
    severity: Annotated[list[Severity] | None, typer.Option(help="Repeatable.")] = None,
    system: Annotated[
        str | None, typer.Option(help="Only incidents affecting this system.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option(help="From a previous page's next_cursor.")] = None,
    json: JsonOption = False,
) -> None:
    """Incidents, newest first."""
    params: dict[str, Any] = {"limit": limit}
    for key, values in (("status", status), ("type", type_), ("severity", severity)):
        if values:
            params[key] = [v.value for v in values]
    if system:
        params["system"] = system
    if cursor:
        params["cursor"] = cursor
    page = _client(config).get("/api/v1/incidents", params=params)
    if json:
        print_json(page)
        return
    print_table(
        "incidents",
        ["id", "sev", "type", "status", "title", "systems", "alerts", "detected"],
        [
            [
                i["id"],
                i["severity"],
                i["type"],
                i["status"],
                i["title"],
                ", ".join(i["affected_systems"]),
                i["alert_count"],
                display(i["detected_at"]),
            ]
            for i in page["items"]
        ],
        empty="No incidents match.",
    )
    if page.get("next_cursor"):
        console.print(f"more: --cursor {page['next_cursor']}")


def _show_alerts(alerts: list[dict[str, Any]]) -> None:
    """The alerts the incident holds, each with its own state: a resolve clears only its
    own alert, so which still fire is what a responder needs to see."""
    firing = sum(1 for a in alerts if a["firing"])
    title = f"alerts ({firing} of {len(alerts)} firing)" if alerts else None
    print_table(
        title,
        ["alert", "state", "since"],
        [
            [a["key"], "firing" if a["firing"] else "resolved", display(a["changed_at"])]
            for a in alerts
        ],
        empty="No alerts: none feeds this incident (an incident declared by hand has none).",
    )


@app.command()
def show(incident_id: str, config: ConfigOption = None, json: JsonOption = False) -> None:
    """One incident and the alerts it holds (each alert's source identity, whether it still
    fires, since when). --json prints the incident as the API returns it; its alerts are
    at GET /api/v1/incidents/{id}/alerts."""
    client = _client(config)
    inc = client.get(f"/api/v1/incidents/{incident_id}")
    if json:
        print_json(inc)
        return
    _show_incident(inc)
    _show_alerts(client.get_all(f"/api/v1/incidents/{incident_id}/alerts"))


@app.command()
def declare(
    title: Annotated[str, typer.Option(help="What is wrong, in a line.")],
    type_: Annotated[IncidentType, typer.Option("--type")],
    severity: Annotated[Severity, typer.Option()],
    system: Annotated[list[str] | None, typer.Option(help="Affected system; repeatable.")] = None,
    description: Annotated[str, typer.Option()] = "",
    commander: Annotated[str | None, typer.Option()] = None,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Declare an incident by hand."""
    body = {
        "title": title,
        "type": type_.value,
        "severity": severity.value,
        "affected_systems": system or [],
        "description": description,
        "commander": commander,
    }
    inc = _client(config).post("/api/v1/incidents", json=body)
    if json:
        print_json(inc)
    else:
        console.print(f"declared {inc['id']}: {inc['title']}")


def _lifecycle(command: Command, verb: str) -> None:
    def handler(
        incident_id: str,
        note: NoteOption = None,
        config: ConfigOption = None,
        json: JsonOption = False,
    ) -> None:
        inc = _client(config).post(
            f"/api/v1/incidents/{incident_id}/{command.value}", json={"note": note}
        )
        if json:
            print_json(inc)
        else:
            console.print(f"{inc['id']} is now {inc['status']}")

    handler.__doc__ = f"{command.value.capitalize()} an incident."
    app.command(verb)(handler)


for _verb, _command in (
    ("ack", Command.ACKNOWLEDGE),
    ("mitigate", Command.MITIGATE),
    ("resolve", Command.RESOLVE),
    ("close", Command.CLOSE),
    ("reopen", Command.REOPEN),
):
    _lifecycle(_command, _verb)


@app.command()
def note(
    incident_id: str,
    text: Annotated[str, typer.Argument(help="The note.")],
    config: ConfigOption = None,
) -> None:
    """Add a note to an incident's timeline."""
    _client(config).post(f"/api/v1/incidents/{incident_id}/notes", json={"text": text})
    console.print("noted")


@app.command()
def retype(
    incident_id: str,
    type_: Annotated[IncidentType, typer.Argument(metavar="TYPE", help="The incident's type.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (on the timeline).")],
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Set an incident's type (answer a needs-triage incident); starts that type's playbook."""
    inc = _client(config).post(
        f"/api/v1/incidents/{incident_id}/retype", json={"type": type_.value, "reason": reason}
    )
    if json:
        print_json(inc)
    else:
        console.print(f"{inc['id']} is now {inc['type']} ({inc['severity']})")


def timeline(incident_id: str, config: ConfigOption = None, json: JsonOption = False) -> None:
    """An incident's timeline, oldest first."""
    import shutil

    from defib.cli.timeline_format import format_events

    events = _client(config).get_all(f"/api/v1/incidents/{incident_id}/timeline")
    if json:
        print_json({"items": events, "next_cursor": None})
        return
    width = shutil.get_terminal_size((80, 24)).columns  # not a terminal: 80
    print(f"timeline of {incident_id.upper()}")
    for line in format_events(events, width):
        print(line)


def _at(value: str | None) -> str | None:
    return display(value) if value else None


@alert_app.command("send")
def send(
    file: Annotated[str, typer.Argument(help="A JSON payload file, or - for stdin.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="alertmanager|grafana|pagerduty|prometheus|native"),
    ] = None,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Send one alert payload (any supported format) to the server."""
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail(f"{file}: {exc.strerror or exc}")
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        fail(f"{file}: not valid JSON ({exc})")
    path = f"/api/v1/alerts/{fmt}" if fmt else "/api/v1/alerts"
    result = _client(config).post(path, json=payload)
    if json:
        print_json(result)
        return
    for r in result["results"]:
        where = f"{r['incident_id']} " if r["incident_id"] else ""
        kind = f"{r['type']} {r['severity']}" if r["type"] else "no incident"
        console.print(f"{r['action']}: {where}({kind}) {r['reason']}", markup=False)
