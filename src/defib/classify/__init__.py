"""Pure classification: alert → incident type (with a reason), severity, and a `Decision`.

Type: resolved/acknowledged notifications close incidents and never open one; an explicit
type wins; decisive rules (heartbeats, tests, notices, user overrides) come next; then
weighted evidence rules and content detectors on sampled responses are scored per type and
the best type above a floor wins. Every answer carries a human-readable reason naming the
rules (or detector) and scores behind it.

Severity: `SeverityPolicy`, a small data structure whose default is the documented table.

Rules are compiled once per `RuleSet`; classifying an alert costs a few dozen precompiled
regex searches over a few hundred characters.

Modules: `text` (normalisation, the alert's text views), `matchers` and `loading` (rules and
their parser), `triggers` (the prefilter), `ruleset`, `inspectors` (sampled responses),
`severity` (the policy), `analysis` (the type decision) and `classifier` (composes them).
"""

from defib.classify.analysis import (
    HEARTBEAT_NAMES,
    TYPE_PRIORITY,
    Analysis,
    Hit,
    analyse,
    classify_incident,
)
from defib.classify.backstop import Backstop, BackstopMatch, TypeDescription
from defib.classify.classifier import Classifier, Decision
from defib.classify.inspectors import SampleInspector, basic_inspector, default_inspector
from defib.classify.loading import RuleError
from defib.classify.matchers import FIELDS, Matcher, Rule
from defib.classify.ruleset import RuleSet
from defib.classify.severity import (
    DEFAULT_POLICY,
    DEFAULT_SOURCE_LEVELS,
    DEFAULT_TYPE_SEVERITY,
    SeverityPolicy,
    TypeSeverity,
    assess_severity,
    is_full_outage,
)
from defib.classify.text import AlertView, _View, normalise_text

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_SOURCE_LEVELS",
    "DEFAULT_TYPE_SEVERITY",
    "FIELDS",
    "HEARTBEAT_NAMES",
    "TYPE_PRIORITY",
    "AlertView",
    "Analysis",
    "Backstop",
    "BackstopMatch",
    "Classifier",
    "Decision",
    "Hit",
    "Matcher",
    "Rule",
    "RuleError",
    "RuleSet",
    "SampleInspector",
    "SeverityPolicy",
    "TypeDescription",
    "TypeSeverity",
    "_View",
    "analyse",
    "assess_severity",
    "basic_inspector",
    "classify_incident",
    "default_inspector",
    "is_full_outage",
    "normalise_text",
]
