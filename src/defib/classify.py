"""Pure classification: alert → incident type (with a reason), severity, and a `Decision`.

Type: resolved/acknowledged notifications close incidents and never open one; an explicit
type wins; decisive rules (heartbeats, tests, notices, user overrides) come next; then
weighted evidence rules and content detectors on sampled responses are scored per type and
the best type above a floor wins. Every answer carries a human-readable reason naming the
rules (or detector) and scores behind it.

Severity: `SeverityPolicy`, a small data structure whose default is the documented table.

Rules are compiled once per `RuleSet`; classifying an alert costs a few dozen precompiled
regex searches over a few hundred characters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from defib.model import Alert, IncidentType, InvalidInput, Sample, Severity, unique_systems

SampleInspector = Callable[[Sample], tuple[IncidentType, str] | None]

# When two types score the same, the more harmful reading wins: missing a leak costs more
# than over-paging on a slow endpoint.
TYPE_PRIORITY: tuple[IncidentType, ...] = (
    IncidentType.DATA_LEAK,
    IncidentType.TOXICITY,
    IncidentType.AVAILABILITY,
    IncidentType.HALLUCINATION,
    IncidentType.BIAS,
    IncidentType.PERFORMANCE,
)
_PRIORITY_RANK = {t: i for i, t in enumerate(TYPE_PRIORITY)}
_CLOSING_STATUSES = frozenset({"resolved", "acknowledged"})

# ----------------------------------------------------------------------------- text views

# Written to start with a character class or literal: sre scans for those quickly, while a
# leading lookbehind is tried at every position.
_CAMEL_LOWER_UPPER = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_ACRONYM = re.compile(r"([A-Z])([A-Z][a-z])")
_DOTTED = re.compile(r"\.(?<=[A-Za-z]\.)(?=[A-Za-z])")
_URLISH = re.compile(r"https?://\S+")
_SUMMARY_KEYS = ("summary", "title", "message")
_SKIP_ANNOTATIONS = frozenset(
    {
        "summary",
        "title",
        "description",
        "message",
        "runbook_url",
        "runbook",
        "dashboard",
        "value",
        "threshold",
    }
)
# PagerDuty's `source`/`component` labels are system names, like `service` elsewhere: names
# of systems are not evidence of what went wrong with them.
_SKIP_CONTEXT_LABELS = frozenset({"alertname", "severity", "source", "component"})


def normalise_text(text: str) -> str:
    """Lowercase words from identifiers: `LLMScoreLow` → `llm score low`, `a.b_c` → `a b c`."""
    if not text:
        return ""
    if "://" in text:
        text = _URLISH.sub(" ", text)
    text = _CAMEL_LOWER_UPPER.sub(r"\1 \2", text)
    text = _CAMEL_ACRONYM.sub(r"\1 \2", text)
    text = _DOTTED.sub(" ", text)
    return text.replace("_", " ").lower()


class _View:
    """The texts rules look at, normalised once per alert."""

    __slots__ = ("_cache", "alert", "body", "context", "headline", "text")

    def __init__(self, alert: Alert, system_labels: Iterable[str]) -> None:
        self.alert = alert
        ann = alert.annotations
        labels = alert.labels
        head = [alert.title]
        alertname = labels.get("alertname")
        if alertname and alertname != alert.title:
            head.append(alertname)
        head.extend(ann[k] for k in _SUMMARY_KEYS if ann.get(k))
        if alert.signal:
            head.append(alert.signal)
        body = [alert.description]
        body.extend(
            v
            for k, v in ann.items()
            if k not in _SKIP_ANNOTATIONS and not k.endswith("url") and v != alert.description
        )
        skip = _SKIP_CONTEXT_LABELS.union(system_labels)
        context = [alert.source]
        context.extend(f"{k} {v}" for k, v in labels.items() if k not in skip)
        self.headline = normalise_text("\n".join(head))
        self.body = normalise_text("\n".join(body))
        self.context = normalise_text("\n".join(context))
        self.text = f"{self.headline}\n{self.body}\n{self.context}"
        self._cache: dict[str, str] = {}

    def get(self, name: str) -> str:
        if name == "text":
            return self.text
        if name == "headline":
            return self.headline
        if name == "body":
            return self.body
        cached = self._cache.get(name)
        if cached is None:
            cached = self._cache[name] = self._compute(name)
        return cached

    def _compute(self, name: str) -> str:
        a = self.alert
        if name == "title":
            return normalise_text(a.title)
        if name == "alertname":
            return normalise_text(a.labels.get("alertname") or a.title)
        if name == "description":
            return normalise_text(a.description)
        if name == "signal":
            return normalise_text(a.signal or "")
        if name == "source":
            return a.source.lower()
        if name == "severity":
            return (a.severity or "").lower()
        if name == "format":
            return a.format
        if name.startswith("labels."):
            return a.labels.get(name[7:], "")
        if name.startswith("annotations."):
            return a.annotations.get(name[12:], "")
        return ""


# ----------------------------------------------------------------------------- rules

FIELDS = frozenset(
    {
        "text",
        "headline",
        "body",
        "title",
        "alertname",
        "description",
        "signal",
        "source",
        "severity",
        "format",
    }
)
_RULE_KEYS = frozenset(
    {"id", "type", "weight", "match", "any", "all", "none", "enabled", "description"}
)
_MATCH_KEYS = frozenset({"any", "all", "none"})
_SET_KEYS = frozenset({"version", "min_score", "headline_factor", "sample_weight", "rules"})


class RuleError(InvalidInput):
    """A rule file that cannot be used; the message names the rule id and key."""

    code = "invalid_rules"


@dataclass(frozen=True)
class Matcher:
    """Regex conditions over one field: any (one of), all (each of), none (not one of).

    `triggers` are the literal words the `any` branches start with (None when some branch
    does not start with one); the rule set uses them to skip rules whose words are absent.
    """

    field: str
    any: re.Pattern[str] | None = None
    all: tuple[re.Pattern[str], ...] = ()
    none: re.Pattern[str] | None = None
    triggers: tuple[str, ...] | None = None

    def test(self, view: _View, positions: Sequence[int] | None = None) -> tuple[bool, str, bool]:
        """(passes, matched term, matched in headline) for this alert.

        `positions`, for the `text` field, are the offsets where this rule's trigger words
        occur; `any` is then only tried there (same result as a search, much cheaper).
        """
        value = view.get(self.field)
        term = ""
        in_headline = False
        if self.any is not None:
            m: re.Match[str] | None = None
            if positions is None:
                m = self.any.search(value)
            else:
                for pos in positions:
                    m = self.any.match(value, pos)
                    if m is not None:
                        break
            if m is None:
                return False, "", False
            term = m.group(0)
            if self.field == "text":
                in_headline = m.start() < len(view.headline)
            else:
                in_headline = self.field in _HEADLINE_FIELDS
        for p in self.all:
            m2 = p.search(value)
            if m2 is None:
                return False, "", False
            if not term:
                term = m2.group(0)
                in_headline = self.field in _HEADLINE_FIELDS
        if self.none is not None and self.none.search(value):
            return False, "", False
        return True, term, in_headline


_HEADLINE_FIELDS = frozenset({"headline", "title", "alertname", "signal"})


@dataclass(frozen=True)
class Rule:
    """A decisive rule (weight None: first match decides) or an evidence rule (adds weight)."""

    id: str
    type: IncidentType | None
    matchers: tuple[Matcher, ...]
    weight: float | None = None
    enabled: bool = True

    @property
    def decisive(self) -> bool:
        return self.weight is None

    @property
    def triggers(self) -> tuple[str, ...] | None:
        """Trigger words of the rule's `text` matcher; None if it cannot be prefiltered."""
        for m in self.matchers:
            if m.field == "text" and m.any is not None:
                return m.triggers
        return None

    def test(self, view: _View, positions: Sequence[int] | None = None) -> tuple[bool, str, bool]:
        terms = []
        in_headline = False
        for m in self.matchers:
            ok, term, head = m.test(view, positions if m.field == "text" else None)
            if not ok:
                return False, "", False
            if term:
                terms.append(term.strip())
            in_headline = in_headline or head
        return True, " + ".join(terms), in_headline


