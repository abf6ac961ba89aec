"""``monitor check``: what the rules find in pages (URL, HTML file or stdin); sends nothing.
``--json`` prints one object per source, whose shape the README documents."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

import click

from monitor.cli.common import rules_option, rules_path, usable_rules
from monitor.cli.table import readable
from monitor.console import colour_wanted, local_time
from monitor.errors import MonitorError, ResponseTooLarge, UnsupportedContent, UnsupportedURL
from monitor.fetch import fetch, make_client
from monitor.money.amounts import Amount
from monitor.rules.explain import Explanation, explain
from monitor.rules.findings import findings
from monitor.rules.match import Matcher, Report
from monitor.settings import Settings, load_settings
from monitor.text.extract import (
    Article,
    article_from_text,
    binary_kind,
    decode_page,
    extract_article,
    is_markup,
)


def _read_source(source: str, settings: Settings) -> tuple[bytes, str, str | None]:
    """The bytes of a source, its URL, and its media type where the source says it."""
    if source.lower().startswith(("http://", "https://")):
        with make_client(settings) as client:
            fetched = fetch(client, source, settings)
        return fetched.content, fetched.final_url, fetched.content_type or None
    if source == "-":
        return _read_capped(sys.stdin.buffer, settings.max_bytes), "-", None
    path = Path(source)
    if not path.exists() and _LOOKS_LIKE_A_SITE.match(source):
        raise UnsupportedURL(f"no such file; for a web page, write https://{source}")
    with path.open("rb") as file:
        page = _read_capped(file, settings.max_bytes)
    return page, path.resolve().as_uri(), _MEDIA_BY_SUFFIX.get(path.suffix.lower())


_LOOKS_LIKE_A_SITE = re.compile(r"(?:www\.)?[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?:[/?#:]|$)", re.I)
_MEDIA_BY_SUFFIX = {".txt": "text/plain", ".text": "text/plain", ".html": "text/html",
                    ".htm": "text/html", ".xhtml": "application/xhtml+xml"}  # fmt: skip


def _article(page: bytes, url: str, media: str | None) -> Article:
    """A page as the worker reads it; plain text as text; anything else refused."""
    kind = binary_kind(page)
    if kind is not None:
        raise UnsupportedContent(f"{kind}, not a web page or text; nothing was checked")
    if media not in (None, "text/plain"):
        return extract_article(page, url)
    text = decode_page(page)
    if media == "text/plain" or not is_markup(text):
        return article_from_text(text, url)
    return extract_article(text, url)


def _read_capped(stream: BinaryIO, limit: int) -> bytes:
    """All of a file or stdin up to ``limit`` bytes, as the fetcher reads a URL; more (an
    endless stream, /dev/zero) is refused after reading one byte past the cap."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ResponseTooLarge(
            f"more than {limit:,} bytes (MONITOR_MAX_BYTES); nothing was checked"
        )
    return bytes(data)


def check_report(
    source: str, article: Article, amounts: list[Amount], report: Report
) -> dict[str, Any]:
    """The ``monitor check --json`` object for one source (the contract in the README)."""
    return {"source": source, **findings(article, amounts, report)}


def _print_readable(result: dict[str, Any], zone: str, colour: bool) -> None:
    """The report for a person: the published time in the analyst's zone, and on a terminal
    the rules that fired in colour (``color`` is passed so click's stripping agrees)."""
    click.echo(f"== {result['source']}")
    click.echo(f"title:     {readable(result['title'])}")
    click.echo(
        f"language:  {result['language'] or 'unknown'}   "
        f"published: {local_time(result['published'], zone)}"
    )
    click.echo(f"text:      {len(result['text'])} characters")
    for a in result["amounts"]:
        click.echo(
            f"amount:    {readable(a['text'])}  →  {a['value']} {a['currency']}  "
            f"[{a['start']}:{a['end']}]"
        )
    for name, hits in result["entities"].items():
        forms = _each_readable(result["text"][h["start"] : h["end"]] for h in hits)
        click.echo(f"entity:    {name} ×{len(hits)} ({forms})")
    if not result["fired"]:
        click.echo("fired:     nothing")
    for fired in result["fired"]:
        terms = _each_readable(e["term"] for e in fired["evidence"])
        rule = click.style(fired["rule"], fg="yellow", bold=True) if colour else fired["rule"]
        click.echo(f"fired:     {rule}  (evidence: {terms})", color=colour)


def echo_explanation(explained: Explanation) -> None:
    """Why a rule fired, or each reason it did not, a line each."""
    if explained.fired:
        click.echo(f"explain:   {explained.rule} fired")
        for line in explained.reasons:
            click.echo(f"    evidence: {readable(line)}")
        return
    click.echo(f"explain:   {explained.rule} did not fire")
    for line in explained.reasons:
        click.echo(f"    - {readable(line)}")


def _each_readable(terms: Iterable[str]) -> str:
    """Terms once each, each in an isolate of its own: Arabic beside Latin keeps its place."""
    return ", ".join(readable(term) for term in dict.fromkeys(terms))


@click.command()
@rules_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source, one per line.")
@click.option("--explain", "rule", metavar="RULE",
              help="Say why RULE did not fire (each condition that failed, what came closest), "
              "or its evidence when it did.")  # fmt: skip
@click.argument("sources", nargs=-1, required=True)
def check(rules: Path | None, as_json: bool, rule: str | None, sources: tuple[str, ...]) -> None:
    """Show what the rules find in pages or text (URL, HTML or text file, or - for stdin).
    Sends nothing; exit 1 when a source cannot be read."""
    settings = load_settings()
    matcher = Matcher(usable_rules(rules_path(rules, settings)))
    if rule is not None and matcher.compiled_rule(rule) is None:
        raise click.BadParameter(f"no rule named {rule!r}", param_hint="--explain")
    failed = False
    for source in sources:
        try:
            article = _article(*_read_source(source, settings))
        except (MonitorError, OSError) as exc:
            named = isinstance(exc, MonitorError) and exc.subject  # it says which URL already
            click.echo(str(exc) if named else f"{source}: {exc}", err=True)
            failed = True
            continue
        amounts, report = matcher.examine(article.text, language=article.language)
        result = check_report(source, article, amounts, report)
        explained = None
        if rule is not None:
            explained = explain(matcher, rule, article.text, amounts, language=article.language)
            result["explain"] = asdict(explained)
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
        else:
            _print_readable(result, settings.timezone, colour_wanted(sys.stdout))
            if explained is not None:
                echo_explanation(explained)
    if failed:
        raise SystemExit(1)
