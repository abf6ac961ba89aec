"""The ``monitor`` command."""

from __future__ import annotations

import json
import logging
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from monitor.cli_alerts import alerts
from monitor.cli_common import rules_option, rules_path
from monitor.cli_feeds import feeds
from monitor.errors import MonitorError, RulesError
from monitor.extract import Article, extract_article
from monitor.fetch import fetch, make_client
from monitor.match import Evidence, Matcher, Report
from monitor.money import Amount
from monitor.rules import RulesFile, load_rules, missing_env
from monitor.settings import Settings

log = logging.getLogger("monitor")


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _load(path: Path) -> RulesFile:
    try:
        return load_rules(path).rules
    except RulesError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None


@click.group()
@click.version_option(package_name="news-monitor")
def main() -> None:
    """Watch news feeds and alert when they mention what you watch."""


@main.command()
@rules_option
@click.option("--concurrency", type=int, default=None, help="Worker processes (default: cores).")
def run(rules: Path | None, concurrency: int | None) -> None:
    """Run the worker and its scheduler in one process (all queues)."""
    settings = Settings()
    path = rules_path(rules, settings).resolve()
    _load(path)  # refuse to start on a bad file, with its errors
    os.environ["MONITOR_RULES"] = str(path)
    from tasks import app
    from tasks.app import QUEUES

    argv = ["worker", "--beat", "--queues", ",".join(QUEUES), "--loglevel", settings.log_level]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    app.worker_main(argv)


@main.command()
@rules_option
@click.option("--once", is_flag=True, required=True, help="Run one cycle and exit.")
def poll(rules: Path | None, once: bool) -> None:
    """Poll every feed, process new articles and deliver their alerts, in this process."""
    from monitor.context import open_context
    from monitor.pipeline import run_cycle

    settings = Settings()
    _setup_logging(settings)
    path = rules_path(rules, settings)
    _load(path)
    ctx = open_context(settings, path)
    try:
        report = run_cycle(ctx)
    finally:
        ctx.close()
    alerts = ", ".join(f"{n} {status}" for status, n in sorted(report.alerts.items())) or "none"
    click.echo(
        f"{report.feeds} feeds polled ({report.feeds_failed} failed), "
        f"{report.articles} new articles, alerts: {alerts}"
    )


@main.command()
@rules_option
@click.option(
    "--beat/--no-beat",
    default=True,
    help="Also require a recent beat tick (off for probes of workers that run without beat).",
)
def health(rules: Path | None, beat: bool) -> None:
    """Exit 0 if the broker, the store and the rules are fine (and beat ticks); else say why."""
    from monitor.probes import problems

    settings = Settings()
    found = problems(settings, rules or settings.rules, beat=beat)
    for problem in found:
        click.echo(f"unhealthy: {problem}", err=True)
    if found:
        raise SystemExit(1)
    click.echo("ok")


@main.group()
def rules() -> None:
    """Work with rules files."""


@rules.command("validate")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def rules_validate(file: Path) -> None:
    """Check a rules file; on error print file:line:column: reason and exit 1."""
    loaded = _load(file)
    for name in missing_env(loaded):
        click.echo(f"{file}: warning: environment variable {name} is not set here", err=True)
    click.echo(
        f"{file}: ok ({len(loaded.feeds)} feeds, {len(loaded.entities)} entities, "
        f"{len(loaded.rules)} rules)"
    )


@rules.command("test")
@click.argument("rules_file", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("cases_file", type=click.Path(path_type=Path, dir_okay=False))
def rules_test(rules_file: Path, cases_file: Path) -> None:
    """Run the CASES of a cases file against RULES; exit 1 with a diff on any mismatch."""
    from monitor.rules_cases import describe, load_cases, run_case

    loaded = _load(rules_file)
    try:
        cases = load_cases(cases_file, {r.name for r in loaded.rules})
    except RulesError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
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


def _read_source(source: str, settings: Settings) -> tuple[bytes, str]:
    if source == "-":
        return sys.stdin.buffer.read(), "-"
    if source.startswith(("http://", "https://")):
        with make_client(settings) as client:
            fetched = fetch(client, source, settings)
        return fetched.content, fetched.final_url
    return Path(source).read_bytes(), Path(source).resolve().as_uri()


def _number(value: Decimal) -> int | str:
    return int(value) if value == value.to_integral_value() else str(value)


def _evidence(e: Evidence) -> dict[str, Any]:
    """A piece of evidence; money evidence also names the amount and its converted value."""
    item: dict[str, Any] = {"start": e.start, "end": e.end, "term": e.term}
    if e.amount is not None:
        item["amount"] = {"value": _number(e.amount.value), "currency": e.amount.currency}
    if e.converted is not None:
        item["converted"] = {
            "value": _number(e.converted.quantize(Decimal("0.01"))),
            "currency": e.name,
        }
    return item


def check_report(
    source: str, article: Article, amounts: list[Amount], report: Report
) -> dict[str, Any]:
    """The ``monitor check --json`` object for one source (the contract in the README)."""
    return {
        "source": source,
        "title": article.title,
        "language": article.language,
        "published": article.published,
        "text": article.text,
        "amounts": [
            {
                "text": a.text,
                "value": _number(a.value),
                "currency": a.currency,
                "start": a.start,
                "end": a.end,
            }
            for a in amounts
        ],
        "entities": {
            name: [{"alias": h.term, "start": h.start, "end": h.end} for h in hits]
            for name, hits in report.entities.items()
        },
        "fired": [
            {
                "rule": m.rule,
                "evidence": [_evidence(e) for e in m.evidence],
            }
            for m in report.fired
        ],
    }


def _print_readable(result: dict[str, Any]) -> None:
    click.echo(f"== {result['source']}")
    click.echo(f"title:     {result['title']}")
    click.echo(
        f"language:  {result['language'] or 'unknown'}   "
        f"published: {result['published'] or 'unknown'}"
    )
    click.echo(f"text:      {len(result['text'])} characters")
    for a in result["amounts"]:
        click.echo(
            f"amount:    {a['text']}  →  {a['value']} {a['currency']}  [{a['start']}:{a['end']}]"
        )
    for name, hits in result["entities"].items():
        forms = ", ".join(dict.fromkeys(result["text"][h["start"] : h["end"]] for h in hits))
        click.echo(f"entity:    {name} ×{len(hits)} ({forms})")
    if not result["fired"]:
        click.echo("fired:     nothing")
    for fired in result["fired"]:
        terms = ", ".join(dict.fromkeys(e["term"] for e in fired["evidence"]))
        click.echo(f"fired:     {fired['rule']}  (evidence: {terms})")


@main.command()
@rules_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source, one per line.")
@click.argument("sources", nargs=-1, required=True)
def check(rules: Path | None, as_json: bool, sources: tuple[str, ...]) -> None:
    """Show what the rules find in pages (URL, HTML file, or - for stdin). Sends nothing."""
    settings = Settings()
    matcher = Matcher(_load(rules_path(rules, settings)))
    failed = False
    for source in sources:
        try:
            page, url = _read_source(source, settings)
        except (MonitorError, OSError) as exc:
            click.echo(f"{source}: {exc}", err=True)
            failed = True
            continue
        article = extract_article(page, url)
        amounts, report = matcher.examine(article.text, language=article.language)
        result = check_report(source, article, amounts, report)
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
        else:
            _print_readable(result)
    if failed:
        raise SystemExit(1)


main.add_command(alerts)
main.add_command(feeds)
