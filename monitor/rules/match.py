"""Matching an article against the rules, with the evidence for every rule that fires.

How terms are found (whole words, normalised, behind Arabic proclitics, with closed lists of
endings) is stated in ``monitor.rules.terms``; what a rule means, in ``monitor.rules.model``.

Built as a reverse-search engine (like Lucene Monitor's presearcher), so that the cost of an
article grows with what it mentions, not with the number of rules:

1. one pass finds every term of every rule at once (``TermSet``);
2. an index from each term to the rules it can make fire gives the candidate rules; each rule
   is indexed under the terms of which at least one must occur for it to fire (for an AND,
   only its most selective operand's terms). Rules that can fire with no term present (money
   alone, or only ``none``/``NOT`` conditions) are candidates for every article;
3. only candidates are evaluated in full, and evidence is built only for those that fire.

Bounded whatever the page: ``NEAR`` looks its operands' word spans up in sorted lists (time
grows as hits times log hits, not hits squared), and a fired rule's evidence keeps the first
``MAX_EVIDENCE_PER_TERM`` hits of each of its terms (a page that names Putin 4,000 times makes
an alert that shows the first of them, not 4,000 offsets for each of 200 rules).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain
from operator import attrgetter
from typing import NamedTuple

from monitor.money.amounts import Amount, find_amounts
from monitor.money.rates import RateTable, shipped_rates
from monitor.rules.load import gc_paused
from monitor.rules.model import Condition, Feed, Rule, RulesFile, tag_of_reference
from monitor.rules.query import And, Near, Node, Not, Or, Term, TermKind, parse_query
from monitor.rules.terms import Hit, TermSet, TermSpec, term_words
from monitor.text.inflect import NAMES, WORDS
from monitor.text.words import FoldedText, Words

__all__ = ["Evidence", "Hit", "Match", "Matcher", "Report", "TermSet", "amounts_in_range"]

MAX_EVIDENCE_PER_TERM = 20


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
    """All that matching found in one text: entities by name, keywords as the rules wrote
    them, and the rules that fired (in the order of the rules file)."""

    entities: dict[str, list[Hit]]
    keywords: dict[str, list[Hit]]
    fired: list[Match] = field(default_factory=list)


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


MoneyKey = tuple[str, Decimal, Decimal]  # currency, low, high (inclusive)


def _money_key(rule: Rule) -> MoneyKey | None:
    money = rule.money
    if money is None:
        return None
    low = money.min if money.min is not None else Decimal("-Infinity")
    high = money.max if money.max is not None else Decimal("Infinity")
    return money.currency, low, high


class MoneyView:
    """``amounts_in_range`` for many rules over one text: each amount is converted once per
    currency that rules ask for, and each range is looked up once, not once per rule."""

    def __init__(self, amounts: Sequence[Amount], rates: RateTable) -> None:
        self.amounts = amounts
        self.rates = rates
        self._converted: dict[str, list[tuple[Amount, Decimal]]] = {}
        self._in_range: dict[MoneyKey, list[tuple[Amount, Decimal]]] = {}

    def in_range(self, key: MoneyKey) -> list[tuple[Amount, Decimal]]:
        found = self._in_range.get(key)
        if found is not None:
            return found
        currency, low, high = key
        converted = self._converted.get(currency)
        if converted is None:
            converted = self._converted[currency] = [
                (amount, value)
                for amount in self.amounts
                if amount.currency is not None
                and (value := self.rates.convert(amount.value, amount.currency, currency))
                is not None
            ]
        found = self._in_range[key] = [
            (amount, value) for amount, value in converted if low <= value <= high
        ]
        return found


# --- compiling rules -----------------------------------------------------------------------
# A compiled condition is a query tree whose Terms carry term keys: "@name" for an entity,
# "=words" or "~words" (inflected) for a literal, "*prefix" for a wildcard.


class CompiledRule(NamedTuple):
    rule: Rule
    tree: Node | None  # None: no word condition, only money
    positive: tuple[str, ...]  # keys whose hits are evidence (those not under NOT)
    languages: frozenset[str]
    feeds: frozenset[str] | None  # None: from any feed; empty: a tag no feed carries now
    money: MoneyKey | None


def _literal_key(text: str, inflect: bool) -> str:
    return ("~" if inflect else "=") + " ".join(term_words(text))


def _literal_spec(key: str, written: str) -> TermSpec[str]:
    if key[0] == "*":
        return TermSpec(key, written.removesuffix("*"), prefix=True)
    return TermSpec(key, written, WORDS if key[0] == "~" else None)


class _Keyer:
    """Turns rule conditions into trees over term keys, noting what each key names and the
    term to find for each literal, the first time a key is met (its writing is the one
    reported)."""

    def __init__(self, names: dict[str, tuple[str, str]], specs: dict[str, TermSpec[str]]):
        self.names = names
        self.specs = specs
        self._entities: dict[str, Term] = {}
        self.positive: dict[str, None] = {}  # of the rule last keyed, in order of writing

    def tree(self, rule: Rule, query: Node | None) -> Node | None:
        self.positive = {}
        parts = self._condition(rule.entities, "entity", rule.inflect)
        parts += self._condition(rule.keywords, "word", rule.inflect)
        if query is not None:
            parts.append(self.key(query, rule.inflect, False))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _condition(self, cond: Condition | None, kind: TermKind, inflect: bool) -> list[Node]:
        if cond is None:
            return []
        parts: list[Node] = [self.term(kind, n, inflect, False) for n in cond.all]
        if cond.any:
            parts.append(Or(tuple([self.term(kind, n, inflect, False) for n in cond.any])))
        if cond.none:
            parts.append(Not(Or(tuple([self.term(kind, n, inflect, True) for n in cond.none]))))
        return parts

    def term(self, kind: TermKind, text: str, inflect: bool, negated: bool) -> Term:
        if kind == "entity":
            keyed = self._entities.get(text)
            if keyed is None:
                keyed = self._entities[text] = Term("entity", "@" + text)
                self.names.setdefault(keyed.text, ("entity", text))
            key = keyed.text
        else:
            if kind == "prefix":
                key, written = "*" + " ".join(term_words(text)), text + "*"
            else:
                key, written = _literal_key(text, inflect), text
            if key not in self.names:
                self.names[key] = ("keyword", written)
                self.specs[key] = _literal_spec(key, written)
            keyed = Term(kind, key)
        if not negated:
            self.positive[key] = None
        return keyed

    def key(self, node: Node, inflect: bool, negated: bool) -> Node:
        """The query tree with each Term's text replaced by its key."""
        if isinstance(node, Term):
            return self.term(node.kind, node.text, inflect, negated)
        if isinstance(node, Not):
            return Not(self.key(node.part, inflect, not negated))
        if isinstance(node, Near):
            left = self.key(node.left, inflect, negated)
            return Near(left, self.key(node.right, inflect, negated), node.distance)
        parts = tuple([self.key(p, inflect, negated) for p in node.parts])
        return And(parts) if isinstance(node, And) else Or(parts)


