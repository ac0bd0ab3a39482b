"""Trigger words: a cheap prefilter so each alert only runs the rules whose words occur.

A rule's `text` matcher starts (after `\\b`) with one of a few literal words; one regex
scan of the alert's text finds where those words occur, and only those rules are tried,
and only at those positions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from defib.classify.matchers import Rule

_LOOKAROUND_LEAD = re.compile(r"^(?:\(\?<?[!=](?:[^()]|\([^()]*\))*\))*")
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


def _is_literal(ch: str) -> bool:
    """A character that stands for itself in lowercased text: letters of any script
    (rules in German or Portuguese start with ü or ã words), digits, apostrophe, space,
    hyphen. Upper case never occurs in lowercased text, so it is not a trigger."""
    return (ch.isalnum() and ch == ch.lower()) or ch in "' -"


def _literal_prefix(text: str) -> str:
    """Leading literal characters of a regex fragment (stopping before an optional one)."""
    word: list[str] = []
    for i, ch in enumerate(text):
        if not _is_literal(ch):
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


def triggers_of(patterns: Sequence[re.Pattern[str]]) -> tuple[str, ...] | None:
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


class TriggerIndex:
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
