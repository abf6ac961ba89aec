"""``monitor feeds``: the health of every feed of the rules file, as a table or JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from monitor.cli.common import opened_context, rules_option
from monitor.ingest.health import FeedHealth

COLUMNS = (
    ("status", "last_status"),
    ("errors", "consecutive_errors"),
    ("last success", "last_success"),
    ("next poll", "next_poll"),
    ("items", "items_seen"),
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    text = str(value)
    return text[:19].replace("T", " ") if text[:4].isdigit() and "T" in text else text


@click.command()
@rules_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed, one per line.")
def feeds(rules: Path | None, as_json: bool) -> None:
    """Show each feed's health: last status, errors in a row, last success, next poll."""
    with opened_context(rules) as ctx:
        records = [FeedHealth.load(ctx.store, feed.url) for feed in ctx.rules.feeds]
    if as_json:
        for record in records:
            click.echo(json.dumps({"url": record.url, **record.data}, ensure_ascii=False))
        return
    rows = [
        [record.url, *(_cell(record.data.get(key)) for _, key in COLUMNS)] for record in records
    ]
    header = ["feed", *(title for title, _ in COLUMNS)]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )
    for record in records:
        if record.data.get("last_error"):
            click.echo(f"{record.url}: {record.data['last_error']}")
