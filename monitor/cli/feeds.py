"""``monitor feeds``: the health of every feed of the rules file, as a table or JSON lines;
``monitor feeds export`` and ``monitor feeds import``: feeds in and out as OPML, so a desk can
move its list between the monitor and a feed reader."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import click

from monitor.cli.common import opened_context, rules_option, rules_path
from monitor.cli.table import Cell, Row, counted, echo_table, last_error_notes, status_cell
from monitor.console import local_time
from monitor.ingest.health import FeedHealth
from monitor.ingest.websub import Subscription
from monitor.rules.feedlists import (
    ListDefaults,
    ListUnreadable,
    ReadList,
    feed_list_text,
    merge_feeds,
    opml_document,
    read_feed_list,
    wants_opml,
)
from monitor.rules.load import load_rules
from monitor.rules.model import Feed, tag_name
from monitor.settings import load_settings

HEADER = ("feed", "status", "errors", "last success", "next poll", "items", "push")


def _when(iso: str | None, zone: str) -> str:
    """A time of the record in the analyst's zone; "-" for one that has not happened."""
    return local_time(iso, zone) if iso else "-"


def _push_cell(sub: Subscription | None, zone: str) -> Cell:
    """The feed's WebSub subscription in a few words: "-" for none."""
    if sub is None:
        return Cell("-")
    if sub.active(time.time()):
        return Cell(f"active until {_when(sub.public()['until'], zone)}", "green")
    if sub.state == "failed":  # the reason goes under the row
        return Cell("failed", "red")
    return Cell(sub.shown())


def _row(record: FeedHealth, sub: Subscription | None, zone: str) -> Row:
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
        _push_cell(sub, zone),
    )
    pushed = (f"WebSub: {sub.reason}",) if sub is not None and sub.state == "failed" else ()
    return Row(cells, last_error_notes(data.get("last_error")) + pushed)


SHOWN_AT_MOST = 50  # rows of the table; past that, the feeds that fail, and how to see more
NEVER_POLLED = "never polled"


def _status(record: FeedHealth) -> str:
    return str(record.data.get("last_status") or NEVER_POLLED)


Chosen = tuple[Feed, FeedHealth, Subscription | None]


def _summary(chosen: list[Chosen]) -> list[str]:
    """The feeds chosen counted by status, then by tag with how many of each fail."""
    statuses = Counter(_status(record) for _, record, _ in chosen)
    failing = sum(record.consecutive_errors > 0 for _, record, _ in chosen)
    by_status = ", ".join(f"{n} {status}" for status, n in statuses.most_common())
    lines = [f"{counted(len(chosen), 'feed', 'feeds')}: {by_status or 'none'}; {failing} failing"]
    tagged: Counter[str] = Counter()
    tag_failing: Counter[str] = Counter()
    for feed, record, _ in chosen:
        tagged.update(feed.tags)
        tag_failing.update(feed.tags if record.consecutive_errors > 0 else ())
    if tagged:
        lines.append(
            "by tag: "
            + ", ".join(
                f"{tag} {n} ({tag_failing[tag]} failing)" for tag, n in sorted(tagged.items())
            )
        )
    now = time.time()
    pushed = Counter(
        "active" if sub.active(now) else sub.shown().split(":")[0]
        for _, _, sub in chosen
        if sub is not None
    )
    if pushed:
        lines.append("WebSub: " + ", ".join(f"{n} {state}" for state, n in pushed.most_common()))
    return lines


