"""`Classifier`: rules, policy, system labels and inspector bound once; `Decision` per alert."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from defib.classify.analysis import Analysis, analyse
from defib.classify.backstop import Backstop
from defib.classify.inspectors import SampleInspector, default_inspector
from defib.classify.ruleset import RuleSet
from defib.classify.severity import DEFAULT_POLICY, SeverityPolicy, assess_severity
from defib.model import Alert, IncidentType, Severity, unique_systems


@dataclass(frozen=True, slots=True)
class Decision:
    """What intake does with one alert (the service calls it a triage). A null type means
    no incident: no severity, no fingerprint, no systems."""

    type: IncidentType | None
    severity: Severity | None
    systems: tuple[str, ...]
    fingerprint: str | None
    reason: str
    # For a resolved/acknowledged notification: the fingerprint its firing twin would have.
    related_fingerprint: str | None = None
    # A best guess for a person to confirm: the incident opens marked `needs_triage`.
    needs_triage: bool = False
    # For a triage decision: the severity each type would get for this alert under the
    # policy, so retyping the incident later applies the same table.
    severity_by_type: tuple[tuple[IncidentType, Severity], ...] = ()


class Classifier:
    """Rules, policy, system label names and inspector bound once; `decide` per alert."""

    def __init__(
        self,
        rules: RuleSet | None = None,
        policy: SeverityPolicy | None = None,
        system_labels: Sequence[str] | None = None,
        inspector: SampleInspector | None = None,
        backstop: Backstop | Literal[False] | None = None,
    ) -> None:
        """`backstop`: None for the packaged one (built on first need), False for none
        (rules only: undecided alerts are no incident)."""
        from defib.intake.formats._common import DEFAULT_SYSTEM_LABELS

        self.rules = rules if rules is not None else RuleSet.default()
        self.policy = policy if policy is not None else DEFAULT_POLICY
        self.system_labels = (
            tuple(system_labels) if system_labels is not None else DEFAULT_SYSTEM_LABELS
        )
        self._custom_labels = system_labels is not None
        self._inspector = inspector
        self._backstop = backstop
        self._decisions: dict[tuple[object, ...], Decision] = {}

    def backstop(self) -> Backstop:
        if self._backstop is None:
            self._backstop = Backstop.default()
        assert self._backstop is not False
        return self._backstop

    @property
    def inspector(self) -> SampleInspector:
        # Built on first use so that alerts without samples never import the detectors.
        if self._inspector is None:
            self._inspector = default_inspector()
        return self._inspector

    def systems(self, alert: Alert) -> tuple[str, ...]:
        if self._custom_labels and alert.format in ("alertmanager", "grafana", "prometheus"):
            labels = alert.labels
            return unique_systems([labels[n] for n in self.system_labels if n in labels])
        return alert.systems

    def analyse(self, alert: Alert) -> Analysis:
        return analyse(
            alert,
            self.rules,
            self.inspector if alert.samples else None,
            system_labels=self.system_labels,
            backstop=self.backstop if self._backstop is not False else None,
            policy=self.policy,
        )

    def decide(self, alert: Alert) -> Decision:
        """The decision for `alert`, from a bounded cache when an alert with the same
        classified fields was decided before (Prometheus re-sends every firing alert each
        evaluation: the same rules ran over the same text again, ~0.2-0.5 ms each)."""
        if alert.samples:  # sampled responses are inspected each time (and can be large)
            return self.decision_from(alert, self.analyse(alert))
        key = _decision_key(alert, id(self.rules), id(self.policy))
        hit = self._decisions.get(key)
        if hit is None:
            hit = self.decision_from(alert, self.analyse(alert))
            if len(self._decisions) >= DECISION_CACHE_SIZE:
                self._decisions.clear()
            self._decisions[key] = hit
        return hit

    def decision_from(self, alert: Alert, analysis: Analysis) -> Decision:
        from defib.intake.correlate import fingerprint

        itype = analysis.type
        # Systems are named for every alert, typed or not: whoever reads a "no incident"
        # answer (or a resolved notification) still learns which system it was about.
        systems = self.systems(alert)
        if itype is None:
            return Decision(None, None, systems, None, analysis.reason)
        by_type: tuple[tuple[IncidentType, Severity], ...] = ()
        if analysis.needs_triage:
            by_type = tuple((t, assess_severity(t, alert, self.policy)) for t in IncidentType)
        return Decision(
            type=itype,
            severity=assess_severity(itype, alert, self.policy),
            systems=systems,
            fingerprint=fingerprint(itype, systems, alert.identity or alert.title),
            reason=analysis.reason,
            needs_triage=analysis.needs_triage,
            severity_by_type=by_type,
        )


# Decisions kept per classifier; past this many the cache starts over (bounded memory).
DECISION_CACHE_SIZE = 4096


def _decision_key(alert: Alert, rules: int, policy: int) -> tuple[object, ...]:
    """Exactly the fields classification reads (analysis, text views, severity policy,
    systems, fingerprint), in the order it reads labels and annotations (their order
    shapes the text rules search); not the delivery or series keys, times or raw body."""
    return (
        rules,
        policy,
        alert.status,
        alert.explicit_type,
        alert.format,
        alert.source,
        alert.title,
        alert.description,
        alert.identity,
        alert.severity,
        alert.signal,
        alert.value,
        alert.threshold,
        alert.systems,
        tuple(alert.labels.items()),
        tuple(alert.annotations.items()),
    )