# ---- trigger words: a cheap prefilter so each alert only runs the rules whose words occur

_LOOKAROUND_LEAD = re.compile(r"^(?:\(\?<?[!=](?:[^()]|\([^()]*\))*\))*")
_LITERAL = re.compile(r"[a-z0-9' -]")
_MIN_TRIGGER = 2
_ESCAPE = re.compile(r"\\.")


def _split_branches(pattern: str) -> list[str]:
    """Top-level alternatives of a regex (respecting groups, classes and escapes)."""
    out, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    out.append(pattern[start:])
    return out


def _literal_prefix(text: str) -> str:
    """Leading literal characters of a regex fragment (stopping before an optional one)."""
    word: list[str] = []
    for i, ch in enumerate(text):
        if not _LITERAL.match(ch):
            if ch in "?*{" and word:
                word.pop()  # the previous character is optional
            break
        if i + 1 < len(text) and text[i + 1] in "?*{":
            break
        word.append(ch)
    return "".join(word)


def _group_end(text: str) -> int:
    """Index of the `)` closing the group that opens at text[0], or -1."""
    depth, i = 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _lead_words(rest: str) -> list[str] | None:
    """Words one of which must start a match of `rest` (a fragment right after `\\b`)."""
    if rest.startswith("("):
        end = _group_end(rest)
        if end < 0:
            return None
        inner = rest[3:end] if rest.startswith("(?:") else rest[1:end]
        if inner.startswith("?"):
            return None
        words: list[str] = []
        for alt in _split_branches(inner):
            sub = _lead_words(alt)
            if sub is None:
                return None
            words.extend(sub)
        after = rest[end + 1 :]
        if after[:1] in ("?", "*"):
            tail = _lead_words(after[1:])
            if tail is None:
                return None
            words.extend(tail)
        return words
    word = _literal_prefix(rest)
    return [word] if len(word) >= _MIN_TRIGGER and word[0].isalnum() else None


