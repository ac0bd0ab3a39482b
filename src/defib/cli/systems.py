"""`defib systems`: the systems defib protects.

`list` and `show` read the config (no server). `state`, `disable`, `enable`, `route`,
`unfilter`, `versions` and `mark` act on a running server's enforced state (`DEFIB_URL`).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from defib.cli.client import ApiClient, api_client
from defib.cli.common import ConfigOption, JsonOption, settings_or_exit
from defib.cli.output import console, fail, print_json, print_table
from defib.timefmt import display

if TYPE_CHECKING:
    # The settings cost about 300 ms to import; `--help` never needs them.
    from defib.config import SystemConfig

app = typer.Typer(no_args_is_help=True, help="The systems: section of the config.")


def _public(system: SystemConfig) -> dict[str, Any]:
    """The system as configured, with webhook URLs masked (their path is the secret)."""
    from defib.integrations.base import mask_url

    data = system.model_dump(mode="json")
    owners = data["owners"]
    if owners.get("slack_webhook"):
        owners["slack_webhook"] = mask_url(owners["slack_webhook"])
    for hook in owners.get("webhooks", []):
        hook["url"] = mask_url(hook["url"])
    return data


def _channels(system: SystemConfig) -> str:
    o = system.owners
    names = [
        name
        for name, present in (
            ("slack", o.slack_webhook),
            ("email", o.emails),
            ("webhook", o.webhooks),
            ("pagerduty", o.pagerduty_routing_key),
            ("security", o.security_contacts),
        )
        if present
    ]
    return ", ".join(names) or "-"


@app.command("list")
def list_(config: ConfigOption = None, json: JsonOption = False) -> None:
    """Every configured system."""
    settings = settings_or_exit(config)
    if json:
        print_json([_public(s) for s in settings.systems])
        return
    if not settings.systems:
        console.print(
            "no systems configured: pass --config FILE (or set DEFIB_CONFIG); "
            "`defib init` writes an example defib.yaml",
            markup=False,
        )
        return
    print_table(
        "systems",
        ["name", "tier", "team", "channels"],
        [[s.name, s.tier, s.owners.team or "-", _channels(s)] for s in settings.systems],
    )


@app.command()
def show(name: str, config: ConfigOption = None, json: JsonOption = False) -> None:
    """One system: owners, channels, evidence paths (webhook URLs masked)."""
    settings = settings_or_exit(config)
    system = settings.system(name)
    if system is None:
        known = ", ".join(s.name for s in settings.systems) or "none configured"
        fail(f"no system {name!r} in the config (known: {known})")
    data = _public(system)
    if json:
        print_json(data)
        return
    o = data["owners"]
    print_table(
        f"system {system.name}",
        ["key", "value"],
        [
            ["tier", data["tier"]],
            ["description", data["description"] or "-"],
            ["team", o["team"] or "-"],
            ["slack_webhook", o["slack_webhook"] or "-"],
            ["emails", ", ".join(o["emails"]) or "-"],
            ["pagerduty_routing_key", "set" if o["pagerduty_routing_key"] else "-"],
            ["security_contacts", ", ".join(o["security_contacts"]) or "-"],
            ["webhooks", ", ".join(h["url"] for h in o["webhooks"]) or "-"],
            ["evidence_paths", ", ".join(data["evidence_paths"]) or "-"],
        ],
    )


# -- commands that act on a running server (the enforced state, versions) -------------------

IncidentOption = Annotated[
    str | None,
    typer.Option("--incident", "-i", help="The incident that owns the change (INC-n)."),
]


def _client(config: Path | None) -> ApiClient:
    return api_client(config)


def _print_state(data: dict[str, Any], json: bool) -> None:
    if json:
        print_json(data)
        return
    state = data.get("state", data)
    disabled = "DISABLED" if state["disabled"] else "enabled"
    if state["disabled"] and state["disabled_by"] is not None:
        disabled += f" by INC-{state['disabled_by']}"
        if state["disabled_reason"]:
            disabled += f" ({state['disabled_reason']})"
    print_table(
        f"system {state['system']}",
        ["key", "value"],
        [
            ["kill switch", disabled],
            ["active_version", state["active_version"] or "-"],
            ["filters", len(state["filters"])],
            ["revision", state["revision"]],
            [
                "updated",
                f"{display(state['updated_at']) or '-'} by {state['updated_by']}",
            ],
        ],
    )
    if state["filters"]:
        print_table(
            "output filters",
            ["id", "kind", "what", "action", "incident"],
            [
                [
                    f["id"],
                    f["kind"],
                    f["pattern"]
                    if f["kind"] == "pattern"
                    else f"{f['detector']}>={f['threshold']}",
                    f["action"],
                    f"INC-{f['incident_seq']}" if f["incident_seq"] else "-",
                ]
                for f in state["filters"]
            ],
        )


def _put(config: Path | None, name: str, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _client(config).request(
        "PUT",
        f"/api/v1/systems/{name}/state",
        json={k: v for k, v in body.items() if v is not None},
    )
    return out


@app.command()
def state(name: str, config: ConfigOption = None, json: JsonOption = False) -> None:
    """What defib enforces on a system now: kill switch, version served, output filters."""
    _print_state(_client(config).get(f"/api/v1/systems/{name}"), json)


@app.command()
def disable(
    name: str,
    incident: IncidentOption = None,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (shown to people).")] = "",
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Turn a system's kill switch on (the gateway answers 503 or its fallback)."""
    _print_state(
        _put(config, name, {"disabled": True, "incident": incident, "reason": reason}), json
    )


