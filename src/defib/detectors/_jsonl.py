"""JSONL runners behind `defib detect` (no Typer here: `python -m defib.detectors` uses them
with argparse so a batch run starts in a fraction of the Typer start-up time)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import orjson

from defib.detectors.base import Finding


class BadLine(Exception):
    """An input line that cannot be processed; the message names the problem."""


class Failed(Exception):
    """Stop with exit status `code` after `message` went to stderr."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _lines(path: str) -> Iterator[bytes]:
    if path == "-":
        yield from sys.stdin.buffer
        return
    try:
        fh: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed in finally, generator-scoped
    except OSError as e:
        raise Failed(2, f"defib: error: cannot read {path}: {e.strerror}") from None
    try:
        yield from fh
    finally:
        fh.close()


def _field(obj: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        kind = "missing" if key not in obj else f"not a string ({type(value).__name__})"
        raise BadLine(f'"{key}" is {kind}')
    return value


def _record(raw: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadLine(f"invalid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise BadLine(f"expected a JSON object, got {type(obj).__name__}")
    ident = obj.get("id")
    if not isinstance(ident, str | int) or isinstance(ident, bool):
        raise BadLine('"id" must be a string or an integer')
    return obj


def _run(path: str, handle: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    out = sys.stdout.buffer
    for lineno, raw in enumerate(_lines(path), 1):
        if not raw.strip():
            continue
        try:
            result = handle(_record(raw))
        except BadLine as e:
            out.flush()
            raise Failed(2, f"defib: error: line {lineno}: {e}") from None
        out.write(orjson.dumps(result) + b"\n")
    out.flush()


def _span(f: Finding) -> dict[str, Any]:
    return {"type": f.type, "start": f.start, "end": f.end, "text": f.text}


def _detail(f: Finding) -> dict[str, Any]:
    return {**_span(f), "score": round(f.score, 4), "label": f.label}


def parse_types(value: str | None) -> set[str] | None:
    """`"EMAIL, phone"` -> `{"EMAIL", "PHONE"}`; empty -> None (all types)."""
    if not value:
        return None
    return {t.strip().upper() for t in value.split(",") if t.strip()}


def run_pii(path: str, types: Iterable[str] | None, min_score: float) -> None:
    """{"id","text"} in, {"id","findings":[{type,start,end,text}]} out."""
    from defib.detectors.pii import PiiDetector

    try:
        detector = PiiDetector(types=types, min_score=min_score)
    except ValueError as e:
        raise Failed(2, f"defib: error: {e}") from None

    def handle(obj: dict[str, Any]) -> dict[str, Any]:
        text = _field(obj, "text")
        assert text is not None
        return {"id": obj["id"], "findings": [_span(f) for f in detector.detect(text)]}

    _run(path, handle)


def run_toxicity(path: str, backend: str, min_score: float) -> None:
    """{"id","text"} in, {"id","toxic","findings":[...]} out."""
    from defib.detectors.toxicity import ToxicityDetector

    try:
        detector = ToxicityDetector(backend=backend, min_score=min_score)
    except (ValueError, ImportError) as e:
        raise Failed(2, f"defib: error: {e}") from None

    def handle(obj: dict[str, Any]) -> dict[str, Any]:
        text = _field(obj, "text")
        assert text is not None
        findings = detector.detect(text)
        return {
            "id": obj["id"],
            "toxic": bool(findings),
            "findings": [_detail(f) for f in findings],
        }

    _run(path, handle)


def run_grounding(path: str, min_score: float) -> None:
    """{"id","response","context"} in, {"id","support","findings"} out."""
    from defib.detectors.grounding import GroundingDetector, support_score

    detector = GroundingDetector(min_score=min_score)

    def handle(obj: dict[str, Any]) -> dict[str, Any]:
        response = _field(obj, "response")
        context = _field(obj, "context", required=False)
        assert response is not None
        findings = detector.detect(response, context=context)
        support = support_score(response, context) if context else None
        return {"id": obj["id"], "support": support, "findings": [_detail(f) for f in findings]}

    _run(path, handle)
