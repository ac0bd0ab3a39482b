"""`defib report`, `defib postmortem INC-n` and `defib review INC-n`: numbers and reviews."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from defib.cli.client import api_client
from defib.cli.common import ConfigOption, JsonOption
from defib.cli.output import console, fail, print_json, print_table

_FORMATS = ("md", "html", "json", "aiid")


def _seconds(value: float | None) -> str:
    from defib.postmortem.render import duration

    return duration(value)


def report(
    since: Annotated[str, typer.Option(help="Period back from now: 30d, 12h, 2w.")] = "30d",
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Incident counts and MTTA/MTTM/MTTR (p50, p90) per type and severity, top systems,
    reopen rate, and how many the playbook mitigated alone."""
    data = api_client(config).get("/api/v1/reports/response", params={"since": since})
    if json:
        print_json(data)
        return
    rows = [
        [
            g["type"],
            g["severity"],
            g["incidents"],
            *(
                f"{_seconds(g[m]['p50'])} / {_seconds(g[m]['p90'])}"
                for m in ("mtta", "mttm", "mttr")
            ),
        ]
        for g in data["by_type_severity"]
    ]
    o = data["overall"]
    rows.append(
        [
            "all",
            "",
            o["incidents"],
            *(
                f"{_seconds(o[m]['p50'])} / {_seconds(o[m]['p90'])}"
                for m in ("mtta", "mttm", "mttr")
            ),
        ]
    )
    print_table(
        f"response since {data['since']}",
        ["type", "severity", "incidents", "MTTA p50/p90", "MTTM p50/p90", "MTTR p50/p90"],
        rows,
    )
    print_table(
        "top systems",
        ["system", "incidents"],
        [[s["system"], s["incidents"]] for s in data["top_systems"]],
    )
    m = data["mitigated"]
    share = f"{m['playbook_share']:.0%}" if m["playbook_share"] is not None else "-"
    rate = f"{data['reopen_rate']:.1%}" if data["reopen_rate"] is not None else "-"
    console.print(
        f"mitigated: {m['total']} ({m['by_playbook']} by the playbook alone, "
        f"{m['by_person']} by a person; playbook share {share}); reopen rate {rate}"
    )


def postmortem(
    incident_id: str,
    format: Annotated[str, typer.Option("--format", "-f", help="md, html, json or aiid.")] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """An incident's postmortem (summary, impact, timeline, playbook, evidence, taxonomy,
    review) as Markdown, HTML, JSON or an AI Incident Database report."""
    if format not in _FORMATS:
        fail(f"--format: {format!r} is not one of {', '.join(_FORMATS)}")
    client = api_client(config)
    path = f"/api/v1/incidents/{incident_id}/postmortem"
    if format in ("md", "html"):
        # Rendered here from the JSON document with the same templates the server uses.
        from defib.postmortem.render import render

        text = render(client.get(path), format)
    else:
        doc = client.get(path, params={"format": format})
        text = orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}")


def review(
    incident_id: str,
    summary: Annotated[str | None, typer.Option(help="Replace the summary.")] = None,
    factor: Annotated[
        list[str] | None, typer.Option("--factor", help="A contributing factor (repeat; replaces).")
    ] = None,
    lesson: Annotated[
        list[str] | None, typer.Option("--lesson", help="A lesson (repeat; replaces).")
    ] = None,
    action: Annotated[
        list[str] | None,
        typer.Option(
            "--action", help="An action item, `text` or `text @owner` (repeat; replaces)."
        ),
    ] = None,
    owasp: Annotated[
        list[str] | None, typer.Option("--owasp", help="OWASP LLM id (repeat).")
    ] = None,
    atlas: Annotated[
        list[str] | None, typer.Option("--atlas", help="MITRE ATLAS id (repeat).")
    ] = None,
    nist: Annotated[
        list[str] | None, typer.Option("--nist", help="NIST AI 600-1 id (repeat).")
    ] = None,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Show or edit an incident's review fields and taxonomy mapping (each edit is on the
    timeline). With no options it shows them."""
    client = api_client(config)
    base = f"/api/v1/incidents/{incident_id}"
    change: dict[str, Any] = {}
    if summary is not None:
        change["summary"] = summary
    if factor:
        change["contributing_factors"] = factor
    if lesson:
        change["lessons"] = lesson
    if action:
        items = []
        for a in action:
            text, _, owner = a.partition(" @")
            items.append({"text": text.strip(), "owner": owner.strip() or None})
        change["action_items"] = items
    got = client.patch(f"{base}/review", json=change) if change else client.get(f"{base}/review")
    if owasp or atlas or nist:
        current = client.get(f"{base}/taxonomy")
        ids = {
            fw: [e["id"] for e in current[fw]]
            for fw in ("owasp_llm", "mitre_atlas", "nist_ai_600_1")
        }
        for fw, given in (("owasp_llm", owasp), ("mitre_atlas", atlas), ("nist_ai_600_1", nist)):
            if given:
                ids[fw] = given
        taxonomy = client.request("PUT", f"{base}/taxonomy", json=ids)
    else:
        taxonomy = client.get(f"{base}/taxonomy")
    if json:
        print_json({"review": got, "taxonomy": taxonomy})
        return
    console.print(f"[bold]{got['incident_id']}[/bold] summary: {got['summary'] or '-'}")
    for key, title in (("contributing_factors", "contributing factors"), ("lessons", "lessons")):
        console.print(f"{title}: " + ("; ".join(got[key]) or "-"))
    for item in got["action_items"]:
        mark = "x" if item["done"] else " "
        owner = f" ({item['owner']})" if item.get("owner") else ""
        console.print(f"  [{mark}] {item['text']}{owner}")
    for fw, title in (
        ("owasp_llm", "OWASP LLM"),
        ("mitre_atlas", "MITRE ATLAS"),
        ("nist_ai_600_1", "NIST AI 600-1"),
    ):
        console.print(
            f"{title}: " + ("; ".join(f"{e['id']} {e['name']}" for e in taxonomy[fw]) or "-")
        )
    console.print("basis: " + ", ".join(taxonomy["basis"]))