def _cost(keys: frozenset[str]) -> float:
    """How often a set of terms is likely to occur: short words and wildcards are common."""
    total = 0.0
    for key in keys:
        weight = 1.0 / max(len(key) - 1, 1)
        total += weight * (3 if key[0] == "*" else 0.5 if key[0] == "@" else 1)
    return total


def anchors(node: Node | None) -> frozenset[str] | None:
    """Keys of which at least one occurs in every text the condition holds on; None when it
    can hold with none present."""
    if node is None or isinstance(node, Not):
        return None
    if isinstance(node, Term):
        return frozenset((node.text,))
    if isinstance(node, Or):
        union: set[str] = set()
        for part in node.parts:
            sub = anchors(part)
            if sub is None:
                return None
            union |= sub
        return frozenset(union)
    options = [node.left, node.right] if isinstance(node, Near) else list(node.parts)
    found = [a for a in map(anchors, options) if a is not None]
    return min(found, key=_cost) if found else None


# --- evaluating ----------------------------------------------------------------------------


class Positions:
    """Word numbers of hits in one text (only NEAR needs them)."""

    def __init__(self, words: Words) -> None:
        self.number = words.number

    def words(self, hit: Hit) -> tuple[int, int]:
        return self.number(hit.folded_start), self.number(hit.folded_end - 1)


def hits_of(node: Node, found: dict[str, list[Hit]]) -> list[Hit]:
    if isinstance(node, Term):
        return found.get(node.text, [])
    return [h for part in node.parts for h in hits_of(part, found)] if isinstance(node, Or) else []


