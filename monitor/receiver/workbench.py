"""The rule workbench: a rules file as edited, validated at each keystroke, and replayed on the
archive of the last days against the rules in force (``monitor.backtest``). Read-only: what is
typed is never saved; the rules file and its review stay the way rules go live.

``preview`` answers the page (``/workbench``, ``workbench.html`` and ``workbench.js`` beside
this module): the problems with their line and column, or each rule's fires with a few
examples, each a snippet of the article with its evidence marked, and what the edit adds and
removes compared with the rules in force.
"""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

from monitor.archive import Archive, Archived, open_archive
from monitor.backtest import Example, backtest
from monitor.context import Context
from monitor.errors import RulesError
from monitor.rules.load import loaded_from_text

MAX_ARTICLES = 3000  # the most recent, so a preview answers within seconds of a keystroke
SNIPPET = 160  # characters of context each side of the evidence


def page(name: str) -> str:
    """``workbench.html`` or ``workbench.js``."""
    return resources.files("monitor.receiver").joinpath(name).read_text(encoding="utf-8")


def preview(ctx: Context, text: str, days: float) -> dict[str, Any]:
    try:
        # Named as the file in force, so the feed lists it names are found beside it.
        rules = loaded_from_text(text, str(ctx.rules_source.path), mtime_ns=-1).rules
    except RulesError as exc:
        problems = [{"line": line, "column": column, "message": message}
                    for line, column, message in exc.problems]  # fmt: skip
        return {"valid": False, "problems": problems}
    archive = open_archive(ctx.settings)
    if archive is None:
        return {"valid": True, "problems": [], "archive": False}
    try:
        return _replayed(ctx, archive, rules, days)
    finally:
        archive.close()


def _replayed(ctx: Context, archive: Archive, rules: Any, days: float) -> dict[str, Any]:
    rows = archive.newest_rows(time.time() - days * 86400, MAX_ARTICLES)
    result = backtest(rows, rules, against=ctx.rules, rates=ctx.rates, zone=ctx.settings.timezone)
    fires = []
    for rule in rules.rules:
        fired = result.fires[rule.name]
        examples = [_example(archive, example) for example in fired.examples]
        change = result.changes.get(rule.name)
        fires.append({
            "rule": rule.name, "fires": len(fired.articles),
            "examples": [e for e in examples if e is not None],
            "added": _listed(result.titles, change.added if change else ()),
            "removed": _listed(result.titles, change.removed if change else ()),
        })  # fmt: skip
    return {"valid": True, "problems": [], "archive": True, "articles": result.articles,
            "days": days, "fires": fires}  # fmt: skip


def _listed(titles: dict[str, tuple[str, str]], ids: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"id": i, "title": titles[i][0], "url": titles[i][1]} for i in ids]


def _example(archive: Archive, example: Example) -> dict[str, Any] | None:
    """The example's article as a snippet around its evidence, the evidence marked (where the
    backtest found it: the article is not matched again)."""
    article: Archived | None = archive.get(example.id)
    spans = example.spans
    if article is None or not spans:
        return None
    start = max(0, spans[0][0] - SNIPPET)
    end = min(len(article.text), max(s[1] for s in spans) + SNIPPET, start + 4 * SNIPPET)
    marks = [(s - start, e - start) for s, e in spans if e <= end]
    return {
        "id": article.id, "title": article.title, "url": article.url,
        "language": article.language, "snippet": article.text[start:end], "marks": marks,
    }  # fmt: skip
