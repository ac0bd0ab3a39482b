"""`defib classify`: classify alert payloads offline (no server, no database).

Prints one JSON array per payload, one object per alert in payload order:
``{"type", "severity", "systems", "fingerprint", "reason", "needs_triage"}`` (plus ``explain`` with
``--explain``). With ``--jsonl`` every input line is one payload and every output line one
array; otherwise the whole input is a single payload. Bad input: one line on stderr naming
the line and field, exit status 2, and nothing on stdout (inputs are checked before any
output is written, so a pipeline never sees half an answer).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from defib.classify import Classifier
    from defib.model import Alert

FILE_HELP = "Payload file, or - for stdin."


def _loads(text: str) -> Any:
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency, json is the fallback
        return json.loads(text)
    return orjson.loads(text)


def _dumps(value: Any) -> str:
    try:
        import orjson
    except ImportError:  # pragma: no cover
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return orjson.dumps(value).decode("utf-8")


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _read(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    try:
        with open(file, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise _fail(f"cannot read {file}: {e.strerror or e}") from None


def _decision_obj(classifier: Classifier, alert: Alert, explain: bool) -> dict[str, Any]:
    analysis = classifier.analyse(alert)
    d = classifier.decision_from(alert, analysis)
    out: dict[str, Any] = {
        "type": d.type.value if d.type else None,
        "severity": d.severity.value if d.severity else None,
        "systems": list(d.systems),
        "fingerprint": d.fingerprint,
        "reason": d.reason,
        "needs_triage": d.needs_triage,
    }
    if explain:
        detail = analysis.to_dict()
        detail.update(
            format=alert.format,
            identity=alert.identity,
            source_severity=alert.severity,
            status=alert.status,
        )
        out["explain"] = detail
    return out


def classify(
    file: Annotated[str, typer.Argument(help=FILE_HELP)] = "-",
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="One payload per line; one JSON array per line out.")
    ] = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Add rule ids, matched terms and scores.")
    ] = False,
    rules: Annotated[
        str | None,
        typer.Option("--rules", help="YAML rules file prepended to the default rules."),
    ] = None,
) -> None:
    """Classify alert payloads: type, severity, systems and fingerprint per alert."""
    from defib.classify import Classifier, RuleError, RuleSet
    from defib.intake.formats import PayloadError, parse_payload

    ruleset = RuleSet.default()
    if rules is not None:
        try:
            ruleset = ruleset.prepend(RuleSet.load(rules))
        except OSError as e:
            raise _fail(f"cannot read rules {rules}: {e.strerror or e}") from None
        except RuleError as e:
            raise _fail(f"{rules}: {e}") from None

    text = _read(file)
    where = file if file != "-" else "stdin"
    if jsonl:
        chunks = [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    else:
        chunks = [(0, text)]
    payload_alerts: list[list[Alert]] = []
    for lineno, chunk in chunks:
        at = f"{where}:{lineno}" if jsonl else where
        try:
            payload = _loads(chunk)
        except ValueError as e:
            raise _fail(f"{at}: not valid JSON: {e}") from None
        try:
            payload_alerts.append(parse_payload(payload))
        except PayloadError as e:
            raise _fail(f"{at}: {e}") from None

    classifier = Classifier(rules=ruleset)
    out = sys.stdout
    for alerts in payload_alerts:
        out.write(_dumps([_decision_obj(classifier, a, explain) for a in alerts]))
        out.write("\n")
    out.flush()


def main() -> None:
    app = typer.Typer(add_completion=False)
    app.command()(classify)
    app()


if __name__ == "__main__":
    main()
