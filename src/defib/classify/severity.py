"""Severity: `SeverityPolicy` (the documented table as data) and full-outage detection."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from defib.model import Alert, IncidentType, InvalidInput, Severity

_LEVELS = ("critical", "high", "warning", "low")
_SEV_BY_NAME = {s.value: s for s in Severity}


def _sev(value: object, where: str) -> Severity:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4:
        return Severity(f"SEV{value}")
    if isinstance(value, str) and value.strip().upper() in _SEV_BY_NAME:
        return _SEV_BY_NAME[value.strip().upper()]
    raise InvalidInput(f"severity policy: {where} must be SEV1..SEV4, got {value!r}")


@dataclass(frozen=True)
class TypeSeverity:
    """One row of the policy: a default, overrides per source level, and (availability)
    the severity of a full outage."""

    default: Severity
    by_level: Mapping[str, Severity] = field(default_factory=dict)
    full_outage: Severity | None = None


DEFAULT_SOURCE_LEVELS: Mapping[str, tuple[str, ...]] = {
    "critical": ("critical", "crit", "fatal", "emergency", "emerg", "p1", "sev1", "disaster"),
    "high": ("high", "error", "err", "major", "p2", "sev2", "alert"),
    "warning": ("warning", "warn", "medium", "moderate", "average", "p3", "sev3"),
    "low": (
        "info",
        "informational",
        "low",
        "minor",
        "none",
        "notice",
        "debug",
        "p4",
        "p5",
        "sev4",
        "ok",
    ),
}

DEFAULT_TYPE_SEVERITY: Mapping[IncidentType, TypeSeverity] = {
    IncidentType.DATA_LEAK: TypeSeverity(Severity.SEV1),
    IncidentType.AVAILABILITY: TypeSeverity(
        Severity.SEV2, {"critical": Severity.SEV1}, full_outage=Severity.SEV1
    ),
    IncidentType.TOXICITY: TypeSeverity(Severity.SEV2, {"critical": Severity.SEV1}),
    IncidentType.HALLUCINATION: TypeSeverity(
        Severity.SEV3, {"critical": Severity.SEV2, "high": Severity.SEV2}
    ),
    IncidentType.BIAS: TypeSeverity(
        Severity.SEV3, {"critical": Severity.SEV2, "high": Severity.SEV2}
    ),
    IncidentType.PERFORMANCE: TypeSeverity(Severity.SEV3, {"low": Severity.SEV4}),
}


@dataclass(frozen=True)
class SeverityPolicy:
    """Severity per incident type, adjusted by the source's own severity word."""

    types: Mapping[IncidentType, TypeSeverity] = field(
        default_factory=lambda: dict(DEFAULT_TYPE_SEVERITY)
    )
    source_levels: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_SOURCE_LEVELS)
    )
    outage_error_rate: float = 0.5

    def level(self, source_severity: str | None) -> str | None:
        """critical / high / warning / low for a source's raw word, None if unknown."""
        if not source_severity:
            return None
        word = source_severity.strip().lower()
        for level, words in self.source_levels.items():
            if word in words:
                return level
        return None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SeverityPolicy:
        """Build from YAML-shaped data; keys left out keep the default table.

        ``{"types": {"performance": {"default": "SEV3", "low": "SEV4"}},
        "source_levels": {"high": ["high", "error"]}, "outage_error_rate": 0.5}``
        """
        if not isinstance(data, Mapping):
            raise InvalidInput("severity policy: expected a mapping")
        extra = set(data) - {"types", "source_levels", "outage_error_rate"}
        if extra:
            raise InvalidInput(f"severity policy: unknown key {sorted(extra)[0]!r}")
        types = dict(DEFAULT_TYPE_SEVERITY)
        for tname, row in (data.get("types") or {}).items():
            try:
                itype = IncidentType(str(tname))
            except ValueError:
                raise InvalidInput(f"severity policy: unknown incident type {tname!r}") from None
            if not isinstance(row, Mapping) or "default" not in row:
                raise InvalidInput(f"severity policy: types.{tname} needs a 'default' severity")
            by_level = {}
            for k, v in row.items():
                if k in ("default", "full_outage"):
                    continue
                if k not in _LEVELS:
                    raise InvalidInput(
                        f"severity policy: types.{tname}.{k} is not one of default, "
                        f"full_outage, {', '.join(_LEVELS)}"
                    )
                by_level[k] = _sev(v, f"types.{tname}.{k}")
            outage = row.get("full_outage")
            types[itype] = TypeSeverity(
                _sev(row["default"], f"types.{tname}.default"),
                by_level,
                _sev(outage, f"types.{tname}.full_outage") if outage is not None else None,
            )
        levels = dict(DEFAULT_SOURCE_LEVELS)
        for level, words in (data.get("source_levels") or {}).items():
            if level not in _LEVELS:
                raise InvalidInput(
                    f"severity policy: source_levels.{level} is not one of {', '.join(_LEVELS)}"
                )
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                raise InvalidInput(f"severity policy: source_levels.{level} must list words")
            levels[level] = tuple(w.lower() for w in words)
        rate = data.get("outage_error_rate", 0.5)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
            raise InvalidInput("severity policy: outage_error_rate must be in (0, 1]")
        return cls(types=types, source_levels=levels, outage_error_rate=float(rate))


