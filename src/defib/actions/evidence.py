"""`collect_evidence` and `preserve_evidence`: the incident's records and log files, stored
content-addressed and hash-chained (see `defib.evidence`).

Collected: the incident record, its timeline, every stored alert (raw payload, samples
included); with `flavour: hallucination` also `samples.json` (each sample's prompt,
response and retrieved context); files matching `paths:` globs (and, for
`preserve_evidence`, each affected system's `evidence_paths`) modified within the incident
window. Items are keyed `<run id>:<step index>:<name>`, so a re-executed step adds none twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import glob
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from defib.actions.base import ActionContext, ActionError, ActionResult
from defib.actions.environment import ActionEnvironment
from defib.events import TimelineKind
from defib.evidence import ItemDraft
from defib.evidence.anchor import AnchorError
from defib.store import evidence as evidence_repo
from defib.store import incidents as incident_repo

DEFAULT_WINDOW_BEFORE_SECONDS = 3600
DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024


def _samples(value: Any) -> Iterator[dict[str, Any]]:
    """Every `samples` entry anywhere in a payload (native alerts, annotations, nested)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "samples" and isinstance(inner, list):
                yield from (s for s in inner if isinstance(s, dict))
            else:
                yield from _samples(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _samples(inner)


class EvidenceAction:
    def __init__(self, name: str, *, system_files: bool) -> None:
        self.name = name
        self.system_files = system_files

    def _number(self, ctx: ActionContext, key: str, default: int) -> int:
        value = ctx.params.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ActionError(f"params.{key}: must be an integer >= 0")
        return value

    def _patterns(self, ctx: ActionContext, env: ActionEnvironment) -> list[str]:
        raw = ctx.params.get("paths", [])
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
            raise ActionError("params.paths: must be a glob or a list of globs")
        patterns = list(raw)
        if self.system_files:
            for name in ctx.incident.get("systems", ()):
                system = env.settings.system(str(name))
                if system is not None:
                    patterns.extend(system.evidence_paths)
        return patterns

    def gather(
        self, ctx: ActionContext, env: ActionEnvironment
    ) -> tuple[list[ItemDraft], list[dict[str, str]]]:
        seq = int(ctx.incident["seq"])
        flavour = ctx.params.get("flavour")
        with env.db.read() as conn:
            incident = incident_repo.get_incident(conn, seq)
            events = incident_repo.list_events(conn, seq, limit=1_000_000)
            alerts = evidence_repo.alerts_for_incident(conn, seq)
        drafts = [
            ItemDraft.json("incident", "incident.json", dataclasses.asdict(incident)),
            ItemDraft.json(
                "timeline",
                "timeline.json",
                [
                    {"id": e.id, "at": e.at, "actor": e.actor, "kind": e.kind, "data": e.data}
                    for e in events
                ],
                events=len(events),
            ),
        ]
        samples: list[dict[str, Any]] = []
        for alert in alerts:
            drafts.append(
                ItemDraft.json("alert", f"alerts/{alert['id']}.json", alert, alert_id=alert["id"])
            )
            for sample in _samples(alert["payload"]):
                samples.append({"alert_id": alert["id"], **sample})
        if flavour == "hallucination":
            drafts.append(
                ItemDraft.json(
                    "samples",
                    "samples.json",
                    [
                        {
                            "alert_id": s["alert_id"],
                            "prompt": s.get("prompt"),
                            "response": s.get("response"),
                            "context": s.get("context"),
                            "user_id": s.get("user_id"),
                            "extra": {
                                k: v
                                for k, v in s.items()
                                if k not in ("alert_id", "prompt", "response", "context", "user_id")
                            },
                        }
                        for s in samples
                    ],
                    samples=len(samples),
                    flavour="hallucination",
                )
            )
        elif flavour is not None:
            raise ActionError("params.flavour: only 'hallucination' is known")
        start = (incident.first_seen_at or incident.detected_at) - timedelta(
            seconds=self._number(ctx, "window_before_seconds", DEFAULT_WINDOW_BEFORE_SECONDS)
        )
        files, skipped = self._files(ctx, env, start)
        return drafts + files, skipped

    def _files(
        self, ctx: ActionContext, env: ActionEnvironment, start: datetime
    ) -> tuple[list[ItemDraft], list[dict[str, str]]]:
        limit = self._number(ctx, "max_file_bytes", DEFAULT_MAX_FILE_BYTES)
        found: dict[str, None] = {}
        for pattern in self._patterns(ctx, env):
            for match in sorted(glob.glob(os.path.expanduser(pattern), recursive=True)):
                found[str(Path(match).resolve())] = None
        drafts: list[ItemDraft] = []
        skipped: list[dict[str, str]] = []
        for path in found:
            p = Path(path)
            try:
                stat = p.stat()
                if not p.is_file():
                    continue
                mtime = datetime.fromtimestamp(stat.st_mtime, UTC)
                if mtime < start:
                    skipped.append({"path": path, "reason": "last modified before the window"})
                    continue
                if stat.st_size > limit:
                    skipped.append({"path": path, "reason": f"larger than {limit} bytes"})
                    continue
                data = p.read_bytes()
            except OSError as exc:
                skipped.append({"path": path, "reason": exc.strerror or str(exc)})
                continue
            media = "text/plain" if _looks_text(data) else "application/octet-stream"
            drafts.append(
                ItemDraft(
                    "file",
                    f"files{path}",
                    data,
                    media,
                    {
                        "path": path,
                        "modified_at": mtime.isoformat(),
                        "window_start": start.isoformat(),
                    },
                )
            )
        return drafts, skipped

    async def run(self, ctx: ActionContext) -> ActionResult:
        env = ctx.env
        drafts, skipped = await asyncio.to_thread(self.gather, ctx, env)
        service = env.evidence
        seq = int(ctx.incident["seq"])
        try:
            # Stores, commits and anchors: the step succeeds only once a signed checkpoint
            # vouches for its items (a re-execution anchors what an earlier try could not).
            items, new = await asyncio.to_thread(
                service.add, seq, drafts, ctx.actor, key_prefix=ctx.idempotency_key
            )
        except AnchorError as exc:
            raise ActionError(str(exc)) from exc
        head = await asyncio.to_thread(_head, env, seq)
        summary = [{"n": i["n"], "name": i["name"], "sha256": i["sha256"]} for i in items]
        await ctx.record(
            TimelineKind.STEP_EVIDENCE_COLLECTED,
            {
                "action": self.name,
                "step": ctx.step_name,
                "items": summary,
                "new": new,
                "head": head,
                "skipped": skipped,
            },
            "evidence",
        )
        return ActionResult(
            detail={"items": len(items), "new": new, "head": head, "skipped_files": len(skipped)}
        )

    def describe(self, ctx: ActionContext) -> str:
        env = ctx.env
        patterns = self._patterns(ctx, env)
        what = "incident, timeline, alerts"
        if ctx.params.get("flavour") == "hallucination":
            what += ", samples"
        if patterns:
            what += f", files matching {', '.join(patterns)}"
        return f"{self.name}: store {what} as hash-chained evidence"


def _head(env: ActionEnvironment, seq: int) -> str | None:
    with env.db.read() as conn:
        last = evidence_repo.last_item(conn, seq)
    return str(last["chain_hash"]) if last else None


def _looks_text(data: bytes) -> bool:
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in data[:65536]
