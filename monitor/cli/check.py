"""``monitor check``: what the rules find in pages (URL, HTML file or stdin); sends nothing.
``--json`` prints one object per source, whose shape the README documents."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import click

from monitor.cli.common import rules_option, rules_path, valid_rules
from monitor.errors import MonitorError, ResponseTooLarge
from monitor.fetch import fetch, make_client
from monitor.money.amounts import Amount
from monitor.rules.match import Evidence, Matcher, Report
from monitor.settings import Settings
from monitor.text.extract import Article, extract_article


def _read_source(source: str, settings: Settings) -> tuple[bytes, str]:
    if source.startswith(("http://", "https://")):
        with make_client(settings) as client:
            fetched = fetch(client, source, settings)
        return fetched.content, fetched.final_url
    if source == "-":
        return _read_capped(sys.stdin.buffer, settings.max_bytes), "-"
    with Path(source).open("rb") as file:
        return _read_capped(file, settings.max_bytes), Path(source).resolve().as_uri()


def _read_capped(stream: BinaryIO, limit: int) -> bytes:
    """All of a file or stdin up to ``limit`` bytes, as the fetcher reads a URL; more (an
    endless stream, /dev/zero) is refused after reading one byte past the cap."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ResponseTooLarge(
            f"more than {limit:,} bytes (MONITOR_MAX_BYTES); nothing was checked"
        )
    return bytes(data)


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


@click.command()
@rules_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source, one per line.")
@click.argument("sources", nargs=-1, required=True)
def check(rules: Path | None, as_json: bool, sources: tuple[str, ...]) -> None:
    """Show what the rules find in pages (URL, HTML file, or - for stdin). Sends nothing."""
    settings = Settings()
    matcher = Matcher(valid_rules(rules_path(rules, settings)))
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
