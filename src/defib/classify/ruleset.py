"""`RuleSet`: ordered compiled rules plus the scoring knobs; the packaged default set."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from defib.classify.loading import SET_KEYS, RuleError, parse_rule, positive
from defib.classify.matchers import Rule
from defib.classify.text import AlertView
from defib.classify.triggers import TriggerIndex


@dataclass(frozen=True)
class RuleSet:
    """Ordered, compiled rules plus the scoring knobs."""

    rules: tuple[Rule, ...]
    min_score: float = 2.0
    headline_factor: float = 2.0
    sample_weight: float = 4.0

    @classmethod
    def from_mapping(cls, data: object) -> RuleSet:
        if isinstance(data, list):
            data = {"rules": data}
        if not isinstance(data, dict):
            raise RuleError("rules: expected a mapping with a 'rules' list")
        extra = set(data) - SET_KEYS
        if extra:
            raise RuleError(
                f"rules: unknown top-level key {sorted(extra)[0]!r} "
                f"(expected {', '.join(sorted(SET_KEYS))})"
            )
        raw_rules = data.get("rules")
        if not isinstance(raw_rules, list):
            raise RuleError("rules: 'rules' must be a list")
        rules = [parse_rule(i, r) for i, r in enumerate(raw_rules)]
        seen: set[str] = set()
        for r in rules:
            if r.id in seen:
                raise RuleError(f"rule {r.id!r}: duplicate id")
            seen.add(r.id)
        return cls(
            rules=tuple(rules),
            min_score=positive(data, "min_score", 2.0),
            headline_factor=positive(data, "headline_factor", 2.0),
            sample_weight=positive(data, "sample_weight", 4.0),
        )

    @classmethod
    def from_yaml(cls, text: str) -> RuleSet:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise RuleError(f"rules: not valid YAML: {e}") from None
        return cls.from_mapping(data)

    @classmethod
    def load(cls, path: str | Path) -> RuleSet:
        return cls.from_yaml(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def default(cls) -> RuleSet:
        """The packaged rules (parsed once per process)."""
        return _default_rules()

    @functools.cached_property
    def _index(self) -> TriggerIndex:
        return TriggerIndex(self.rules)

    def evaluate(self, view: AlertView) -> Iterable[tuple[Rule, str, bool]]:
        """Matching enabled rules in order, with matched term and whether it hit the headline."""
        index = self._index
        positions = index.positions(view.text)
        always = index.always
        for i, rule in enumerate(self.rules):
            if not rule.enabled:
                continue
            if i in always:
                ok, term, in_head = rule.test(view)
            elif i in positions:
                ok, term, in_head = rule.test(view, positions[i])
            else:
                continue
            if ok:
                yield rule, term, in_head

    def prepend(self, other: RuleSet) -> RuleSet:
        """`other`'s rules first; a rule with an id already here replaces it (`enabled: false`
        removes it). Scoring knobs stay ours."""
        ids = {r.id for r in other.rules}
        merged = [r for r in other.rules if r.enabled]
        merged.extend(r for r in self.rules if r.id not in ids)
        return RuleSet(tuple(merged), self.min_score, self.headline_factor, self.sample_weight)


@functools.cache
def _default_rules() -> RuleSet:
    text = resources.files("defib.rules").joinpath("default_rules.yaml").read_text("utf-8")
    return RuleSet.from_yaml(text)
