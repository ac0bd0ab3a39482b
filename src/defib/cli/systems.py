"""`defib systems list|show NAME`: the systems defib protects, from the config (no server)."""

from __future__ import annotations

from typing import Any

import typer

from defib.cli.common import ConfigOption, JsonOption, settings_or_exit
from defib.cli.output import fail, print_json, print_table
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