def _trigger_words(branch: str) -> list[str] | None:
    """The literal words a branch can start with after `\\b` (["hallucinat"] for
    `\\bhallucinat\\w*`), or None if it has no usable ones."""
    rest = branch[_LOOKAROUND_LEAD.match(branch).end() :]  # type: ignore[union-attr]
    if not rest.startswith("\\b"):
        return None
    return _lead_words(rest[2:])


def _triggers(patterns: Sequence[re.Pattern[str]]) -> tuple[str, ...] | None:
    found: list[str] = []
    for p in patterns:
        # Triggers are matched against lowercased text: a pattern that spells a literal in
        # upper case (escapes such as \\W aside) is never prefiltered.
        literal_text = _ESCAPE.sub("", p.pattern)
        if literal_text != literal_text.lower():
            return None
        for branch in _split_branches(p.pattern):
            words = _trigger_words(branch)
            if words is None:
                return None
            found.extend(words)
    return tuple(dict.fromkeys(found))


def _trie_regex(words: Iterable[str]) -> str:
    """A regex matching the longest of `words` at a position (alternatives share prefixes)."""
    trie: dict[str, Any] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


class _TriggerIndex:
    """Where each rule's trigger words occur in an alert's text, found in one regex scan."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        by_word: dict[str, set[int]] = {}
        self.always: frozenset[int]
        always = set()
        for i, r in enumerate(rules):
            words = r.triggers
            if words is None:
                always.add(i)
                continue
            for w in words:
                by_word.setdefault(w, set()).add(i)
        self.always = frozenset(always)
        # A match is the longest trigger at its position; the rules of every shorter trigger
        # that is a prefix of it are triggered too.
        self.closure = {
            w: tuple(sorted(set().union(*(by_word[v] for v in by_word if w.startswith(v)))))
            for w in by_word
        }
        self.regex = re.compile(r"\b(?=(" + _trie_regex(by_word) + "))") if by_word else None

    def positions(self, text: str) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        if self.regex is None:
            return found
        closure = self.closure
        for m in self.regex.finditer(text):
            start = m.start()
            for i in closure[m.group(1)]:
                found.setdefault(i, []).append(start)
        return found


def _compile(rule_id: str, where: str, patterns: object) -> list[re.Pattern[str]]:
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not patterns:
        raise RuleError(f"rule {rule_id!r}: {where} must be a non-empty list of regexes")
    out = []
    for i, p in enumerate(patterns):
        if not isinstance(p, str):
            raise RuleError(f"rule {rule_id!r}: {where}[{i}] must be a string regex")
        try:
            out.append(re.compile(p, re.IGNORECASE))
        except re.error as e:
            raise RuleError(
                f"rule {rule_id!r}: {where}[{i}] is not a valid regex {p!r}: {e}"
            ) from None
    return out


def _alternation(pats: Sequence[re.Pattern[str]]) -> re.Pattern[str]:
    # One search per matcher instead of one per pattern.
    if len(pats) == 1:
        return pats[0]
    return re.compile("|".join(f"(?:{p.pattern})" for p in pats), re.IGNORECASE)


def _matcher(rule_id: str, fname: str, spec: object) -> Matcher:
    where = f"match.{fname}"
    if fname not in FIELDS and not fname.startswith(("labels.", "annotations.")):
        raise RuleError(
            f"rule {rule_id!r}: unknown field {fname!r} in match; one of "
            f"{', '.join(sorted(FIELDS))}, labels.<name>, annotations.<name>"
        )
    if fname in ("labels.", "annotations."):
        raise RuleError(f"rule {rule_id!r}: {where} needs a name after the dot")
    if isinstance(spec, str | list):
        spec = {"any": spec}
    if not isinstance(spec, dict) or not spec:
        raise RuleError(f"rule {rule_id!r}: {where} must map any/all/none to regex lists")
    extra = set(spec) - _MATCH_KEYS
    if extra:
        raise RuleError(
            f"rule {rule_id!r}: {where}: unknown key {sorted(extra)[0]!r} (expected any, all, none)"
        )
    any_p = _compile(rule_id, f"{where}.any", spec["any"]) if "any" in spec else None
    triggers = _triggers(any_p) if any_p and fname == "text" else None
    all_p = _compile(rule_id, f"{where}.all", spec["all"]) if "all" in spec else []
    none_p = _compile(rule_id, f"{where}.none", spec["none"]) if "none" in spec else None
    return Matcher(
        field=fname,
        any=_alternation(any_p) if any_p else None,
        all=tuple(all_p),
        none=_alternation(none_p) if none_p else None,
        triggers=triggers,
    )


def _rule(index: int, raw: object) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"rule #{index + 1}: must be a mapping with id, type and matchers")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise RuleError(f"rule #{index + 1}: missing 'id' (a non-empty string)")
    extra = set(raw) - _RULE_KEYS
    if extra:
        raise RuleError(
            f"rule {rule_id!r}: unknown key {sorted(extra)[0]!r} "
            f"(expected {', '.join(sorted(_RULE_KEYS))})"
        )
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError(f"rule {rule_id!r}: 'enabled' must be true or false")
    type_raw = raw.get("type")
    if not isinstance(type_raw, str) and type_raw is not None:
        raise RuleError(f"rule {rule_id!r}: 'type' must be an incident type or none")
    if type_raw is None and enabled:
        raise RuleError(f"rule {rule_id!r}: missing 'type' (an incident type or none)")
    itype: IncidentType | None = None
    if type_raw is not None and type_raw.lower() not in ("none", "null"):
        try:
            itype = IncidentType(type_raw.lower())
        except ValueError:
            raise RuleError(
                f"rule {rule_id!r}: type {type_raw!r} is not one of "
                f"{', '.join(t.value for t in IncidentType)}, none"
            ) from None
    weight = raw.get("weight")
    if weight is not None and (
        isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0
    ):
        raise RuleError(f"rule {rule_id!r}: 'weight' must be a positive number")
    if weight is not None and itype is None:
        raise RuleError(f"rule {rule_id!r}: a 'none' rule is decisive; drop its 'weight'")
    matchers: list[Matcher] = []
    shorthand = {k: raw[k] for k in ("any", "all", "none") if k in raw}
    if shorthand:
        matchers.append(_matcher(rule_id, "text", shorthand))
    match = raw.get("match")
    if match is not None:
        if not isinstance(match, dict) or not match:
            raise RuleError(f"rule {rule_id!r}: 'match' must map field names to conditions")
        for fname, spec in match.items():
            matchers.append(_matcher(rule_id, str(fname), spec))
    if not matchers and enabled:
        raise RuleError(f"rule {rule_id!r}: no conditions (give 'match' or any/all/none)")
    return Rule(
        id=rule_id,
        type=itype,
        matchers=tuple(matchers),
        weight=float(weight) if weight is not None else None,
        enabled=enabled,
    )


def _positive(data: Mapping[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RuleError(f"rules: {key!r} must be a non-negative number")
    return float(value)


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
        extra = set(data) - _SET_KEYS
        if extra:
            raise RuleError(
                f"rules: unknown top-level key {sorted(extra)[0]!r} "
                f"(expected {', '.join(sorted(_SET_KEYS))})"
            )
        raw_rules = data.get("rules")
        if not isinstance(raw_rules, list):
            raise RuleError("rules: 'rules' must be a list")
        rules = [_rule(i, r) for i, r in enumerate(raw_rules)]
        seen: set[str] = set()
        for r in rules:
            if r.id in seen:
                raise RuleError(f"rule {r.id!r}: duplicate id")
            seen.add(r.id)
        return cls(
            rules=tuple(rules),
            min_score=_positive(data, "min_score", 2.0),
            headline_factor=_positive(data, "headline_factor", 2.0),
            sample_weight=_positive(data, "sample_weight", 4.0),
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
    def _index(self) -> _TriggerIndex:
        return _TriggerIndex(self.rules)

    def evaluate(self, view: _View) -> Iterable[tuple[Rule, str, bool]]:
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


# ----------------------------------------------------------------------------- classification


@dataclass(frozen=True)
class Hit:
    """One rule or detector that contributed to a decision."""

    rule: str
    type: IncidentType | None
    points: float
    term: str
    in_headline: bool = False


@dataclass(frozen=True)
class Analysis:
    """The full story behind a type decision (what `--explain` prints)."""

    type: IncidentType | None
    reason: str
    stage: str
    scores: Mapping[str, float] = field(default_factory=dict)
    hits: tuple[Hit, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "scores": dict(self.scores),
            "hits": [
                {
                    "rule": h.rule,
                    "type": h.type.value if h.type else None,
                    "points": h.points,
                    "term": h.term,
                    "in_headline": h.in_headline,
                }
                for h in self.hits
            ],
        }


HEARTBEAT_NAMES = frozenset({"watchdog", "deadmansswitch", "infoinhibitor"})


def analyse(
    alert: Alert,
    rules: RuleSet | None = None,
    inspector: SampleInspector | None = None,
    *,
    system_labels: Iterable[str] = (),
) -> Analysis:
    """Decide the type of `alert` and keep every piece of evidence."""
    if alert.status in _CLOSING_STATUSES:
        return Analysis(
            None,
            f"status {alert.status}: resolved notifications close incidents, never open one",
            "status",
        )
    if alert.explicit_type is not None:
        return Analysis(
            alert.explicit_type,
            f"explicit type {alert.explicit_type.value} set by the sender",
            "explicit",
        )
    rs = rules if rules is not None else RuleSet.default()
    view = _View(alert, system_labels)
    scores: dict[IncidentType, float] = {}
    hits: list[Hit] = []
    for rule, term, in_head in rs.evaluate(view):
        if rule.weight is None:
            hit = Hit(rule.id, rule.type, 0.0, term, in_head)
            if rule.type is None:
                return Analysis(
                    None, f"rule {rule.id} ({term!r}): not an incident", "gate", {}, (hit,)
                )
            return Analysis(rule.type, f"rule {rule.id} ({term!r})", "rule", {}, (hit,))
        points = rule.weight * (rs.headline_factor if in_head else 1.0)
        assert rule.type is not None  # a weighted rule always names a type (checked on load)
        scores[rule.type] = scores.get(rule.type, 0.0) + points
        hits.append(Hit(rule.id, rule.type, points, term, in_head))
    if alert.samples and rs.sample_weight > 0:
        check = inspector if inspector is not None else default_inspector()
        found: dict[IncidentType, str] = {}
        for i, sample in enumerate(alert.samples):
            verdict = check(sample)
            if verdict is not None and verdict[0] not in found:
                found[verdict[0]] = f"sample[{i}]: {verdict[1]}"
        for itype, note in found.items():
            scores[itype] = scores.get(itype, 0.0) + rs.sample_weight
            hits.append(Hit("samples", itype, rs.sample_weight, note))
    score_map = {t.value: s for t, s in scores.items()}
    if not scores:
        return Analysis(None, "no rule or detector matched", "scores", score_map, tuple(hits))
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], _PRIORITY_RANK[kv[0]]))
    best, best_score = ranked[0]
    if best_score < rs.min_score:
        return Analysis(
            None,
            f"weak evidence only: {best.value} {best_score:g} < {rs.min_score:g}",
            "scores",
            score_map,
            tuple(hits),
        )
    parts = [
        f"{h.rule} +{h.points:g} {h.term!r}{' in headline' if h.in_headline else ''}"
        if h.rule != "samples"
        else f"{h.term} +{h.points:g}"
        for h in hits
        if h.type is best
    ]
    reason = f"{best.value} {best_score:g}: " + "; ".join(parts)
    if len(ranked) > 1:
        reason += f" (next: {ranked[1][0].value} {ranked[1][1]:g})"
    return Analysis(best, reason, "scores", score_map, tuple(hits))


def classify_incident(
    alert: Alert, rules: RuleSet | None = None, inspector: SampleInspector | None = None
) -> tuple[IncidentType | None, str]:
    """The alert's incident type (None: not an incident) and a human-readable reason."""
    a = analyse(alert, rules, inspector)
    return a.type, a.reason


