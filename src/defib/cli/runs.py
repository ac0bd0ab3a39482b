"""`defib runs`: list, show, start (or dry-run), approve, reject, cancel and retry playbook runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from defib.cli.client import ApiClient, api_client
from defib.cli.common import ConfigOption, JsonOption
from defib.cli.output import CliError, console, print_json, print_table
from defib.model import format_incident_id, parse_incident_id
from defib.timefmt import display

app = typer.Typer(no_args_is_help=True, help="Playbook runs: list, show, approve, cancel, retry.")

NoteOption = Annotated[str | None, typer.Option("--note", "-m", help="A note for the timeline.")]
StepArg = Annotated[str, typer.Argument(help="Step index (from 0) or name.")]
RunOrIncident = Annotated[
    str, typer.Argument(help="A run id, or an incident id (its run whose step waits).")
]


def _client(config: Path | None) -> ApiClient:
    return api_client(config)


def _show_run(run: dict[str, Any]) -> None:
    dry = " (dry run)" if run["dry_run"] else ""
    console.print(
        f"{run['id']}  {run['incident_id']}  {run['playbook']} v{run['playbook_version']}"
        f"  [bold]{run['status']}[/bold]{dry}"
    )
    if run.get("error"):
        console.print(f"error: {run['error']}")
    print_table(
        None,
        ["#", "step", "action", "status", "attempts", "detail"],
        [
            [
                s["index"],
                s["name"],
                s["action"],
                s["status"],
                s["attempts"],
                _detail(s),
            ]
            for s in run["steps"]
        ],
    )


def _detail(step: dict[str, Any]) -> str:
    if step.get("error"):
        return str(step["error"])
    output = step.get("output") or {}
    if "would" in output:
        return f"would: {output['would']}"
    if step["status"] in ("skipped", "unverified") and output.get("reason"):
        return str(output["reason"])
    if step["status"] == "waiting_approval" and step.get("deadline_at"):
        return f"approve by {step['deadline_at']}"
    if step.get("approval"):
        a = step["approval"]
        return f"{a.get('decision')} by {a.get('by') or '-'} {a.get('note') or ''}".strip()
    return ""


@app.command("list")
def list_(
    incident_id: Annotated[
        str | None, typer.Argument(help="An incident's runs (default: every incident's).")
    ] = None,
    stuck: Annotated[
        bool,
        typer.Option(
            "--stuck", help="Only active runs with no progress past their step's allowance."
        ),
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many (every incident).")] = 50,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Runs, newest first: an incident's, or every incident's (`--stuck`: the stuck ones)."""
    client = _client(config)
    if incident_id is None or stuck:
        params: dict[str, Any] = {"limit": limit}
        if stuck:
            params["stuck"] = "true"
        runs = client.get("/api/v1/runs", params=params)["items"]
        if incident_id is not None:
            runs = [
                r
                for r in runs
                if r["incident_id"] == format_incident_id(parse_incident_id(incident_id))
            ]
        title = "stuck runs" if stuck else "runs"
    else:
        runs = client.get_all(f"/api/v1/incidents/{incident_id}/runs")
        title = f"runs of {incident_id.upper()}"
    if json:
        print_json({"items": runs, "next_cursor": None})
        return
    if stuck and not runs:
        console.print("no stuck runs")
        return
    print_table(
        title,
        ["run", "playbook", "status", "trigger", "dry", "created", "ended", "error"],
        [
            [
                r["id"],
                r["playbook"],
                r["status"],
                r["trigger"],
                "yes" if r["dry_run"] else "",
                display(r["created_at"]),
                display(r["ended_at"]),
                r["error"],
            ]
            for r in runs
        ],
        empty="No playbook has run.",
    )


@app.command()
def show(run_id: str, config: ConfigOption = None, json: JsonOption = False) -> None:
    """One run with its steps."""
    run = _client(config).get(f"/api/v1/runs/{run_id}")
    if json:
        print_json(run)
    else:
        _show_run(run)


