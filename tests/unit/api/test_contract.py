"""The API contract, checked on every route the app serves (including routes added later).

If a test here fails for a route you added, the message says what to change. The rules
(docs/api.md has the long form):

* a JSON route declares `response_model=` (a pydantic model), so OpenAPI shows its schema;
* a non-JSON route (HTML, text, a download) names its `response_class=` with a media type;
* every 4xx/5xx it documents answers `ErrorOut` (use `responses=error_responses(...)` from
  defib.api.errors; it also replaces FastAPI's own 422 schema, which we never send);
* a list is a `Page[...]` subclass (`{"items": [...], "next_cursor": ...}`) and takes
  `limit: LimitQuery` and `cursor: CursorQuery` (defib.api.pagination); a GET whose path
  ends in a fixed word is taken for a list unless it is in NOT_LISTS below;
* operation ids are camelCase and unique (they come from the handler's name);
* routes tagged COMPAT_TAG mirror another product's API (Alertmanager) and keep its shapes:
  they are exempt from the envelope rule only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import pytest
from fastapi import Depends, FastAPI, Response
from fastapi.responses import JSONResponse as FastAPIJSONResponse
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.security import HTTPBearer
from pydantic import BaseModel

from defib.api import create_app
from defib.api.pagination import COMPAT_TAG, Page
from defib.bootstrap import Runtime
from defib.config import load_settings

# GETs whose path ends in a fixed word but that answer one object, not a list; say why.
NOT_LISTS = {
    "/healthz": "liveness probe",
    "/readyz": "readiness probe",
    "/api/v1/incidents/{incident_id}/evidence/verify": "one verification report",
    "/api/v1/tokens/me": "the calling token's own name and role",
    "/api/v2/status": "Alertmanager's status object, for amtool",
    "/metrics": "Prometheus text exposition",
    "/api/v1/incidents/{incident_id}/taxonomy": "one incident's taxonomy mapping",
    "/api/v1/incidents/{incident_id}/review": "one incident's review fields",
    "/api/v1/incidents/{incident_id}/postmortem": "one postmortem document",
    "/api/v1/reports/response": "one report over a period",
}

OPERATION_ID = re.compile(r"^[a-z][a-zA-Z0-9]*$")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    data: Path = tmp_path_factory.mktemp("contract")
    runtime = Runtime(load_settings(None, data_dir=data))
    yield create_app(runtime)
    runtime.close()


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def api_routes(app: FastAPI) -> list[RouteContext]:
    """The routes that are part of the published API (hidden aliases are not), each with
    its effective path, tags and response class after the routers' include prefixes."""
    return [
        ctx
        for ctx in iter_route_contexts(app.routes)
        if isinstance(ctx.original_route, APIRoute) and ctx.include_in_schema
    ]


def label(route: RouteContext) -> str:
    methods = ",".join(sorted(route.methods or ()))
    endpoint = route.original_route.endpoint  # type: ignore[attr-defined]
    return f"{methods} {route.path} ({endpoint.__module__}.{endpoint.__name__})"


def response_class(route: RouteContext) -> type[Any]:
    cls = route.response_class
    return getattr(cls, "value", cls)  # FastAPI wraps the default in a placeholder


def is_json(route: RouteContext) -> bool:
    return issubclass(response_class(route), FastAPIJSONResponse)


def model_of(route: RouteContext) -> type[BaseModel] | None:
    model = route.response_model
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def is_list_route(route: RouteContext) -> bool:
    if "GET" not in (route.methods or ()) or not is_json(route):
        return False
    model = model_of(route)
    if model is not None and issubclass(model, Page):
        return True
    path = str(route.path)
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return not last.startswith("{") and path not in NOT_LISTS


Problems = list[str]


def missing_response_models(app: FastAPI, spec: dict[str, Any]) -> Problems:
    return [
        label(r)
        for r in api_routes(app)
        if is_json(r) and not declares_schema(r.response_model) and r.status_code != 204
    ]


def declares_schema(model: Any) -> bool:
    """A pydantic model, or a list of them (bare arrays are for compatible routes only)."""
    if isinstance(model, type):
        return issubclass(model, BaseModel)
    args = get_args(model)
    return get_origin(model) is list and len(args) == 1 and declares_schema(args[0])


def undeclared_media_types(app: FastAPI, spec: dict[str, Any]) -> Problems:
    bad = []
    for route in api_routes(app):
        if is_json(route):
            continue
        media = getattr(response_class(route), "media_type", None)
        operations = spec["paths"][str(route.path)]
        documented = {
            content
            for method in route.methods or ()
            for code, answer in operations[method.lower()]["responses"].items()
            if code.startswith("2")
            for content in answer.get("content", {})
        }
        if not media and not documented:
            continue  # answers no body at all (e.g. a bare 200 an API peer expects)
        if not media or media not in documented:
            bad.append(f"{label(route)}: media type {media!r}, documented {sorted(documented)}")
    return bad


def errors_not_error_out(app: FastAPI, spec: dict[str, Any]) -> Problems:
    bad = []
    for path, method, op in operations(spec):
        for code, answer in op["responses"].items():
            if code[0] not in "45":
                continue
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") != "#/components/schemas/ErrorOut":
                bad.append(f"{method.upper()} {path} {code}: {schema or 'no schema'}")
    if "HTTPValidationError" in spec.get("components", {}).get("schemas", {}):
        bad.append("FastAPI's HTTPValidationError is published: a route lacks a 422 ErrorOut")
    return bad