# ----------------------------------------------------------------------------- samples

_LEAK_TYPES = frozenset({"EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "IBAN", "SECRET"})
_TOXICITY_MIN_SCORE = 0.5


def _leak_verdict(sample: Sample, findings: Sequence[tuple[str, str]]) -> str | None:
    """Findings (type, text) in the response that the user did not supply themselves.

    An address the user typed and the model echoed back is the user's own data; only
    what the user did not give counts as leaked.
    """
    prompt = sample.prompt.lower()
    leaked = sorted({t for t, text in findings if t in _LEAK_TYPES and text.lower() not in prompt})
    return ", ".join(leaked) if leaked else None


def default_inspector() -> SampleInspector:
    """Inspect sampled responses with defib's PII/secret and toxicity detectors.

    Falls back to `basic_inspector` when the detectors package is not importable, so
    classification keeps working in a trimmed install; the reason says which one spoke.
    """
    try:
        from defib.detectors import get_detector

        pii = get_detector("pii")
        tox = get_detector("toxicity")
    except (ImportError, LookupError):
        return basic_inspector()

    def inspect(sample: Sample) -> tuple[IncidentType, str] | None:
        if not sample.response:
            return None
        findings = pii.detect(sample.response)
        spans = [(f.type, sample.response[f.start : f.end]) for f in findings]
        leaked = _leak_verdict(sample, spans)
        if leaked:
            return IncidentType.DATA_LEAK, f"pii detector: {leaked} in response"
        toxic = [f for f in tox.detect(sample.response) if f.score >= _TOXICITY_MIN_SCORE]
        if toxic:
            top = max(toxic, key=lambda f: f.score)
            label = getattr(top, "label", "") or "toxic"
            return IncidentType.TOXICITY, f"toxicity detector: {label} {top.score:.2f} in response"
        return None

    return inspect


_BASIC_PII = (
    ("EMAIL", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    ("PHONE", re.compile(r"(?:\+\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b")),
    ("US_SSN", re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")),
    ("CREDIT_CARD", re.compile(r"\b(?:\d[ -]?){13,19}\b")),
    (
        "SECRET",
        re.compile(
            r"\b(?:AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{36}|sk-(?:proj-)?[A-Za-z0-9_-]{20,}|"
            r"xox[bp]-[A-Za-z0-9-]{10,})\b|-----BEGIN [A-Z ]*PRIVATE KEY-----"
        ),
    ),
)
_BASIC_TOXIC = re.compile(
    r"\b(idiot|idiots|stupid|moron|pathetic|worthless|loser|dumb|shut up|hate you|"
    r"kill yourself|kys|go die|useless piece|scum|retard\w*|f+u+c+k+\w*|shit\w*|bitch\w*|"
    r"asshole|bastard|cunt)\b",
    re.IGNORECASE,
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def basic_inspector() -> SampleInspector:
    """A dependency-free inspector: a handful of PII/secret patterns and an insult lexicon."""

    def inspect(sample: Sample) -> tuple[IncidentType, str] | None:
        text = sample.response
        if not text:
            return None
        spans: list[tuple[str, str]] = []
        for kind, pattern in _BASIC_PII:
            for m in pattern.finditer(text):
                if kind == "CREDIT_CARD":
                    digits = re.sub(r"\D", "", m.group(0))
                    if not (13 <= len(digits) <= 19 and _luhn(digits)):
                        continue
                spans.append((kind, m.group(0)))
        leaked = _leak_verdict(sample, spans)
        if leaked:
            return IncidentType.DATA_LEAK, f"basic pii patterns: {leaked} in response"
        toxic = _BASIC_TOXIC.findall(text)
        if len(toxic) >= 1:
            words = ", ".join(sorted({w.lower() for w in toxic}))
            return IncidentType.TOXICITY, f"basic insult lexicon: {words} in response"
        return None

    return inspect


# ----------------------------------------------------------------------------- severity

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
    r"|\b(major|full|complete|total) outage\b"
    r"|\b(answers|responds|returns|serves) nothing\b|\bnot responding\b",
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
    for sentence in _SENTENCE.split(text):
        if _ERRORISH.search(sentence):
            for m in _PERCENT.finditer(sentence):
                if float(m.group(1)) >= error_rate * 100:
                    return True
    # The measured value of an error-ratio (or success-ratio) metric.
    if alert.value is not None and 0 <= alert.value <= 1:
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


# ----------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Decision:
    """What intake does with one alert. A null type means no incident: no severity, no
    fingerprint, no systems."""

    type: IncidentType | None
    severity: Severity | None
    systems: tuple[str, ...]
    fingerprint: str | None
    reason: str


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