@click.group(invoke_without_command=True)
@rules_option
@click.option("--tag", "tags", multiple=True, help="Only the feeds with this tag (repeatable).")
@click.option("--failing", is_flag=True, help="Only the feeds whose last polls failed.")
@click.option("--all", "show_all", is_flag=True, help=f"Every feed chosen, past {SHOWN_AT_MOST}.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed, one per line.")
@click.pass_context
def feeds(
    ctx: click.Context,
    rules: Path | None,
    tags: tuple[str, ...],
    failing: bool,
    show_all: bool,
    as_json: bool,
) -> None:
    """Show the feeds' health: a count by status and by tag, then each feed's last status,
    errors in a row, last success, next poll and WebSub subscription (the failing ones first
    past 50 feeds).

    With a command: export the feeds as OPML, or import a feed list."""
    if ctx.invoked_subcommand is not None:
        return
    wanted = {tag_name(tag) for tag in tags}
    with opened_context(rules) as opened:
        zone = opened.settings.timezone
        chosen: list[Chosen] = []
        for feed in opened.rules.feeds:
            if wanted and not wanted & set(feed.tags):
                continue
            found = opened.store.get_all([f"feed:{feed.url}", f"push:{feed.url}"])
            record = FeedHealth.of(feed.url, found.get(f"feed:{feed.url}"))
            sub = Subscription.of(found.get(f"push:{feed.url}"))
            if failing and record.consecutive_errors == 0:
                continue
            if as_json:  # one line as each is read: 100,000 feeds need not be held
                shown = {"url": feed.url, "tags": list(feed.tags), **record.data}
                shown["push"] = sub.public() if sub is not None else None
                click.echo(json.dumps(shown, ensure_ascii=False))
            else:
                chosen.append((feed, record, sub))
    if as_json:
        return
    for line in _summary(chosen):
        click.echo(line)
    rows = chosen
    if len(chosen) > SHOWN_AT_MOST and not show_all:
        failing_ones = [row for row in chosen if row[1].consecutive_errors > 0]
        rows = sorted(failing_ones, key=lambda row: -row[1].consecutive_errors)[:SHOWN_AT_MOST]
        click.echo(
            f"{counted(len(rows), 'failing feed', 'failing feeds')} shown of "
            f"{len(chosen)}; --all, --failing, --tag NAME or --json for the others"
        )
    if rows:
        echo_table(HEADER, [_row(record, sub, zone) for _, record, sub in rows])


@feeds.command("export")
@rules_option
def export_feeds(rules: Path | None) -> None:
    """Write every feed as OPML 2.0 to standard output.

    Every feed of the rules file and of its feed lists, one outline each: its tags as its
    category, its every and name as attributes of those names. Feed readers import it; so
    does `monitor feeds import`."""
    loaded = load_rules(rules_path(rules, load_settings()))
    click.echo(opml_document(loaded.rules.feeds), nl=False)


def _read_or_exit(path: Path, defaults: ListDefaults) -> ReadList:
    try:
        return read_feed_list(path, str(path), defaults)
    except ListUnreadable as exc:
        raise click.ClickException(f"{path}: {exc}") from None


def _write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step: a worker re-reading the list never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _list_text(feeds: Sequence[Feed], as_opml: bool) -> str:
    try:
        return feed_list_text(feeds, as_opml)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@feeds.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--into",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The feed list to add the feeds to, created when missing; a feed already in it "
    "keeps its place and gains the new tags. OPML when its name ends in .opml or .xml, else "
    "one URL a line. Without it, the feeds are printed one a line.",
)
@click.option(
    "--tag", "tags", multiple=True, help="A tag for every feed imported; may be repeated."
)
@click.option(
    "--skip-bad",
    is_flag=True,
    help="Import the good feeds of a SOURCE with bad lines; by default it is refused.",
)
def import_feeds(source: Path, into: Path | None, tags: tuple[str, ...], skip_bad: bool) -> None:
    """Add the feeds of an OPML or text file to a feed list.

    SOURCE is OPML (from a feed reader, or `monitor feeds export`), whose folders and
    categories become tags, or a text list (one URL a line). Each bad line is printed as
    file:line: reason; with any, nothing is written and the exit status is 1, unless
    --skip-bad."""
    read = _read_or_exit(source, ListDefaults(tags=tags))
    for problem in read.problems:
        click.echo(str(problem), err=True)
    if read.problems and not skip_bad:
        raise SystemExit(1)
    if into is None:
        click.echo(_list_text(read.feeds, as_opml=False), nl=False)
        return
    existing = _read_or_exit(into, ListDefaults()) if into.exists() else ReadList([], [])
    if existing.problems:
        raise click.ClickException(f"{into} has bad lines; fix them first: {existing.problems[0]}")
    merged = merge_feeds([*existing.feeds, *read.feeds])
    _write_atomically(into, _list_text(merged, wants_opml(into)))
    click.echo(
        f"{counted(len(read.feeds), 'feed', 'feeds')} imported into {into} "
        f"({len(merged) - len(existing.feeds)} new, {len(merged)} in the list)",
        err=True,
    )