def _near(node: Near, found: dict[str, list[Hit]], positions: Positions) -> bool:
    """Some hit of each side with at most ``distance`` words between them, either order (two
    hits that share a word are not "near", they overlap)."""
    left, right = hits_of(node.left, found), hits_of(node.right, found)
    if not left or not right:
        return False
    spans = [positions.words(h) for h in right]
    firsts = sorted(first for first, _ in spans)
    lasts = sorted(last for _, last in spans)
    gap = node.distance + 1
    for hit in left:
        first, last = positions.words(hit)
        # a right span starting within gap words after this one ends, or ending within gap
        # words before it starts
        if bisect_right(firsts, last + gap) > bisect_left(firsts, last + 1):
            return True
        if bisect_right(lasts, first - 1) > bisect_left(lasts, first - gap):
            return True
    return False


def holds(node: Node, found: dict[str, list[Hit]], positions: Positions) -> bool:
    """Whether a compiled condition holds, given the hits of every term by key."""
    if isinstance(node, Term):
        return node.text in found
    if isinstance(node, And):
        return all(holds(p, found, positions) for p in node.parts)
    if isinstance(node, Or):
        return any(holds(p, found, positions) for p in node.parts)
    if isinstance(node, Not):
        return not holds(node.part, found, positions)
    return _near(node, found, positions)


class _FeedIndex:
    """The feed URLs a rule's ``feeds:`` filter lets through: each entry is a URL, a feed's
    name, or ``tag:`` a tag (every feed carrying it)."""

    def __init__(self, feeds: Iterable[Feed]) -> None:
        self.by_name: dict[str, str] = {}
        self.by_tag: dict[str, set[str]] = {}
        for feed in feeds:
            if feed.name:
                self.by_name[feed.name] = feed.url
            for tag in feed.tags:
                self.by_tag.setdefault(tag, set()).add(feed.url)
        # many rules share a filter (``[tag:gulf]``); each gets the same set, built once
        self._built: dict[tuple[str, ...], frozenset[str]] = {}

    def urls(self, references: tuple[str, ...]) -> frozenset[str] | None:
        """None when there is no filter."""
        if not references:
            return None
        built = self._built.get(references)
        if built is None:
            built = self._built[references] = frozenset(
                url for reference in references for url in self._urls_of(reference)
            )
        return built

    def _urls_of(self, reference: str) -> Iterable[str]:
        tag = tag_of_reference(reference)
        if tag is not None:
            return self.by_tag.get(tag, ())
        return (self.by_name.get(reference, reference),)