@app.command()
def start(
    incident_id: str,
    playbook: Annotated[
        str | None, typer.Option(help="Playbook name (default: the incident type's).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Every step reports what it would do.")
    ] = False,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Start a run by hand."""
    run = _client(config).post(
        f"/api/v1/incidents/{incident_id}/runs", json={"playbook": playbook, "dry_run": dry_run}
    )
    if json:
        print_json(run)
    else:
        console.print(f"started {run['id']} ({run['playbook']}{', dry run' if dry_run else ''})")


def _act(path: str, config: Path | None, json: bool, body: dict[str, Any] | None = None) -> None:
    run = _client(config).post(path, json=body)
    if json:
        print_json(run)
    else:
        _show_run(run)


def _decide(
    run_id: str, step: str, verb: str, note: str | None, config: Path | None, json: bool
) -> None:
    """Send the decision, then show the run once the workflow took it (the API answers before
    the playbook moves on; a responder wants to see what the decision did)."""
    import time

    client = _client(config)
    if run_id.upper().startswith("INC-"):
        run_id, step = _waiting_in_incident(client, run_id, step)
    run = client.post(f"/api/v1/runs/{run_id}/steps/{step}/{verb}", json={"note": note})
    waiting = {s["index"] for s in run["steps"] if s["status"] == "waiting_approval"}
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        current = {s["index"] for s in run["steps"] if s["status"] == "waiting_approval"}
        if current != waiting or run["status"] in TERMINAL:
            break
        time.sleep(0.3)
        run = client.get(f"/api/v1/runs/{run_id}")
    if json:
        print_json(run)
        return
    still = [s for s in run["steps"] if s["index"] in waiting and s["status"] == "waiting_approval"]
    done = "recorded; the playbook has not taken it up yet" if still else "taken"
    console.print(f"{'approved' if verb == 'approve' else 'rejected'} step {step}: {done}")
    _show_run(run)


def _runs_of(client: ApiClient, incident_id: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = client.get_all(f"/api/v1/incidents/{incident_id}/runs")
    return runs


def _waiting_in_incident(client: ApiClient, incident_id: str, step: str) -> tuple[str, str]:
    """`INC-2 review_guardrails`: the run of that incident whose step waits for a decision."""
    for run in _runs_of(client, incident_id):
        for s in run["steps"]:
            if s["status"] == "waiting_approval" and step in (s["name"], str(s["index"])):
                return run["id"], str(s["index"])
    raise CliError(
        f"no step {step!r} of {incident_id} is waiting for approval (see `defib runs list`)"
    )


ACTIVE = ("pending", "running")
# Escalation runs (`oncall-<policy>`, defib.actions.escalate) wait for an acknowledge.
PAGING_PREFIX = "oncall-"
TERMINAL = ("succeeded", "needs_attention", "failed", "cancelled", "timed_out")


@app.command()
def wait(
    incident_id: str,
    timeout: Annotated[float, typer.Option(min=0.5, help="Give up after this many seconds.")] = 60,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Wait until the incident's runs have nothing left to do by themselves (ended, or
    waiting for a person); show them and what waits for whom. Exit 1 on timeout."""
    import time

    client = _client(config)
    deadline = time.monotonic() + timeout
    while True:
        runs = _runs_of(client, incident_id)
        busy = [r for r in runs if r["status"] in ACTIVE and not _only_waiting(r)]
        if runs and not busy:
            break
        if time.monotonic() >= deadline:
            if json:
                print_json({"items": runs, "timed_out": True})
            console.print(
                f"{incident_id}: still running after {timeout:g} s "
                f"({', '.join(r['id'] for r in busy) or 'no run started'})"
            )
            raise typer.Exit(1)
        time.sleep(0.5)
    if json:
        print_json({"items": runs, "timed_out": False})
        return
    for run in runs:
        console.print(f"{run['id']}  {run['playbook']}  {run['status']}", markup=False)
        if run["status"] == "needs_attention":
            # What the run could not do by itself comes first: it is why a person is needed.
            console.print(f"  needs attention: {run.get('error') or ''}", markup=False)
        if str(run["playbook"]).startswith(PAGING_PREFIX) and run["status"] in ACTIVE:
            paged = sum(1 for s in run["steps"] if s["action"] == "page_oncall" and s["ended_at"])
            console.print(
                f"  paging: {paged} page step(s) sent; it escalates until someone"
                f" acknowledges: defib incidents ack {incident_id}",
                markup=False,
            )
        for s in run["steps"]:
            if s["status"] == "unverified":
                why = (s.get("output") or {}).get("reason") or ""
                console.print(
                    f"  step {s['index']} {s['name']} is unverified: {why}. Confirm with"
                    f" defib incidents mitigate {incident_id} once checked",
                    markup=False,
                )
            if s["status"] == "waiting_approval":
                role = (s.get("approval") or {}).get("role") or "responder"
                console.print(
                    f"  step {s['index']} {s['name']} waits for approval ({role}): "
                    f"defib runs approve {incident_id} {s['name']}",
                    markup=False,
                )


def _only_waiting(run: dict[str, Any]) -> bool:
    """Active only because it waits for a person: a step waiting for approval, or a paging
    run, which goes on escalating until someone acknowledges."""
    if str(run["playbook"]).startswith(PAGING_PREFIX):
        return True
    statuses = {s["status"] for s in run["steps"]}
    return "waiting_approval" in statuses and "running" not in statuses


@app.command()
def approve(
    run_id: RunOrIncident,
    step: StepArg,
    note: NoteOption = None,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Approve a step waiting for approval, then show the run as it goes on."""
    _decide(run_id, step, "approve", note, config, json)


@app.command()
def reject(
    run_id: RunOrIncident,
    step: StepArg,
    note: NoteOption = None,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Refuse a step waiting for approval (it is skipped), then show the run."""
    _decide(run_id, step, "reject", note, config, json)


@app.command()
def cancel(run_id: str, config: ConfigOption = None, json: JsonOption = False) -> None:
    """Cancel an active run."""
    _act(f"/api/v1/runs/{run_id}/cancel", config, json)


@app.command()
def retry(
    run_id: str,
    step: Annotated[
        str | None,
        typer.Argument(help="Step index (from 0) or name (default: the first failed step)."),
    ] = None,
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Retry a failed step of an ended run (then the steps its failure cut short); this is
    how a run the reconciler failed is resumed."""
    if step is None:
        run = _client(config).get(f"/api/v1/runs/{run_id}")
        failed = [s for s in run["steps"] if s["status"] in ("failed", "timed_out")]
        if not failed:
            console.print(f"run {run_id} has no failed step to retry ({run['status']})")
            raise typer.Exit(1)
        step = str(failed[0]["index"])
    _act(f"/api/v1/runs/{run_id}/steps/{step}/retry", config, json)


def approvals(config: ConfigOption = None, json: JsonOption = False) -> None:
    """Every step waiting for a decision, across incidents, oldest first."""
    client = _client(config)
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        data = client.get("/api/v1/approvals", params=params)
        items += data["items"]
        cursor = data.get("next_cursor")
        if not cursor:
            break
    if json:
        print_json({"items": items})
        return
    print_table(
        "waiting for approval",
        ["incident", "severity", "run", "step", "role", "waiting since", "deadline"],
        [
            [
                a["incident_id"],
                a["incident_severity"],
                a["run_id"],
                f"{a['step_index']} {a['step']}",
                a["role"],
                a["waiting_since"],
                a["deadline_at"],
            ]
            for a in items
        ],
        empty="Nothing waits for approval.",
    )
    if items:
        console.print("Decide with `defib runs approve|reject INC-n STEP` (or in the console).")
