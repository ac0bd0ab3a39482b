"""`GET /api/v2/alerts`: the alerts defib holds, as Alertmanager lists them, so
`amtool alert query` and Alertmanager's UI read defib like an Alertmanager."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from defib.api.am_alerts import RECEIVER, RESOLVE_TIMEOUT, Listed, listed
from defib.api.am_alerts import Query as AlertQuery
from defib.api.deps import Reader, RuntimeDep
from defib.api.errors import ApiError, error_responses
from defib.api.pagination import COMPAT_TAG
from defib.bootstrap import Runtime
from defib.model import InvalidInput
from defib.silences import parse_matchers
from defib.store import alert_listing

router = APIRouter(prefix="/api/v2", tags=["alerts (Alertmanager v2)", COMPAT_TAG])

# Alertmanager's parameter names (`filter` shadows a builtin only inside this handler).
FilterQuery = Annotated[
    list[str] | None, Query(description="Matchers on the labels; all must match.")
]
ReceiverQuery = Annotated[str | None, Query(description="A regex on the receiver's name.")]

# A silenced or inhibited alert opened nothing; it is listed while this recent.
QUIET_WINDOW = timedelta(hours=1)


class AmReceiver(BaseModel):
    name: str


class AmAlertStatus(BaseModel):
    state: str = Field(description="active, suppressed or unprocessed")
    silencedBy: list[str]
    inhibitedBy: list[str]


class AmGettableAlert(BaseModel):
    """Alertmanager's gettableAlert."""

    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: datetime
    endsAt: datetime
    updatedAt: datetime
    generatorURL: str | None = None
    fingerprint: str
    receivers: list[AmReceiver]
    status: AmAlertStatus


def _out(alert: Listed) -> AmGettableAlert:
    return AmGettableAlert(
        labels=alert.labels,
        annotations=alert.annotations,
        startsAt=alert.starts_at,
        endsAt=alert.updated_at + RESOLVE_TIMEOUT,
        updatedAt=alert.updated_at,
        generatorURL=alert.generator_url,
        fingerprint=alert.fingerprint,
        receivers=[AmReceiver(name=RECEIVER)],
        status=AmAlertStatus(
            state=alert.state, silencedBy=alert.silenced_by, inhibitedBy=alert.inhibited_by
        ),
    )


def _list(runtime: Runtime, query: AlertQuery) -> list[AmGettableAlert]:
    now = runtime.silences.clock()
    with runtime.db.read() as conn:
        rows = alert_listing.current_alerts(conn, now - QUIET_WINDOW)
    found = listed(rows, runtime.silences.search(), now)
    return [_out(a) for a in found if query.keeps(a)]


@router.get(
    "/alerts",
    response_model=list[AmGettableAlert],
    responses=error_responses(400),
)
async def get_alerts(
    runtime: RuntimeDep,
    _: Reader,
    filter: FilterQuery = None,
    active: bool = True,
    silenced: bool = True,
    inhibited: bool = True,
    unprocessed: bool = True,
    receiver: ReceiverQuery = None,
) -> list[AmGettableAlert]:
    """The alerts defib holds (those of open incidents, and those a silence or an incident
    kept quiet in the last hour), filtered as Alertmanager filters them."""
    try:
        matchers = parse_matchers(filter or [])
    except InvalidInput as exc:
        raise ApiError(400, "invalid_input", str(exc)) from exc
    query = AlertQuery(matchers, active, silenced, inhibited, unprocessed, receiver)
    return await run_in_threadpool(_list, runtime, query)
