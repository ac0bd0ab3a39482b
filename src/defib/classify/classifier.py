"""`Classifier`: rules, policy, system labels and inspector bound once; `Decision` per alert."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from defib.classify.analysis import Analysis, analyse
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


class Classifier:
    """Rules, policy, system label names and inspector bound once; `decide` per alert."""

    def __init__(
        self,
        rules: RuleSet | None = None,
        policy: SeverityPolicy | None = None,
        system_labels: Sequence[str] | None = None,
        inspector: SampleInspector | None = None,
    ) -> None:
        from defib.ingest._common import DEFAULT_SYSTEM_LABELS

        self.rules = rules if rules is not None else RuleSet.default()
        self.policy = policy if policy is not None else DEFAULT_POLICY
        self.system_labels = (
            tuple(system_labels) if system_labels is not None else DEFAULT_SYSTEM_LABELS
        )
        self._custom_labels = system_labels is not None
        self._inspector = inspector

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
        )

    def decide(self, alert: Alert) -> Decision:
        return self.decision_from(alert, self.analyse(alert))

    def decision_from(self, alert: Alert, analysis: Analysis) -> Decision:
        from defib.correlate import fingerprint

        itype = analysis.type
        if itype is None:
            return Decision(None, None, (), None, analysis.reason)
        systems = self.systems(alert)
        return Decision(
            type=itype,
            severity=assess_severity(itype, alert, self.policy),
            systems=systems,
            fingerprint=fingerprint(itype, systems, alert.identity or alert.title),
            reason=analysis.reason,
        )