@app.command()
def enable(
    name: str,
    incident: IncidentOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Also lift a kill switch another incident set.")
    ] = False,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Turn a system's kill switch off (with --incident: only if that incident set it)."""
    body = {"disabled": False, "incident": incident, "force": force or None}
    _print_state(_put(config, name, body), json)


@app.command()
def route(
    name: str,
    version: str,
    incident: IncidentOption = None,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Serve VERSION of a gateway-routed system."""
    _print_state(_put(config, name, {"active_version": version, "incident": incident}), json)


@app.command()
def unfilter(
    name: str,
    incident: Annotated[
        str, typer.Option("--incident", "-i", help="Remove the output filters this incident added.")
    ],
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Remove the output filters an incident added (block_output, update_content_filters)."""
    _print_state(_put(config, name, {"clear_filters_of": incident, "incident": incident}), json)


@app.command()
def versions(name: str, config: ConfigOption = None, json: JsonOption = False) -> None:
    """A system's model versions, oldest first, with their marks and service times."""
    data = _client(config).get(f"/api/v1/systems/{name}")
    if json:
        print_json(data["versions"])
        return
    active = data["state"]["active_version"]
    print_table(
        f"versions of {name}",
        ["version", "status", "active", "first served", "last served", "marked by", "note"],
        [
            [
                v["name"],
                v["status"],
                "*" if v["name"] == active else "",
                display(v["first_served_at"]) or "-",
                display(v["last_served_at"]) or "-",
                v["marked_by"] or "-",
                v["note"] or "",
            ]
            for v in data["versions"]
        ],
    )


class Mark(enum.StrEnum):
    good = "good"
    bad = "bad"
    unknown = "unknown"


@app.command()
def mark(
    name: str,
    version: str,
    status: Annotated[Mark, typer.Argument(help="good, bad or unknown.")],
    note: Annotated[str, typer.Option("--note", "-m", help="Why.")] = "",
    incident: IncidentOption = None,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Mark a model version good or bad (rollback_model never picks a bad one)."""
    body = {"status": status.value, "note": note, "incident": incident}
    out = _client(config).post(
        f"/api/v1/systems/{name}/versions/{version}",
        json={k: v for k, v in body.items() if v is not None},
    )
    if json:
        print_json(out)
        return
    console.print(f"{name} {out['name']}: {out['status']} (by {out['marked_by']})")