DEFAULT_POLICY = SeverityPolicy()

# Phrases that mean the whole endpoint is gone, not a fraction of traffic.
_FULL_OUTAGE = re.compile(
    r"\b(fully|completely|totally|entirely|hard) down\b"
    r"|\b(service|endpoint|api|site|server|model|app|application|it) (is|are|went) (down|offline)\b"
    r"|\bunreachable\b|\bnot reachable\b"
    r"|\b(all|every|100 ?%( of)?)\b(?:\W+\w+){0,4}?\W+(requests?|calls?|replicas?|pods?|instances?"
    r"|regions?|probes?|queries|nodes?)\b.{0,40}?\b(fail\w*|errors?|error(ed|ing)|return\w*|refused"
    r"|down|unreachable|unavailable|5\d\d|time[sd]? ?out|crash\w*)"
    r"|\b(errors?|fail\w*) (on|for) (every|all) (requests?|calls?)\b"
    r"|\b0 ?/ ?\d+ (replicas|pods|instances|nodes)\b"
    r"|\bno (healthy|ready|available|running) "
    r"(replicas|pods|backends|endpoints|instances|upstreams)\b"
    r"|\b(major|full|complete|total) (service |platform |api )?outage\b"
    r"|\b(answers|responds|returns|serves) nothing\b|\bnot responding\b"
    # "failed in 4/4 locations", "3 of 3 probes failing": every vantage point agrees.
    r"|\b(fail\w*|down|unreachable|refused|time[sd]? ?out)\b[^.;\n]{0,30}?"
    r"\b(?P<n>\d+) ?(?:/|of|out of) ?(?P=n) (?:locations|regions|probes|checks|vantage points"
    r"|targets)\b"
    r"|\b(?P<m>\d+) ?(?:/|of|out of) ?(?P=m) (?:locations|regions|probes|checks|vantage points"
    r"|targets)\b[^.;\n]{0,30}?\b(fail\w*|down|unreachable|refused|time[sd]? ?out)",
)
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
_ERRORISH = re.compile(
    r"error|fail|5xx|\b5\d\d\b|unavailable|refused|timeout|timing out|rejected|429"
)
_SUCCESSISH = re.compile(r"success|uptime|availability|\bup\b|healthy")
_SENTENCE = re.compile(r"(?<=[.;!?\n])\s+")


def is_full_outage(alert: Alert, error_rate: float = 0.5) -> bool:
    """Does the alert say the endpoint is fully down or that >= `error_rate` of requests fail?"""
    # Lowercased once so the patterns need no IGNORECASE (which defeats sre's fast scans).
    text = "\n".join((alert.title, alert.description, alert.annotations.get("summary", ""))).lower()
    if _FULL_OUTAGE.search(text):
        return True
    # A percentage in the same sentence as an error word: "57% of calls return 503".
    stated = False
    for sentence in _SENTENCE.split(text):
        if _ERRORISH.search(sentence):
            for m in _PERCENT.finditer(sentence):
                stated = True
                if float(m.group(1)) >= error_rate * 100:
                    return True
    # The measured value of an error-ratio (or success-ratio) metric. Only when the text
    # states no error percentage of its own: a value's unit is a guess (a count of 1 error
    # and a ratio of 100% both read 1.0), the prose "7.8% of invocations" is not.
    if not stated and alert.value is not None and 0 <= alert.value <= 1:
        head = f"{alert.title} {alert.signal or ''}".lower()
        if _ERRORISH.search(head) and alert.value >= error_rate:
            return True
        if _SUCCESSISH.search(head) and 1 - alert.value >= error_rate:
            return True
    return False


def assess_severity(
    incident_type: IncidentType, alert: Alert, policy: SeverityPolicy | None = None
) -> Severity:
    """Severity for an incident of `incident_type` raised by `alert` (see the policy table)."""
    p = policy if policy is not None else DEFAULT_POLICY
    row = p.types.get(incident_type) or DEFAULT_TYPE_SEVERITY[incident_type]
    severity = row.default
    level = p.level(alert.severity)
    if level is not None and level in row.by_level:
        severity = row.by_level[level]
    if (
        row.full_outage is not None
        and row.full_outage > severity
        and is_full_outage(alert, p.outage_error_rate)
    ):
        severity = row.full_outage
    return severity
