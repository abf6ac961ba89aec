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
from functools import lru_cache
from typing import Generic, NamedTuple, TypeVar

from monitor.money import Amount
from monitor.normalize import Normalized, fold, normalize
from monitor.rates import RateTable, shipped_rates
from monitor.rules import Condition, Rule, RulesFile

_ARABIC_LETTER = re.compile(r"[\u0621-\u064a\u0671-\u06d3]")
# The words of a phrase may be apart by anything but a sentence end.
_SENTENCE_END = re.compile(r"[.!?؟\n]")
_WORD = re.compile(r"\w+")
_NEXT_WORD = re.compile(r"(\W*)(\w+)")
_WORD_CACHE_SIZE = 500_000
K = TypeVar("K")


class Hit(NamedTuple):
    """One occurrence of a term: ``start``/``end`` are offsets into the original text."""

    term: str
    start: int
    end: int


class Evidence(NamedTuple):
    """Why a rule fired: a matched term, or an amount that met the threshold."""

    kind: str  # "entity", "keyword" or "money"
    name: str  # entity name, keyword as written, or the rule's currency for money
    term: str  # the text as the rule wrote it (alias or keyword), or the amount's text
    start: int
    end: int
    amount: Amount | None = None
    converted: Decimal | None = None  # the amount in the rule's currency


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


@lru_cache(maxsize=200_000)
def _proclitic_forms(word: str) -> tuple[str, ...]:
    """The word itself and what it would be without an Arabic proclitic in front."""
    if not _ARABIC_LETTER.match(word):
        return (word,)
    forms = [word]
    for prefix in _PROCLITICS:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            forms.append(word[len(prefix) :])
    for prefix in _CONTRACTED:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            # ل + ال contracts to لل: "للكرملين" is "ل" + "الكرملين".
            forms.append("ال" + word[len(prefix) :])
    return tuple(forms)


def _proclitic_prefixes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    plain = {
        conj + prep + article
        for conj in ("", "و", "ف")
        for prep in ("", "ب", "ك", "ل")
        for article in ("", "ال")
    } - {""}
    contracted = {conj + "لل" for conj in ("", "و", "ف")}
    by_length = sorted(plain, key=len, reverse=True)
    return tuple(by_length), tuple(sorted(contracted, key=len, reverse=True))


_PROCLITICS, _CONTRACTED = _proclitic_prefixes()


@dataclass(frozen=True, slots=True)
class _Term(Generic[K]):
    name: K
    alias: str
    words: tuple[str, ...]


class TermSet(Generic[K]):
    """Named terms, each with its aliases, found in one pass over the words of a text.

    The text is cut into words once; each word, and each form of it without an Arabic
    proclitic, is looked up in a table of the terms' first words; a phrase then checks the
    words that follow and the gaps between them.
    """

    def __init__(self, groups: Mapping[K, Sequence[str]]) -> None:
        self._by_first: dict[str, list[_Term[K]]] = {}
        for name, aliases in groups.items():
            for alias in aliases:
                words = tuple(_WORD.findall(fold(alias)))
                if words:
                    self._by_first.setdefault(words[0], []).append(_Term(name, alias, words))
        # Every word met in a text so far, and those of them that may start a term: news
        # repeats its vocabulary, so after a few articles a text is two set operations away
        # from the few words worth a look.
        self._known: set[str] = set()
        self._starting: dict[str, tuple[_Term[K], ...]] = {}

    def _learn(self, words: set[str]) -> None:
        if len(self._known) > _WORD_CACHE_SIZE:
            self._known.clear()
            self._starting.clear()
        for word in words:
            forms = _proclitic_forms(word)
            terms = tuple(t for form in forms for t in self._by_first.get(form, ()))
            if terms:
                self._starting[word] = terms
        self._known |= words

    def find(self, text: Normalized) -> dict[K, list[Hit]]:
        """Every occurrence of every term, by name; overlapping hits of one name keep the
        longest."""
        folded = text.text
        unique = _words(folded)
        self._learn(unique - self._known)
        found: dict[K, list[Hit]] = {}
        for word in unique.intersection(self._starting):
            for at in _whole_word_at(folded, word):
                for term in self._starting[word]:
                    end = (
                        at + len(word)
                        if len(term.words) == 1
                        else _phrase_end(folded, at + len(word), term.words)
                    )
                    if end is not None:
                        start, stop = text.span(at, end)
                        found.setdefault(term.name, []).append(Hit(term.alias, start, stop))
        return {name: _longest_first(hits) for name, hits in found.items()}