def missing_auth_errors(app: FastAPI, spec: dict[str, Any]) -> Problems:
    bad = []
    for path, method, op in operations(spec):
        # 403 needs a role check and 422 an input; a route may have neither.
        wanted = {"401"} | ({"422"} if op.get("parameters") or op.get("requestBody") else set())
        missing = wanted - set(op["responses"])
        if op.get("security") and missing:
            bad.append(f"{method.upper()} {path}: {sorted(missing)}")
    return bad


def bad_operation_ids(app: FastAPI, spec: dict[str, Any]) -> Problems:
    ids = [op.get("operationId", "") for _, _, op in operations(spec)]
    bad = [f"{i!r} is not camelCase" for i in ids if not OPERATION_ID.match(i)]
    bad += [f"{i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    return bad


def lists_without_envelope(app: FastAPI, spec: dict[str, Any]) -> Problems:
    bad = []
    for route in api_routes(app):
        if COMPAT_TAG in (route.tags or ()) or not is_list_route(route):
            continue
        model = model_of(route)
        if model is None or not issubclass(model, Page):
            bad.append(f"{label(route)}: answers {model}, not a Page[...] subclass")
        params = {p.alias for p in route.dependant.query_params}
        if not {"limit", "cursor"} <= params:
            bad.append(f"{label(route)}: query parameters {sorted(params)} lack limit/cursor")
    return bad


def bare_arrays(app: FastAPI, spec: dict[str, Any]) -> Problems:
    bad = []
    for path, method, op in operations(spec):
        if COMPAT_TAG in op.get("tags", ()):
            continue
        for code, answer in op["responses"].items():
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("type") == "array":
                bad.append(f"{method.upper()} {path} {code}")
    return bad


def pages_with_extras(app: FastAPI, spec: dict[str, Any]) -> Problems:
    bad = []
    for route in api_routes(app):
        model = model_of(route)
        if model is not None and issubclass(model, Page):
            extra = set(model.model_fields) - {"items", "next_cursor"}
            if extra:
                bad.append(f"{label(route)}: {model.__name__} adds {sorted(extra)}")
    return bad


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield path, method, op


# (check, what to do about what it finds)
CHECKS: dict[str, tuple[Callable[[FastAPI, dict[str, Any]], Problems], str]] = {
    "response_model": (
        missing_response_models,
        "these JSON routes have no response_model; add `response_model=SomeOut` (a pydantic "
        "model) and return it",
    ),
    "media_type": (
        undeclared_media_types,
        "non-JSON routes must set `response_class=` to a class with a media_type (e.g. "
        "HTMLResponse, PlainTextResponse) so OpenAPI names it",
    ),
    "error_out": (
        errors_not_error_out,
        "declare errors with `responses=error_responses(404, ...)` from defib.api.errors "
        "(it also replaces FastAPI's HTTPValidationError 422, a body we never send)",
    ),
    "auth_errors": (
        missing_auth_errors,
        "a route behind a token can answer 401, and one with input 422: use "
        "`responses=error_responses(...)`, which includes 401, 403 and 422",
    ),
    "operation_ids": (
        bad_operation_ids,
        "operation ids come from the handler's name (snake_case -> camelCase, via "
        "create_app's generate_unique_id_function); give the handler a unique name",
    ),
    "envelope": (
        lists_without_envelope,
        "a list answers `class XPage(Page[XOut])` and takes `limit: LimitQuery = "
        "DEFAULT_LIMIT, cursor: CursorQuery = None` (defib.api.pagination); if the route is "
        "not a list, add its path to NOT_LISTS in tests/api/test_contract.py with a reason",
    ),
    "bare_arrays": (
        bare_arrays,
        "a top-level array cannot grow a cursor later: wrap it in a Page[...] envelope",
    ),
    "page_extras": (
        pages_with_extras,
        "a page carries `items` and `next_cursor` only; put other fields in the items or in "
        "another route",
    ),
}


def test_the_app_has_routes_to_check(app: FastAPI) -> None:
    """Guards the guards: the checks below would pass vacuously on an empty app."""
    assert len(api_routes(app)) >= 25


@pytest.mark.parametrize("name", list(CHECKS))
def test_every_route_keeps_the_contract(name: str, app: FastAPI, spec: dict[str, Any]) -> None:
    """The rule `name` holds for every route of the app (see the module docstring)."""
    check, advice = CHECKS[name]
    problems = check(app, spec)
    assert not problems, advice + ":\n  " + "\n  ".join(problems)


BearerToken = Annotated[Any, Depends(HTTPBearer(auto_error=False))]


class ThingOut(BaseModel):
    name: str


class ThingPage(Page[ThingOut]):
    total: int


def rule_breaking_app() -> FastAPI:
    """One route breaking each rule, the way a hurried handler would."""
    bad = FastAPI()  # default operation ids: list_things_things_get

    @bad.get("/things")
    def list_things() -> dict[str, Any]:
        return {}

    @bad.get("/page", response_class=Response, responses={200: {"content": {"text/html": {}}}})
    def page() -> Response:
        return Response(b"<p>")

    @bad.get("/things/{name}", response_model=ThingOut, responses={404: {"description": "no"}})
    def get_thing(name: str, token: BearerToken) -> ThingOut:
        return ThingOut(name=name)

    @bad.get("/arrays", response_model=list[ThingOut])
    def arrays() -> list[ThingOut]:
        return []

    @bad.get("/pages", response_model=ThingPage)
    def pages(limit: int = 1, cursor: str | None = None) -> ThingPage:
        return ThingPage(items=[], next_cursor=None, total=0)

    return bad


@pytest.mark.parametrize("name", list(CHECKS))
def test_each_check_catches_a_route_breaking_it(name: str) -> None:
    """Each check finds the offending route of an app built to break every rule."""
    bad = rule_breaking_app()
    check, _ = CHECKS[name]
    assert check(bad, bad.openapi())
