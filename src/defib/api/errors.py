"""One JSON error shape for every failure: {"error": {"code": ..., "message": ...}}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from defib.api.responses import JSONResponse
from defib.model import DomainError, IllegalTransition, InvalidInput, NotFound
from defib.store.outage import (
    RETRY_AFTER_SECONDS,
    StorageUnavailable,
    is_lock_conflict,
    is_storage_unavailable,
)

log = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
}


_DESCRIPTIONS = {
    400: "the request is malformed (e.g. the body is not JSON)",
    401: "missing or invalid bearer token",
    403: "the token's role may not do this",
    404: "no such resource",
    409: "the resource is not in a state that allows this",
    413: "body over the size limit",
    422: "a parameter or the body is invalid; the message names the field",
    502: "an upstream (control plane) refused or failed",
    503: "not ready (database unreachable)",
}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Machine-readable: not_found, conflict, invalid, ...")
    message: str = Field(description="For people: says what is wrong and, if known, the fix.")


class ErrorOut(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: ErrorDetail


AUTHED = (401, 403, 422)


def error_responses(
    *codes: int, base: tuple[int, ...] = AUTHED, non_json_route: bool = False, **described: str
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each code answers ErrorOut. `base` (401, 403, 422) is
    included since every /api route takes a token and validates its input; `described`
    overrides a description by code, e.g. `error_responses(404, d404="no such incident")`.

    `non_json_route`: the route's own answer is not JSON (text, HTML), but its errors are;
    FastAPI would file a `model` under the route's media type, so name the content here.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for code in sorted({*base, *codes}):
        text = described.get(f"d{code}", _DESCRIPTIONS.get(code, "error"))
        if non_json_route:
            ref = {"$ref": "#/components/schemas/ErrorOut"}
            out[code] = {"description": text, "content": {"application/json": {"schema": ref}}}
        else:
            out[code] = {"model": ErrorOut, "description": text}
    return out


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


def failure_error(exc: Exception) -> ApiError:
    """An error no route expected, as its answer (logged here): 503 with Retry-After when
    storage is down or the request lost a lock race, else 500. The app's handlers and the
    alert fast path (`api/fastpath.py`) both answer through this."""
    # Storage down (PostgreSQL stopped, SQLite's disk full): the request's transaction
    # rolled back, nothing is half written; the sender should retry shortly.
    if is_storage_unavailable(exc):
        log.warning("storage unavailable: %s: %s", type(exc).__name__, exc)
        return ApiError(
            503,
            "storage_unavailable",
            "storage is unavailable right now; nothing was written, retry shortly",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if is_lock_conflict(exc):
        # A deadlock loser that was not retried (Database.transact retries where it is
        # used): the transaction was undone whole, so the sender may simply retry.
        log.warning("lock conflict answered 503: %s", exc)
        return ApiError(
            503,
            "lock_conflict",
            "another request held the same rows; nothing was written, retry shortly",
            {"Retry-After": "1"},
        )
    log.error("unhandled error", exc_info=exc)
    return ApiError(500, "internal", f"internal error: {type(exc).__name__}")


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def describe_request_errors(exc: RequestValidationError) -> str:
    msgs = []
    for err in exc.errors():
        where = _location(tuple(err.get("loc", ())))
        where = (
            f"{err['loc'][0]} {where}"
            if err.get("loc") and err["loc"][0] in ("query", "path")
            else where
        )
        msgs.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(msgs)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(NotFound)
    async def _nf(_: Request, exc: NotFound) -> JSONResponse:
        return error_response(404, exc.code, str(exc))

    @app.exception_handler(IllegalTransition)
    async def _it(_: Request, exc: IllegalTransition) -> JSONResponse:
        return error_response(409, exc.code, str(exc))

    @app.exception_handler(InvalidInput)
    async def _ii(_: Request, exc: InvalidInput) -> JSONResponse:
        return error_response(422, exc.code, str(exc), field=getattr(exc, "field", None))

    @app.exception_handler(DomainError)
    async def _de(_: Request, exc: DomainError) -> JSONResponse:
        return error_response(409, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _rv(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid", describe_request_errors(exc))

    async def _storage(_: Request, exc: Exception) -> JSONResponse:
        err = failure_error(exc)
        return error_response(err.status, err.code, err.message, err.headers)

    # The driver errors that can mean an outage (others of these classes answer 500).
    for cls in (SQLAlchemyError, OSError, StorageUnavailable):
        app.add_exception_handler(cls, _storage)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, str(exc.detail), headers)
