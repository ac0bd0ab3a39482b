"""Liveness and readiness probes (no auth: load balancers call them)."""

from __future__ import annotations

import re

from fastapi import APIRouter

from defib import __version__
from defib.api.deps import RuntimeDep
from defib.api.errors import ApiError, error_responses
from defib.api.schemas import Health
from defib.store.outage import RETRY_AFTER_SECONDS

router = APIRouter(tags=["health"])

# An absolute path (POSIX or Windows drive) up to whitespace, a quote or a colon-space.
_ABSOLUTE = re.compile(r"(?<![\w.:/])(?:/|[A-Za-z]:\\)[^\s'\"]*")


def public(text: str) -> str:
    """`text` without the host's directory layout: anyone may call the probes, and a path
    tells an intruder where the data, the keys and the logs are (issue 25). The full text
    is in the log, where defib wrote it at start or when the check failed."""
    return _ABSOLUTE.sub(lambda m: "…/" + re.split(r"[/\\]", m.group(0).rstrip("/\\"))[-1], text)


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok", version=__version__)


@router.get(
    "/readyz",
    response_model=Health,
    responses=error_responses(
        503,
        base=(),
        d503="the database is unreachable or cannot take writes, or evidence checkpoints "
        "cannot be written",
    ),
)
def readyz(runtime: RuntimeDep) -> Health:
    """The database answers and can take writes (SQLite: its disk takes a small write), and
    no process's last evidence checkpoint write failed."""
    try:
        runtime.db.check_usable()
    except Exception as exc:
        raise ApiError(
            503,
            "not_ready",
            public(f"storage unavailable: {type(exc).__name__}: {exc}")[:300],
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from exc
    # Evidence must be anchored before its step succeeds: a checkpoint log or mirror that
    # cannot be written makes this process not ready, and so does any host's failed write
    # recorded in the database (a standalone worker has no /readyz of its own; issue 25).
    problem = runtime.evidence.anchor.problem() if runtime.evidence.anchor else None
    if problem is not None:
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        raise ApiError(503, "not_ready", public(problem)[:300], retry)
    warnings = [public(w) for w in runtime.security_warnings + runtime.config_warnings]
    return Health(status="ready", version=__version__, warnings=warnings)
