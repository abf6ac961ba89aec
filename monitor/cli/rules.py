"""``monitor rules validate``, ``monitor rules test`` and ``monitor rules backtest``: a rules file
checked, its cases run, and its effect on the archived articles seen, before it goes live."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli.common import rules_option, rules_path, usable_rules
from monitor.cli.table import counted, readable
from monitor.console import local_time
from monitor.context import iso_at
from monitor.rules.explain import explain
from monitor.rules.load import load_rules
from monitor.rules.match import Matcher
from monitor.rules.model import missing_env, parse_duration
from monitor.settings import load_settings

if TYPE_CHECKING:
    from monitor.backtest import Backtest


NO_ARCHIVE = (
    "no archive: MONITOR_ARCHIVE_DAYS is 0, or Redis is the store and MONITOR_ARCHIVE_URL "
    "(PostgreSQL) is not set"
)


@click.group()
def rules() -> None:
    """Work with rules files."""


@rules.command("validate")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def rules_validate(file: Path) -> None:
    """Check a rules file; on error print file:line:column: reason and exit 1."""
    loaded = load_rules(file).rules
    for name in missing_env(loaded):
        click.echo(f"{file}: warning: environment variable {name} is not set here", err=True)
    click.echo(
        f"{file}: ok ({counted(len(loaded.feeds), 'feed', 'feeds')}, "
        f"{counted(len(loaded.entities), 'entity', 'entities')}, "
        f"{counted(len(loaded.rules), 'rule', 'rules')})"
    )


@rules.command("test")
@click.argument("rules_file", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("cases_file", type=click.Path(path_type=Path, dir_okay=False))
def rules_test(rules_file: Path, cases_file: Path) -> None:
    """Run the CASES of a cases file against RULES; exit 1 with a diff on any mismatch."""
    from monitor.rules.cases import describe, load_cases, run_case

    loaded = load_rules(rules_file).rules
    cases = load_cases(cases_file, {r.name for r in loaded.rules})
    matcher = Matcher(loaded)
    failed = 0
    for line, case in cases:
        try:
            outcome = run_case(matcher, case, line, cases_file.parent)
        except OSError as exc:
            click.echo(f"{cases_file}:{line}: case {case.name!r}: {exc}", err=True)
            failed += 1
            continue
        failed += not outcome.passed
        for text in describe(outcome, str(cases_file)):
            click.echo(text)
    click.echo(f"{len(cases)} cases, {failed} failed")
    if failed:
        raise SystemExit(1)


def _duration(value: str) -> float:
    try:
        return parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@rules.command("backtest")
@click.argument("rules_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--since", default="7d", show_default=True, metavar="DURATION",
              help="How far back in the archive: 90m, 12h, 7d.")  # fmt: skip
@click.option("--against", type=click.Path(path_type=Path, dir_okay=False),
              help="The rules in force: list what each changed rule adds and removes.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@click.option("--jobs", type=click.IntRange(1), help="Processes that match (default: one a core).")
def rules_backtest(
    rules_file: Path, since: str, against: Path | None, as_json: bool, jobs: int | None
) -> None:
    """Replay the archive's articles through RULES_FILE with the workers' matcher: each rule's
    fires, by day, with a few examples and their evidence."""
    from monitor.archive import open_archive
    from monitor.backtest import backtest

    settings = load_settings()
    new = load_rules(rules_file).rules
    old = load_rules(against).rules if against is not None else None
    archive = open_archive(settings)
    if archive is None:
        raise click.ClickException(NO_ARCHIVE)
    start = time.time() - _duration(since)
    try:
        result = backtest(archive.rows_since(start), new, against=old, zone=settings.timezone,
                          jobs=jobs or os.cpu_count() or 1)  # fmt: skip
    finally:
        archive.close()
    shown = _backtest_json if as_json else _backtest_text
    shown(result, rules_file, against, start, settings.timezone)


def _backtest_json(
    result: Backtest, rules_file: Path, against: Path | None, start: float, zone: str
) -> None:
    document = {
        "rules": str(rules_file), "since": iso_at(start, "seconds"), "articles": result.articles,
        "seconds": round(result.seconds, 3),
        "fires": [
            {"rule": f.rule, "fires": len(f.articles), "by_day": dict(sorted(f.by_day.items())),
             "examples": [{"id": e.id, "title": e.title, "url": e.url,
                           "seen": iso_at(e.seen, "seconds"), "evidence": list(e.evidence)}
                          for e in f.examples]}
            for f in result.fires.values()
        ],
    }  # fmt: skip
    if against is not None:
        document["against"] = str(against)
        document["changes"] = {
            rule: {"added": list(change.added), "removed": list(change.removed)}
            for rule, change in result.changes.items()
        }
    click.echo(json.dumps(document, ensure_ascii=False))


def _backtest_text(
    result: Backtest, rules_file: Path, against: Path | None, start: float, zone: str
) -> None:
    click.echo(
        f"{rules_file}: {counted(result.articles, 'article', 'articles')} archived since "
        f"{local_time(iso_at(start, 'seconds'), zone)}, replayed in {result.seconds:.1f} s"
    )
    width = max((len(name) for name in result.fires), default=0)
    for fires in result.fires.values():
        click.echo(f"{fires.rule:<{width}}  {counted(len(fires.articles), 'fire', 'fires')}")
        if fires.by_day:
            days = ", ".join(f"{day} {n}" for day, n in sorted(fires.by_day.items()))
            click.echo(f"    by day: {days}")
        for example in fires.examples:
            matched = ", ".join(readable(term) for term in example.evidence)
            seen = local_time(iso_at(example.seen, "seconds"), zone)
            click.echo(f"    {seen}  {readable(example.title)}  {readable(example.url)}  "
                       f"(matched: {matched})")  # fmt: skip
    if against is None:
        return
    if not result.changes:
        click.echo(f"against {against}: no rule fires differently")
        return
    click.echo(f"against {against}:")
    for rule, change in result.changes.items():
        click.echo(f"{rule}: {len(change.added)} added, {len(change.removed)} removed")
        for sign, ids in (("+", change.added), ("-", change.removed)):
            for ident in ids:
                title, url = result.titles[ident]
                click.echo(f"    {sign} {readable(title)}  {readable(url)}")


@rules.command("explain")
@rules_option
@click.argument("rule")
@click.argument("article_id")
def rules_explain(rules: Path | None, rule: str, article_id: str) -> None:
    """Say why RULE did or did not fire on an archived article (its id, as `monitor rules
    backtest --json` and the ingest API give it), with the rules in force."""
    from monitor.archive import open_archive
    from monitor.cli.check import echo_explanation

    settings = load_settings()
    matcher = Matcher(usable_rules(rules_path(rules, settings)))
    archive = open_archive(settings)
    if archive is None:
        raise click.ClickException(NO_ARCHIVE)
    try:
        article = archive.get(article_id)
    finally:
        archive.close()
    if article is None:
        raise click.ClickException(f"no article {article_id} in the archive (or it expired)")
    try:
        explained = explain(matcher, rule, article.text, article.amounts,
                            language=article.language, feed=article.feed)  # fmt: skip
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="RULE") from None
    click.echo(f"{readable(article.title)}  {readable(article.url)}")
    echo_explanation(explained)
