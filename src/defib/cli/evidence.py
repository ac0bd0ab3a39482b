"""`defib evidence list|show|verify INCIDENT`: the incident's tamper-evident evidence."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from defib.cli.client import ApiClient, api_client
from defib.cli.common import ConfigOption, JsonOption
from defib.cli.output import console, print_json, print_table
from defib.timefmt import display

app = typer.Typer(no_args_is_help=True, help="Evidence: list, show (redacted), verify the chain.")

# verify found a broken item (usage errors exit 2)
EXIT_NOTHING = 3  # no evidence to verify
EXIT_BROKEN = 1


def _client(config: Path | None) -> ApiClient:
    return api_client(config)


@app.command("list")
def list_(incident_id: str, config: ConfigOption = None, json: JsonOption = False) -> None:
    """An incident's evidence items in chain order."""
    items = _client(config).get_all(f"/api/v1/incidents/{incident_id}/evidence")
    if json:
        print_json({"items": items, "next_cursor": None})
        return
    print_table(
        f"evidence of {incident_id.upper()}",
        ["n", "kind", "name", "size", "sha256", "collected", "by"],
        [
            [
                i["n"],
                i["kind"],
                i["name"],
                i["size"],
                i["sha256"][:16],
                display(i["collected_at"]),
                i["collected_by"],
            ]
            for i in items
        ],
        empty="No evidence preserved yet.",
    )
    if items:
        console.print(f"head {items[-1]['chain_hash']}")


@app.command()
def show(
    incident_id: str,
    n: Annotated[int, typer.Argument(help="Item number (from `defib evidence list`).")],
    raw: Annotated[bool, typer.Option("--raw", help="Unredacted (admin tokens only).")] = False,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """One item; PII and secrets are masked unless --raw."""
    item = _client(config).get(
        f"/api/v1/incidents/{incident_id}/evidence/{n}", params={"raw": str(raw).lower()}
    )
    if json:
        print_json(item)
        return
    redacted = ""
    if item["redacted"]:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(item["redactions"].items()))
        redacted = f"  redacted ({counts or 'nothing found'})"
    console.print(
        f"{item['incident_id']} #{item['n']} {item['kind']} {item['name']}"
        f"  {item['size']} bytes  sha256 {item['sha256']}{redacted}"
    )
    if item["content"] is not None:
        sys.stdout.write(item["content"].rstrip("\n") + "\n")
    elif item["content_base64"] is not None:
        sys.stdout.write(item["content_base64"] + "\n")
    else:
        console.print("(binary content: shown only with --raw)")


@app.command()
def verify(incident_id: str, config: ConfigOption = None, json: JsonOption = False) -> None:
    """Recompute every hash and the chain; exit 1 naming the first broken item."""
    report = _client(config).get(f"/api/v1/incidents/{incident_id}/evidence/verify")
    anchor = report.get("anchor") or {}
    if json:
        print_json(report)
    elif not report["ok"]:
        # Before "nothing there": items deleted behind defib's back leave an empty chain
        # that the signed checkpoints still remember.
        first = report["first_broken"]
        console.print(
            f"{report['incident_id']}: BROKEN at item {first['n']} ({first['name']}): "
            f"{first['reason']}"
        )
        for b in report["broken"][1:]:
            console.print(f"  also item {b['n']} ({b['name']}): {b['reason']}")
    elif report["items"] == 0 and report.get("deleted"):
        console.print(
            f"{report['incident_id']}: evidence deleted (a signed retention purge removed "
            "every item); nothing to verify"
        )
    elif report["items"] == 0:
        console.print(f"{report['incident_id']}: no evidence collected yet; nothing to verify")
    else:
        console.print(
            f"{report['incident_id']}: {report['items']} items verified, head {report['head']}"
        )
        if anchor:
            pending = anchor.get("pending_items") or []
            console.print(
                f"  matches {anchor['checkpoints']} signed checkpoint(s), the newest of "
                f"{anchor['newest_checkpoint_at']} (keys: {anchor.get('trust', 'own key')})"
                + (
                    f"; {len(pending)} item(s) still being collected by a running step"
                    if pending
                    else ""
                )
            )
    if not json:
        for warning in anchor.get("warnings") or []:
            console.print(f"  warning: {warning}")
    if not report["ok"]:
        raise typer.Exit(EXIT_BROKEN)
    if report["items"] == 0:
        # Not a success: a script must not read "nothing there" as "verified".
        raise typer.Exit(EXIT_NOTHING)
