"""Backtests: the archive's articles (``monitor.archive``) replayed through a rules file with the
matcher the workers use, so an edit's effect is seen before it goes live.

For each rule: the articles it fires on, counted by day (in the analysts' time zone), and the
first few with their evidence. Against the rules in force, for each rule whose fires differ:
the articles it would add and those it would no longer fire on. The amounts are the archive's,
found when the article was processed; the rest (entities, keywords, queries, language and feed
filters, thresholds at the rates given: the workbench gives those in force, the command the
shipped table with the rules' own) is matched afresh.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.archive import Archived
from monitor.money.rates import RateTable
from monitor.rules.match import Match, Matcher
from monitor.rules.model import RulesFile

EXAMPLES = 3  # articles shown per rule


@dataclass(frozen=True)
class Example:
    """An article a rule fired on, and the text that made it fire."""

    id: str
    title: str
    url: str
    seen: float
    evidence: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]  # where the evidence is in the article's text


@dataclass
class RuleFires:
    rule: str
    articles: list[str] = field(default_factory=list)
    by_day: Counter[str] = field(default_factory=Counter)
    examples: list[Example] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """What an edited rule would do differently: article ids it adds and removes."""

    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass
class Backtest:
    articles: int = 0
    seconds: float = 0.0
    fires: dict[str, RuleFires] = field(default_factory=dict)
    changes: dict[str, Change] = field(default_factory=dict)
    titles: dict[str, tuple[str, str]] = field(default_factory=dict)  # id: title, url of changes


Row = tuple[str, float, bytes]  # an archived article as stored: id, time seen, packed
# What replaying one article gave: id, seen, title, url, the rules fired now with their
# evidence, the rules the rules in force fired (None without them).
Fired = tuple[str, tuple[str, ...], tuple[tuple[int, int], ...]]  # rule, terms, their spans
Replayed = tuple[str, float, str, str, list[Fired], set[str] | None]
CHUNK = 200  # articles per task of a process of the pool

_matchers: tuple[Matcher, Matcher | None] | None = None  # a pool process's


def _start(rules: RulesFile, against: RulesFile | None, rates: RateTable | None) -> None:
    global _matchers
    _matchers = (Matcher(rules, rates), Matcher(against, rates) if against is not None else None)


def _replay(rows: list[Row]) -> list[Replayed]:
    assert _matchers is not None  # noqa: S101  (set by _start in every process)
    matcher, before = _matchers
    out: list[Replayed] = []
    for ident, seen, body in rows:
        article = Archived.unpacked(ident, seen, body)
        fired = [
            (m.rule, tuple(dict.fromkeys(article.text[e.start : e.end] for e in m.evidence)),
             tuple(sorted({(e.start, e.end) for e in m.evidence})))
            for m in _fired(matcher, article)
        ]  # fmt: skip
        old = {m.rule for m in _fired(before, article)} if before is not None else None
        if fired or old:
            out.append((ident, seen, article.title, article.url, fired, old))
    return out


def _fired(matcher: Matcher, article: Archived) -> list[Match]:
    report = matcher.match(article.text, article.amounts, language=article.language,
                           feed=article.feed)  # fmt: skip
    return report.fired


def _chunks(rows: Iterable[Row], counted: list[int]) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        counted[0] += 1
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def backtest(
    rows: Iterable[Row],
    rules: RulesFile,
    *,
    against: RulesFile | None = None,
    rates: RateTable | None = None,
    zone: str = "UTC",
    jobs: int = 1,
) -> Backtest:
    """Replay the archived ``rows`` (``Archive.rows_since``) through ``rules`` (and ``against``,
    the rules in force), in ``jobs`` processes."""
    started = time.perf_counter()
    counted = [0]
    chunks = _chunks(rows, counted)
    if jobs <= 1:
        _start(rules, against, rates)
        replayed: Iterable[list[Replayed]] = map(_replay, chunks)
        result = _tally(replayed, rules, against is not None, zone)
    else:
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(jobs, context, _start, (rules, against, rates)) as pool:
            result = _tally(_in_order(pool, chunks, 4 * jobs), rules, against is not None, zone)
    result.articles = counted[0]
    result.seconds = time.perf_counter() - started
    return result


def _in_order(
    pool: ProcessPoolExecutor, chunks: Iterator[list[Row]], ahead: int
) -> Iterator[list[Replayed]]:
    """The chunks replayed by the pool, in order, with at most ``ahead`` of them submitted and
    not yet taken (``Executor.map`` would read the whole archive first)."""
    waiting: deque[Future[list[Replayed]]] = deque()
    for chunk in chunks:
        waiting.append(pool.submit(_replay, chunk))
        if len(waiting) >= ahead:
            yield waiting.popleft().result()
    while waiting:
        yield waiting.popleft().result()


def _tally(
    replayed: Iterable[list[Replayed]], rules: RulesFile, compared: bool, zone: str
) -> Backtest:
    tz = ZoneInfo(zone)
    result = Backtest(fires={rule.name: RuleFires(rule.name) for rule in rules.rules})
    added: dict[str, list[str]] = {}
    removed: dict[str, list[str]] = {}
    for chunk in replayed:
        for ident, seen, title, url, fired, old in chunk:
            day = datetime.fromtimestamp(seen, tz).date().isoformat()
            for rule, evidence, spans in fired:
                fires = result.fires[rule]
                fires.articles.append(ident)
                fires.by_day[day] += 1
                if len(fires.examples) < EXAMPLES:
                    fires.examples.append(Example(ident, title, url, seen, evidence, spans))
            if not compared or old is None:
                continue
            new = {rule for rule, _, _ in fired}
            for rule in new - old:
                added.setdefault(rule, []).append(ident)
            for rule in old - new:
                removed.setdefault(rule, []).append(ident)
            if new != old:
                result.titles[ident] = (title, url)
    for rule in sorted(set(added) | set(removed)):
        result.changes[rule] = Change(tuple(added.get(rule, ())), tuple(removed.get(rule, ())))
    return result