def _words(text: str) -> set[str]:
    """The distinct words of a text. Splitting on whitespace and sending only the tokens with
    punctuation through the regex is several times faster than a regex over the whole text."""
    unique: set[str] = set()
    for token in set(text.split()):
        if token.isalnum():
            unique.add(token)
        else:
            unique.update(_WORD.findall(token))
    return unique


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _whole_word_at(text: str, word: str) -> list[int]:
    """Offsets where ``word`` stands as a whole word (``\\w`` boundaries on both sides)."""
    found = []
    at = text.find(word)
    while at != -1:
        end = at + len(word)
        if (at == 0 or not _is_word_char(text[at - 1])) and (
            end == len(text) or not _is_word_char(text[end])
        ):
            found.append(at)
        at = text.find(word, end)
    return found


def _phrase_end(text: str, pos: int, words: tuple[str, ...]) -> int | None:
    """Where a term ends if its words after the first follow ``pos``, apart by anything but a
    sentence end; None if they do not."""
    for wanted in words[1:]:
        step = _NEXT_WORD.match(text, pos)
        if step is None or step.group(2) != wanted or _SENTENCE_END.search(step.group(1)):
            return None
        pos = step.end()
    return pos


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


def amounts_in_range(
    rule: Rule, amounts: Sequence[Amount], rates: RateTable
) -> list[tuple[Amount, Decimal]]:
    """The amounts that satisfy the rule's money condition, each with its converted value."""
    money = rule.money
    if money is None:
        return []
    low = money.min if money.min is not None else Decimal("-Infinity")
    high = money.max if money.max is not None else Decimal("Infinity")
    found = []
    for amount in amounts:
        if amount.currency is None:
            continue
        value = rates.convert(amount.value, amount.currency, money.currency)
        if value is not None and low <= value <= high:
            found.append((amount, value))
    return found


class Matcher:
    """The compiled form of a rules file: entities and keywords ready to be found."""

    def __init__(self, rules: RulesFile, rates: RateTable | None = None) -> None:
        self.rules = rules
        self.rates = (rates or shipped_rates()).merged(rules.rates, "rules file")
        terms: dict[tuple[str, str], Sequence[str]] = {
            ("entity", name): aliases for name, aliases in rules.entities.items()
        }
        for rule in rules.rules:
            for keyword in rule.keywords.names() if rule.keywords else ():
                terms[("keyword", keyword)] = (keyword,)
        self.terms = TermSet(terms)

    def match(self, text: str, amounts: Sequence[Amount]) -> Report:
        """Find every entity and keyword in ``text`` and the rules that fire on it."""
        found = self.terms.find(normalize(text))
        entities = {name: hits for (kind, name), hits in found.items() if kind == "entity"}
        keywords = {name: hits for (kind, name), hits in found.items() if kind == "keyword"}
        fired: list[Match] = []
        for rule in self.rules.rules:
            if not (
                _condition_holds(rule.entities, entities)
                and _condition_holds(rule.keywords, keywords)
            ):
                continue
            money = amounts_in_range(rule, amounts, self.rates)
            if rule.money is not None and not money:
                continue
            evidence = [
                *_condition_evidence("entity", rule.entities, entities),
                *_condition_evidence("keyword", rule.keywords, keywords),
                *(
                    Evidence("money", rule.money.currency, a.text, a.start, a.end, a, value)
                    for a, value in money
                    if rule.money is not None
                ),
            ]
            evidence.sort(key=lambda e: (e.start, e.end))
            fired.append(Match(rule.name, rule.notify, tuple(evidence)))
        return Report(entities, keywords, fired)
