"""Liveness and readiness probes (no auth: load balancers call them)."""

from __future__ import annotations

from fastapi import APIRouter

from defib import __version__
from defib.api.deps import RuntimeDep
from defib.api.errors import ApiError
from defib.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok", version=__version__)


@router.get(
    "/readyz", response_model=Health, responses={503: {"description": "database unreachable"}}
)
def readyz(runtime: RuntimeDep) -> Health:
    """The database answers."""
    try:
        runtime.db.ping()
    except Exception as exc:
        raise ApiError(503, "not_ready", f"database unreachable: {type(exc).__name__}") from exc
    return Health(status="ready", version=__version__)
