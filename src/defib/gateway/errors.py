"""OpenAI-style error bodies, so the official clients raise their usual exceptions."""

from __future__ import annotations

from typing import Any

import orjson


def error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def error_bytes(message: str, type_: str, code: str | None = None) -> bytes:
    return orjson.dumps(error_body(message, type_, code))
