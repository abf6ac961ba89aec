"""``monitor feeds``: the health of every feed of the rules file, as a table or JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import click

from monitor.cli.common import opened_context, rules_option
from monitor.cli.table import Cell, Row, echo_table, last_error_notes, status_cell
from monitor.console import local_time
from monitor.ingest.health import FeedHealth

HEADER = ("feed", "status", "errors", "last success", "next poll", "items")


def _when(iso: str | None, zone: str) -> str:
    """A time of the record in the analyst's zone; "-" for one that has not happened."""
    return local_time(iso, zone) if iso else "-"


def _row(record: FeedHealth, zone: str) -> Row:
    data = record.data
    status = data.get("last_status")
    errors = record.consecutive_errors
    cells = (
        record.url,
        status_cell(status) if status else "-",
        Cell(str(errors), "red" if errors else None),
        _when(data.get("last_success"), zone),
        _when(data.get("next_poll"), zone),
        str(data.get("items_seen", 0)),
    )
    return Row(cells, last_error_notes(data.get("last_error")))


@click.command()
@rules_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed, one per line.")
def feeds(rules: Path | None, as_json: bool) -> None:
    """Show each feed's health: last status, errors in a row, last success, next poll."""
    with opened_context(rules) as ctx:
        records = [FeedHealth.load(ctx.store, feed.url) for feed in ctx.rules.feeds]
        zone = ctx.settings.timezone
    if as_json:
        for record in records:
            click.echo(json.dumps({"url": record.url, **record.data}, ensure_ascii=False))
        return
    echo_table(HEADER, [_row(record, zone) for record in records])