class Matcher:
    """The compiled form of a rules file: every term in one ``TermSet``, an index from term to
    rules, and each rule's condition as a tree over term keys."""

    def __init__(self, rules: RulesFile, rates: RateTable | None = None) -> None:
        with gc_paused():
            self._build(rules, rates)

    def _build(self, rules: RulesFile, rates: RateTable | None) -> None:
        self.rules = rules
        self.rates = (rates or shipped_rates()).merged(rules.rates, "rules file")
        self._names: dict[str, tuple[str, str]] = {}
        specs: dict[str, TermSpec[str]] = {}
        for name, aliases in rules.entities.items():
            key = "@" + name
            self._names[key] = ("entity", name)
            for alias in aliases:
                specs.setdefault(f"{key}\0{alias}", TermSpec(key, alias, NAMES))
        feeds = _FeedIndex(rules.feeds)
        self._compiled: list[CompiledRule] = []
        self._index: dict[str, list[int]] = {}
        self._always: list[int] = []
        keyer = _Keyer(self._names, specs)
        for number, rule in enumerate(rules.rules):
            query = parse_query(rule.query) if rule.query is not None else None
            tree = keyer.tree(rule, query)
            self._compiled.append(
                CompiledRule(
                    rule,
                    tree,
                    tuple(keyer.positive),
                    frozenset(rule.language),
                    feeds.urls(rule.feeds),
                    _money_key(rule),
                )
            )
            anchor = anchors(tree)
            if anchor is None:
                self._always.append(number)
            else:
                for key in anchor:
                    self._index.setdefault(key, []).append(number)
        self.terms = TermSet(specs.values())

    def compiled_rule(self, name: str) -> CompiledRule | None:
        """The compiled rule of that name (``monitor.rules.explain``)."""
        return next((c for c in self._compiled if c.rule.name == name), None)

    def named(self, key: str) -> tuple[str, str]:
        """What a term key names: (``entity``, name) or (``keyword``, as written)."""
        return self._names[key]

    def find(
        self, text: str, folded: FoldedText | None = None
    ) -> tuple[dict[str, list[Hit]], Positions, FoldedText]:
        """Every term's hits in ``text`` by key, the words' positions, the folded text (folded
        here unless given)."""
        if folded is None:
            folded = FoldedText(text)
        return self.terms.find(folded.normalized, folded.words), Positions(folded.words), folded

    def candidates(self, keys: Iterable[str]) -> list[int]:
        """Numbers of the rules worth evaluating on a text where ``keys`` occur, in order."""
        chosen = set(self._always)
        for key in keys:
            chosen.update(self._index.get(key, ()))
        return sorted(chosen)

    def examine(
        self, text: str, *, language: str | None = None, feed: str | None = None
    ) -> tuple[list[Amount], Report]:
        """The amounts in ``text`` and what ``match`` finds with them; the text is folded and
        cut into words once for both."""
        folded = FoldedText(text)
        amounts = find_amounts(text, folded)
        return amounts, self.match(text, amounts, language=language, feed=feed, folded=folded)

    def match(
        self,
        text: str,
        amounts: Sequence[Amount],
        *,
        language: str | None = None,
        feed: str | None = None,
        folded: FoldedText | None = None,
    ) -> Report:
        """Find every entity and keyword in ``text`` and the rules that fire on it.

        ``language`` (ISO 639-1) and ``feed`` (the feed URL the article came from) drive the
        rules' ``language:`` and ``feeds:`` filters; None means unknown, and then that filter
        does not apply. ``folded`` is ``text`` folded, when the caller has it.
        """
        found, positions, _ = self.find(text, folded)
        in_range = MoneyView(amounts, self.rates).in_range
        cache = _EvidenceCache(self._names, found)
        fired: list[Match] = []
        for number in self.candidates(found):
            c = self._compiled[number]
            if language is not None and c.languages and language not in c.languages:
                continue
            if feed is not None and c.feeds is not None and feed not in c.feeds:
                continue
            if c.tree is not None and not holds(c.tree, found, positions):
                continue
            money: list[tuple[Amount, Decimal]] = []
            if c.money is not None:
                money = in_range(c.money)
                if not money:
                    continue
            fired.append(Match(c.rule.name, c.rule.notify, cache.evidence(c, money)))
        entities: dict[str, list[Hit]] = {}
        keywords: dict[str, list[Hit]] = {}
        for key, hits in found.items():
            kind, name = self._names[key]
            (entities if kind == "entity" else keywords)[name] = hits
        return Report(entities, keywords, fired)


class _EvidenceCache:
    """The evidence of the rules that fire on one text. Rules that share their terms and
    money range share their evidence, built once."""

    def __init__(self, names: dict[str, tuple[str, str]], found: dict[str, list[Hit]]) -> None:
        self.names = names
        self.found = found
        self._terms: dict[str, list[Evidence]] = {}
        self._money: dict[MoneyKey, list[Evidence]] = {}
        self._whole: dict[tuple[tuple[str, ...], MoneyKey | None], tuple[Evidence, ...]] = {}

    def evidence(
        self, c: CompiledRule, money: list[tuple[Amount, Decimal]]
    ) -> tuple[Evidence, ...]:
        whole = self._whole.get((c.positive, c.money))
        if whole is not None:
            return whole
        # Each part is in position order (a term's hits, the amounts sorted once).
        parts = [items for key in c.positive if (items := self._of_term(key))]
        if c.money is not None:
            parts.append(self._of_money(c.money, money))
        if len(parts) == 1:
            whole = tuple(parts[0])
        else:
            whole = tuple(sorted(chain.from_iterable(parts), key=_by_position))
        self._whole[(c.positive, c.money)] = whole
        return whole

    def _of_term(self, key: str) -> list[Evidence]:
        items = self._terms.get(key)
        if items is None:
            kind, name = self.names[key]
            items = self._terms[key] = [
                Evidence(kind, name, hit.term, hit.start, hit.end)
                for hit in self.found.get(key, ())[:MAX_EVIDENCE_PER_TERM]
            ]
        return items

    def _of_money(self, key: MoneyKey, money: list[tuple[Amount, Decimal]]) -> list[Evidence]:
        items = self._money.get(key)
        if items is None:
            items = self._money[key] = sorted(
                (Evidence("money", key[0], a.text, a.start, a.end, a, v) for a, v in money),
                key=_by_position,
            )
        return items


_by_position = attrgetter("start", "end")
