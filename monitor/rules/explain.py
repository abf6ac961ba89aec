"""Why a rule did not fire on a text ("why not"): each condition that failed, and what came
closest: the nearest form of a name or keyword that the text holds, the amount nearest the
threshold, how many words apart two NEAR terms are, which language or feed the filter wanted.

The conditions are those the matcher evaluates (``monitor.rules.match``), in its order: the
language filter, the feed filter, the word condition (entities, keywords, query), the money
threshold. A rule that fires is said to fire, with its evidence.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from monitor.money.amounts import Amount
from monitor.rules.match import (
    CompiledRule,
    Matcher,
    MoneyView,
    Positions,
    hits_of,
    holds,
)
from monitor.rules.query import And, Near, Node, Not, Or, Term
from monitor.rules.terms import Hit
from monitor.text.normalize import normalize

CLOSE_ENOUGH = 0.6  # difflib's ratio from which a form in the text is shown as the nearest


@dataclass(frozen=True)
class Explanation:
    rule: str
    fired: bool
    reasons: tuple[str, ...]  # why it did not fire; for one that fired, its evidence


def explain(
    matcher: Matcher,
    rule: str,
    text: str,
    amounts: Sequence[Amount],
    *,
    language: str | None = None,
    feed: str | None = None,
) -> Explanation:
    """Whether ``rule`` fires on ``text`` and, when it does not, every reason why
    (``ValueError`` for a rule the matcher does not have)."""
    compiled = matcher.compiled_rule(rule)
    if compiled is None:
        known = ", ".join(r.name for r in matcher.rules.rules)
        raise ValueError(f"no rule named {rule!r} (the rules are: {known})")
    found, positions, folded = matcher.find(text)
    why = _Why(matcher, text, found, positions, folded.normalized.text.split())
    reasons: list[str] = []
    if language is not None and compiled.languages and language not in compiled.languages:
        wanted = ", ".join(sorted(compiled.languages))
        reasons.append(f"article language {language} is not in the rule's language ({wanted})")
    if feed is not None and compiled.feeds is not None and feed not in compiled.feeds:
        reasons.append(f"the article's feed {feed} is not among the rule's feeds")
    if compiled.tree is not None and not holds(compiled.tree, found, positions):
        reasons += why.failed(compiled.tree)
    if compiled.money is not None:
        reasons += _money(compiled, amounts, matcher)
    if reasons:
        return Explanation(rule, False, tuple(reasons))
    fired = matcher.match(text, amounts, language=language, feed=feed).fired
    evidence = next((m.evidence for m in fired if m.rule == rule), ())
    shown = tuple(dict.fromkeys(f"{e.kind} {e.name}: {text[e.start : e.end]}" for e in evidence))
    return Explanation(rule, True, shown)


class _Why:
    def __init__(
        self,
        matcher: Matcher,
        text: str,
        found: dict[str, list[Hit]],
        positions: Positions,
        words: list[str],
    ) -> None:
        self.matcher, self.text, self.found = matcher, text, found
        self.positions, self.words = positions, words

    def failed(self, node: Node) -> list[str]:
        """Why ``node`` does not hold (it does not)."""
        if isinstance(node, Term):
            return [f"{self.name(node)} not found{self.nearest(node)}"]
        if isinstance(node, And):
            return [r for part in node.parts if not self.holds(part) for r in self.failed(part)]
        if isinstance(node, Or):
            if len(node.parts) == 1:
                return self.failed(node.parts[0])
            if all(isinstance(part, Term) for part in node.parts):
                names = ", ".join(self.name(part) for part in node.parts)  # type: ignore[arg-type]
                near = "".join(self.nearest(p) for p in node.parts if isinstance(p, Term))
                return [f"none of {names} found{near}"]
            return ["none of these holds: " + "; ".join(r for p in node.parts
                                                        for r in self.failed(p))]  # fmt: skip
        if isinstance(node, Not):
            return self.excluded(node.part)
        return self.near(node)

    def excluded(self, node: Node) -> list[str]:
        """Why a NOT fails: the excluded terms that are in the text."""
        terms = [node] if isinstance(node, Term) else list(getattr(node, "parts", ()))
        present = [t for t in terms if isinstance(t, Term) and self.found.get(t.text)]
        if not present:
            return ["an excluded part of the query holds"]
        return [f"excluded {self.name(t)} is in the text: "
                f"{self.text[self.found[t.text][0].start : self.found[t.text][0].end]!r}"
                for t in present]  # fmt: skip

    def holds(self, node: Node) -> bool:
        return holds(node, self.found, self.positions)

    def near(self, node: Near) -> list[str]:
        missing = [side for side in (node.left, node.right) if not hits_of(side, self.found)]
        if missing:
            return [r for side in missing for r in self.failed(side)]
        gap = min(
            self._gap(self.positions.words(a), self.positions.words(b))
            for a in hits_of(node.left, self.found)
            for b in hits_of(node.right, self.found)
        )
        sides = " and ".join(self.side(side) for side in (node.left, node.right))
        return [f"{sides} are {gap} words apart at the closest; NEAR/{node.distance} allows "
                f"at most {node.distance}"]  # fmt: skip

    def side(self, node: Node) -> str:
        return self.name(node) if isinstance(node, Term) else "the terms"

    @staticmethod
    def _gap(a: tuple[int, int], b: tuple[int, int]) -> int:
        """Words between two spans of word numbers (0: adjacent or overlapping)."""
        return max(0, b[0] - a[1] - 1, a[0] - b[1] - 1)

    def name(self, term: Term) -> str:
        kind, name = self.matcher.named(term.text)
        return f"{kind} {name!r}"

    def nearest(self, term: Term) -> str:
        """``; nearest: 'form'`` for the text's form closest to one the term is written as."""
        kind, name = self.matcher.named(term.text)
        forms = self.matcher.rules.entities.get(name, ()) if kind == "entity" else (name,)
        best: tuple[float, str] | None = None
        for form in forms:
            folded = normalize(form.rstrip("*")).text
            size = max(1, len(folded.split()))
            grams = {" ".join(self.words[i : i + size]) for i in range(len(self.words))}
            for gram in difflib.get_close_matches(folded, grams, n=1, cutoff=CLOSE_ENOUGH):
                ratio = difflib.SequenceMatcher(None, folded, gram).ratio()
                if best is None or ratio > best[0]:
                    best = (ratio, gram)
        return f" (nearest in the text: {best[1]!r})" if best else ""


def _money(compiled: CompiledRule, amounts: Sequence[Amount], matcher: Matcher) -> list[str]:
    assert compiled.money is not None  # noqa: S101  (called for a money rule)
    currency, low, high = compiled.money
    view = MoneyView(amounts, matcher.rates)
    if view.in_range(compiled.money):
        return []
    every = view.in_range((currency, Decimal("-Infinity"), Decimal("Infinity")))
    if not every:
        return [f"no amount in the text converts to {currency}" if amounts else
                "no amount of money in the text"]  # fmt: skip
    if low > Decimal("-Infinity") and all(value < low for _, value in every):
        amount, value = max(every, key=lambda pair: pair[1])
        return [f"the largest amount, {amount.text!r} = {_shown(value)} {currency}, is below "
                f"the minimum {_shown(low)} {currency}"]  # fmt: skip
    amount, value = min(every, key=lambda pair: pair[1])
    return [f"the smallest amount, {amount.text!r} = {_shown(value)} {currency}, is above "
            f"the maximum {_shown(high)} {currency}"]  # fmt: skip


def _shown(value: Decimal) -> str:
    return f"{value.quantize(Decimal(1)):,}"
