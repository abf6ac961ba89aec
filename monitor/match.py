"""Matching an article against the rules, with the evidence for every rule that fires.

A term (an entity alias or a keyword) occurs in a text when its folded form (see
``monitor.normalize``) stands there as whole words: "Musk" is not in "Muskrat", "ماسك" is not
in "تماسك". The words of a phrase may be separated by any whitespace or punctuation that does
not end a sentence. A term in Arabic script also matches behind the proclitics و ف ب ك ل ال
and their combinations ("وماسك", "لترامب", "بالكرملين", "للكرملين").

Rule semantics are stated in ``monitor.rules``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from monitor.money import Amount
from monitor.normalize import Normalized, fold, normalize
from monitor.rules import Condition, Rule, RulesFile

_ARABIC_LETTER = re.compile(r"[\u0621-\u064a\u0671-\u06d3]")
# Characters that may stand between the words of a phrase: anything but a word character or
# a sentence end.
_PHRASE_GAP = r"[^\w.!?؟\n]+"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of a term: ``start``/``end`` are offsets into the original text."""

    term: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a rule fired: a matched term, or an amount that met the threshold."""

    kind: str  # "entity", "keyword" or "money"
    name: str  # entity name, keyword as written, or the rule's currency for money
    term: str  # the text as the rule wrote it (alias or keyword), or the amount's text
    start: int
    end: int
    amount: Amount | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that fired on an article, with everything that made it fire."""

    rule: str
    notify: tuple[str, ...]
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Report:
    """All that matching found in one text."""

    entities: dict[str, list[Hit]]
    keywords: dict[str, list[Hit]]
    fired: list[Match] = field(default_factory=list)


def term_pattern(term: str) -> re.Pattern[str] | None:
    """The regex that finds ``term`` as whole words in folded text (None for an empty term)."""
    words = _WORD.findall(fold(term))
    if not words:
        return None
    first = re.escape(words[0])
    if _ARABIC_LETTER.match(words[0]):
        if words[0].startswith("ال") and len(words[0]) > 2:
            # ل + ال contracts to لل: "للكرملين" is "ل" + "الكرملين".
            first = f"(?:[وف]?[بك]?{first}|[وف]?لل{re.escape(words[0][2:])})"
        else:
            first = f"(?:[وف]?[بكل]?(?:ال)?|[وف]?لل)?{first}"
    body = _PHRASE_GAP.join([first, *(re.escape(w) for w in words[1:])])
    return re.compile(rf"(?<!\w){body}(?!\w)")


class TermSet:
    """A set of named terms, each with its aliases, found in one pass per alias."""

    def __init__(self, groups: Mapping[str, Sequence[str]]) -> None:
        self._patterns: list[tuple[str, str, re.Pattern[str]]] = []
        for name, aliases in groups.items():
            for alias in aliases:
                pattern = term_pattern(alias)
                if pattern is not None:
                    self._patterns.append((name, alias, pattern))

    def find(self, text: Normalized) -> dict[str, list[Hit]]:
        """Every occurrence of every term, by name; overlapping hits of one name keep the
        longest."""
        found: dict[str, list[Hit]] = {}
        for name, alias, pattern in self._patterns:
            for m in pattern.finditer(text.text):
                start, end = text.span(m.start(), m.end())
                found.setdefault(name, []).append(Hit(alias, start, end))
        return {name: _longest_first(hits) for name, hits in found.items()}


def _longest_first(hits: list[Hit]) -> list[Hit]:
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -(h.end - h.start))):
        if kept and hit.start < kept[-1].end:
            continue
        kept.append(hit)
    return kept


def _condition_holds(cond: Condition | None, found: dict[str, list[Hit]]) -> bool:
    if cond is None:
        return True
    return (
        all(name in found for name in cond.all)
        and (not cond.any or any(name in found for name in cond.any))
        and not any(name in found for name in cond.none)
    )


def _condition_evidence(
    kind: str, cond: Condition | None, found: dict[str, list[Hit]]
) -> Iterable[Evidence]:
    if cond is None:
        return
    for name in dict.fromkeys(cond.all + cond.any):
        for hit in found.get(name, ()):
            yield Evidence(kind, name, hit.term, hit.start, hit.end)


def amounts_in_range(rule: Rule, amounts: Sequence[Amount]) -> list[Amount]:
    """The amounts that satisfy the rule's money condition (same currency, within bounds)."""
    money = rule.money
    if money is None:
        return []
    low = money.min if money.min is not None else Decimal("-Infinity")
    high = money.max if money.max is not None else Decimal("Infinity")
    return [a for a in amounts if a.currency == money.currency and low <= a.value <= high]


class Matcher:
    """The compiled form of a rules file: entities and keywords ready to be found."""

    def __init__(self, rules: RulesFile) -> None:
        self.rules = rules
        self.entities = TermSet(rules.entities)
        keywords = {k: [k] for rule in rules.rules if rule.keywords for k in rule.keywords.names()}
        self.keywords = TermSet(keywords)

    def match(self, text: str, amounts: Sequence[Amount]) -> Report:
        """Find every entity and keyword in ``text`` and the rules that fire on it."""
        folded = normalize(text)
        entities = self.entities.find(folded)
        keywords = self.keywords.find(folded)
        fired: list[Match] = []
        for rule in self.rules.rules:
            if not (
                _condition_holds(rule.entities, entities)
                and _condition_holds(rule.keywords, keywords)
            ):
                continue
            money = amounts_in_range(rule, amounts)
            if rule.money is not None and not money:
                continue
            evidence = [
                *_condition_evidence("entity", rule.entities, entities),
                *_condition_evidence("keyword", rule.keywords, keywords),
                *(Evidence("money", a.currency or "", a.text, a.start, a.end, a) for a in money),
            ]
            evidence.sort(key=lambda e: (e.start, e.end))
            fired.append(Match(rule.name, rule.notify, tuple(evidence)))
        return Report(entities, keywords, fired)
