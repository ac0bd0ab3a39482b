"""Alertmanager's v2 silences API, so amtool, Grafana and the Alertmanager UI work unchanged.

Shapes follow Alertmanager's OpenAPI (postableSilence, gettableSilence, `{"silenceID"}`,
plain arrays for lists) rather than defib's `/api/v1` conventions: its clients parse them.
One defib extension: a posted silence may carry `schedule` (a weekly maintenance window).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from defib import __version__
from defib.api.deps import Reader, Responder, RuntimeDep
from defib.api.errors import ApiError, error_responses
from defib.api.pagination import COMPAT_TAG
from defib.auth import Permission
from defib.model import InvalidInput
from defib.silences import Matcher, Silence, Weekly, parse_matchers
from defib.silences.service import NeedsAdmin, SilenceDraft

# COMPAT_TAG: exempt from defib's list envelope (tests/unit/api/test_contract.py), not from the
# rest of the contract (response models, ErrorOut errors).
router = APIRouter(prefix="/api/v2", tags=["silences (Alertmanager v2)", COMPAT_TAG])

_ERRORS = error_responses()
_STARTED = datetime.now(UTC)


class MatcherV2(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=200)
    value: str = Field(max_length=2000)
    isRegex: bool
    isEqual: bool = True


class ScheduleV2(BaseModel):
    """defib's extension: a weekly maintenance window in UTC."""

    model_config = ConfigDict(extra="forbid")

    days: list[str] = Field(min_length=1, description="mon ... sun, or daily")
    start: str = Field(description="HH:MM, UTC")
    duration_minutes: int = Field(ge=1, le=7 * 24 * 60)


class PostableSilence(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(default=None, description="Set to update that silence.")
    matchers: list[MatcherV2] = Field(min_length=1, max_length=100)
    startsAt: datetime
    endsAt: datetime
    createdBy: str = Field(min_length=1, max_length=200)
    comment: str = Field(default="", max_length=10_000)
    schedule: ScheduleV2 | None = None


class SilenceStatus(BaseModel):
    state: Literal["pending", "active", "expired"]


class GettableSilence(BaseModel):
    id: str
    status: SilenceStatus
    updatedAt: datetime
    matchers: list[MatcherV2]
    startsAt: datetime
    endsAt: datetime
    createdBy: str
    comment: str
    schedule: ScheduleV2 | None = Field(
        default=None, description="defib: set for a maintenance window."
    )


class SilenceCreated(BaseModel):
    silenceID: str


class ClusterStatus(BaseModel):
    status: Literal["ready", "settling", "disabled"]
    peers: list[dict[str, Any]] = Field(default_factory=list)


class VersionInfo(BaseModel):
    version: str
    revision: str
    branch: str
    buildUser: str
    buildDate: str
    goVersion: str


class ConfigOut(BaseModel):
    original: str


class AlertmanagerStatus(BaseModel):
    cluster: ClusterStatus
    versionInfo: VersionInfo
    config: ConfigOut
    uptime: datetime


def _out(silence: Silence, now: datetime) -> GettableSilence:
    data = silence.to_v2(now)
    schedule = silence.schedule.to_dict() if silence.schedule else None
    return GettableSilence.model_validate({**data, "schedule": schedule})


def _draft(body: PostableSilence) -> SilenceDraft:
    try:
        schedule = Weekly.from_dict(body.schedule.model_dump()) if body.schedule else None
        matchers = tuple(
            Matcher(m.name, m.value, is_regex=m.isRegex, is_equal=m.isEqual) for m in body.matchers
        )
    except (InvalidInput, ValueError) as exc:
        raise ApiError(422, "invalid", str(exc)) from exc
    return SilenceDraft(
        matchers=matchers,
        starts_at=_aware(body.startsAt),
        ends_at=_aware(body.endsAt),
        created_by=body.createdBy,
        comment=body.comment,
        id=body.id or None,
        schedule=schedule,
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@router.get(
    "/silences",
    response_model=list[GettableSilence],
    responses=error_responses(400, d400="a filter is not a matcher"),
)
def list_silences(
    runtime: RuntimeDep,
    _: Reader,
    filter: Annotated[
        list[str] | None, Query(description='Matchers, e.g. system="chat-api"')
    ] = None,
) -> list[GettableSilence]:
    """Every silence (expired ones too, as Alertmanager lists them), newest first."""
    try:
        filters = parse_matchers(filter or ())
    except InvalidInput as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    now = runtime.silences.clock()
    return [_out(s, now) for s in runtime.silences.search(filters)]


@router.post(
    "/silences",
    response_model=SilenceCreated,
    responses=error_responses(
        404,
        d404="no silence with the given `id`",
        d403="the token's role may not do this: a responder may not set a silence that covers"
        " every alert of a type, a system or everything, nor one longer than the maximum",
    ),
)
async def post_silence(
    body: PostableSilence, runtime: RuntimeDep, who: Responder
) -> SilenceCreated:
    """Create a silence, or update the one named by `id` (a changed one may get a new id).

    The stored `createdBy` is the token's name; the client's `createdBy` is kept in the
    comment. A silence covering every alert of a type, a system or everything, or longer
    than `silences.max_duration_hours`, needs an admin token (403 otherwise)."""
    draft = _draft(body)
    admin = who.can(Permission.ADMIN)
    try:
        silence = await run_in_threadpool(runtime.silences.put, draft, who.name, admin=admin)
    except NeedsAdmin as exc:
        raise ApiError(403, "forbidden", str(exc)) from exc
    return SilenceCreated(silenceID=silence.id)


@router.get(
    "/silence/{silence_id}",
    response_model=GettableSilence,
    responses=error_responses(404, d404="no such silence"),
)
def get_silence(silence_id: str, runtime: RuntimeDep, _: Reader) -> GettableSilence:
    """One silence."""
    return _out(runtime.silences.get(silence_id), runtime.silences.clock())


@router.delete(
    "/silence/{silence_id}",
    response_class=Response,
    responses={
        200: {"description": "expired"},
        **error_responses(404, non_json_route=True, d404="no such silence"),
    },
)
def delete_silence(silence_id: str, runtime: RuntimeDep, who: Responder) -> Response:
    """Expire a silence (it stays listed, as `expired`)."""
    runtime.silences.expire(silence_id, who.name)
    return Response(status_code=200)


@router.get(
    "/status", response_model=AlertmanagerStatus, responses=error_responses(base=(401, 403))
)
def status(_: Reader) -> AlertmanagerStatus:
    """Enough of Alertmanager's status for its clients (amtool checks the version)."""
    return AlertmanagerStatus(
        cluster=ClusterStatus(status="disabled"),
        versionInfo=VersionInfo(
            version=f"defib-{__version__}",
            revision="",
            branch="",
            buildUser="defib",
            buildDate="",
            goVersion="",
        ),
        config=ConfigOut(original=""),
        uptime=_STARTED,
    )
