"""What `monitor alerts`, `monitor feeds` and `monitor check` print for a person: aligned
tables with a header, times in the analyst's zone, right-to-left text isolated, and colour on a
terminal only. Each command runs as a user runs it (a subprocess; a pseudo-terminal where the
test is about a terminal) on a state written in the store's own format."""

from __future__ import annotations

import itertools
import json
import os
import pty
import re
import subprocess
import sys
import unicodedata
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest

from monitor.alerts.make import Alert
from monitor.cli.table import TABLE_WIDTH, Row, display_width, table_lines, truncated
from monitor.ingest.health import FeedHealth
from monitor.ingest.websub import Subscription
from monitor.rules.templates import FSI, PDI
from monitor.settings import Settings
from monitor.store import open_store
from tests.support.files import ROOT, SEED_TITLE

FEED = "https://news.example.org/feed.xml"
DOWN = "https://down.example.org/rss"
RULES = f"""
feeds:
  - url: {FEED}
    every: 5m
  - url: {DOWN}
    every: 5m
entities:
  musk: ["Musk", "ماسك"]
channels:
  desk: ["json://127.0.0.1:9/never"]
  市场: ["json://127.0.0.1:9/never"]
rules:
  - name: musk-watch
    entities: {{any: [musk]}}
    notify: [desk]
  - name: 市场-watch
    entities: {{any: [musk]}}
    notify: [市场]
"""
ZONE = "Asia/Riyadh"  # UTC+3 all year: 10:00 UTC is 13:00 there
LONG_TITLE = "Musk " + "and a very long headline that goes on " * 8
CJK_TITLE = "马斯克与普京定期交谈"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d " + re.escape(ZONE))
HEADER = ["id", "status", "time", "rule", "channel", "attempts", "title"]
FEEDS_HEADER = ["feed", "status", "errors", "last success", "next poll", "items", "push"]


@dataclass(frozen=True)
class Shown:
    """An alert in the fixture state and the cells its row must show in Asia/Riyadh."""

    alert: Alert
    cells: list[str]


def utc(hour: int, minute: int = 0) -> str:
    return datetime(2026, 11, 24, hour, minute, tzinfo=UTC).isoformat()


def epoch(hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, 24, hour, minute, tzinfo=UTC).timestamp()


def alert(number: int, rule: str, channel: str, title: str, **state: object) -> Alert:
    return Alert(
        id=f"{number:024x}",
        rule=rule,
        channel=channel,
        target=0,
        article_key=f"article-{number}",
        url=f"https://news.example.org/{number}.html",
        title=title,
        source=FEED,
        published=None,
        language=None,
        snippet="",
        snippet_html="",
        evidence=[],
        amounts=[],
        **state,  # type: ignore[arg-type]
    )


SHOWN = [
    Shown(
        alert(1, "musk-watch", "desk", "Musk talks to Putin", status="sent", attempts=1,
              created=utc(9, 58), sent_at=utc(10)),
        ["musk-watch", "desk#0", "sent", "1", "2026-11-24 13:00 Asia/Riyadh", "Musk talks to Putin"],
    ),
    Shown(
        alert(2, "市场-watch", "市场", CJK_TITLE, status="failed", attempts=5,
              created=utc(8, 30), last_error="HTTP 503 from the target"),
        ["市场-watch", "市场#0", "failed", "5", "2026-11-24 11:30 Asia/Riyadh", CJK_TITLE],
    ),
    Shown(
        alert(3, "musk-watch", "desk", SEED_TITLE, status="pending", attempts=2,
              created=utc(9, 40), last_error="timed out"),
        ["musk-watch", "desk#0", "pending", "2", "2026-11-24 12:40 Asia/Riyadh"],
    ),
    Shown(
        alert(4, "musk-watch", "desk", LONG_TITLE, status="held", created=utc(9, 50),
              last_error="an old error, no longer the alert's state"),
        ["musk-watch", "desk#0", "held", "0", "2026-11-24 12:50 Asia/Riyadh"],
    ),
    Shown(
        alert(5, "musk-watch", "desk", "", status="sent", attempts=1, created=utc(9, 59),
              sent_at=utc(10, 1), items=[{"title": "a"}, {"title": "b"}, {"title": "c"}]),
        ["musk-watch", "desk#0", "sent", "1", "2026-11-24 13:01 Asia/Riyadh", "digest of 3 articles"],
    ),
]  # fmt: skip


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A rules file, and a state on the embedded default with the alerts of SHOWN and the
    health of two feeds (one fine, one failing), as the worker writes them."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    store = open_store(Settings(state_dir=tmp_path / "state"))
    try:
        for shown in SHOWN:
            store.put(f"alert:{shown.alert.id}", shown.alert.to_dict())
        fine = FeedHealth.load(store, FEED)
        fine.succeeded(epoch(10), 200, 3, None)
        fine.scheduled(epoch(10), 300)
        fine.save(store)
        failing = FeedHealth.load(store, DOWN)
        for minute in (0, 5):
            failing.failed(epoch(10, minute), "HTTP 503 Service Unavailable", 503)
        failing.scheduled(epoch(10, 5), 600)
        failing.save(store)
        refused = Subscription.new(DOWN, "https://hub.example/", DOWN)
        reason = "the hub refused the subscription: the hub answered HTTP 410"
        store.put(f"push:{DOWN}", asdict(replace(refused, state="failed", reason=reason)))
    finally:
        store.close()
    return {
        "MONITOR_RULES": str(rules),
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_TIMEZONE": ZONE,
    }


def clean_environment(env: dict[str, str]) -> dict[str, str]:
    """The test's environment without settings or colour choices of the machine running it."""
    drop = ("MONITOR_", "REDIS_", "NO_COLOR", "FORCE_COLOR", "CLICOLOR")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(drop)}, **env}


def monitor(*args: str, env: dict[str, str]) -> str:
    """Standard output of the command, its standard output a pipe."""
    done = subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=ROOT,
        env=clean_environment(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def monitor_on_a_terminal(*args: str, env: dict[str, str]) -> str:
    """Standard output of the command, its standard output a pseudo-terminal."""
    main, child = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        cwd=ROOT,
        env=clean_environment(env),
        stdout=child,
        stderr=subprocess.PIPE,
    ) as process:
        os.close(child)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the command closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(main)
        assert process.wait(timeout=120) == 0, process.stderr and process.stderr.read()
    # A terminal writes a newline as CR LF.
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def column_starts(header: str, labels: list[str]) -> list[int]:
    """Where each column starts on the screen, in display columns, from the header row."""
    starts: list[int] = []
    position = 0
    for label in labels:
        index = header.index(label, position)
        starts.append(display_width(header[:index]))
        position = index + len(label)
    return starts


def cells_at(line: str, starts: list[int]) -> list[str]:
    """The cells of a row cut at these display columns. A column that starts inside a wide
    character, or a cell that does not start there (no gap of two spaces before it, or a
    space where it should begin), fails the test: the row is out of line."""
    index_at: dict[int, int] = {}
    column = 0
    for index, char in enumerate(line):
        index_at.setdefault(column, index)
        column += display_width(char)
    index_at.setdefault(column, len(line))
    bounds = [index_at[start] for start in starts] + [len(line)]
    for bound in bounds[1:-1]:
        assert line[bound - 2 : bound] == "  " and not line[bound].isspace(), (line, bound)
    return [line[a:b].rstrip() for a, b in itertools.pairwise(bounds)]


def table(output: str, labels: list[str]) -> tuple[list[list[str]], dict[str, list[str]]]:
    """The rows of a table under its header, each as its cells; and the indented lines under
    each row, by the row's first cell."""
    lines = output.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.split()[:1] == labels[0].split())
    starts = column_starts(lines[header_at], labels)
    assert starts[0] == 0
    rows: list[list[str]] = []
    below: dict[str, list[str]] = {}
    for line in lines[header_at + 1 :]:
        if line.startswith(" "):
            below[rows[-1][0]].append(line)
            continue
        rows.append(cells_at(line, starts))
        below[rows[-1][0]] = []
    return rows, below


def row_of(rows: list[list[str]], alert_id: str) -> list[str]:
    return next(row for row in rows if row[0] == alert_id)


def strong_rtl_outside_isolates(line: str) -> str:
    """The right-to-left letters of a line not between FSI and PDI."""
    outside = re.sub(f"{FSI}[^{PDI}]*{PDI}", "", line)
    return "".join(c for c in outside if unicodedata.bidirectional(c) in ("R", "AL", "AN"))


# -- display width, the measure of every column ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("desk#0", 6),
        ("市场", 4),  # East Asian wide: two columns each
        ("ｆｕｌｌ", 8),  # fullwidth forms
        ("e\u0301te\u0301", 3),  # combining accents take no column
        (f"{FSI}ماسك{PDI}", 4),  # isolates are invisible
        ("", 0),
    ],
)
def test_display_width_counts_terminal_columns(text: str, width: int) -> None:
    assert display_width(text) == width


def test_truncated_fits_the_width_and_never_splits_a_character_from_its_accent() -> None:
    assert truncated("short", 10) == "short"
    assert truncated("市场市场市场", 7) == "市场市…"
    assert display_width(truncated("市场市场市场", 7)) == 7
    assert truncated("cafe\u0301 au lait", 5) == "cafe\u0301…"


def test_text_from_outside_cannot_restyle_the_terminal_or_leave_its_isolate() -> None:
    """A feed's title or a server's error is printed, not obeyed: no escape sequence, no line
    break, and no bidi control that would close the isolate early (a stray PDI) or reverse
    what follows (RLO)."""
    hostile = f"\x1b[2J\x9b31mعاجل{PDI}\u202e evil\nnext line"
    lines = table_lines(["id", "title"], [Row(["1", hostile], notes=[hostile])], colour=False)
    assert len(lines) == 3
    for line in lines[1:]:
        assert not any(unicodedata.category(c) == "Cc" for c in line)
        assert "\u202e" not in line
        assert line.count(FSI) == line.count(PDI) == 1
        assert line.endswith(f"{FSI}[2J 31mعاجل evil next line{PDI}")


# -- monitor alerts ----------------------------------------------------------------------------


def test_alerts_is_a_table_whose_columns_line_up_in_display_width(env: dict[str, str]) -> None:
    output = monitor("alerts", env=env)
    lines = output.splitlines()
    assert lines[0] == "1 pending, 1 held, 2 sent, 1 failed"
    assert lines[1].split() == HEADER
    rows, _ = table(output, HEADER)
    for shown in SHOWN:
        row = row_of(rows, shown.alert.id)
        rule, channel, status, attempts, when = shown.cells[:5]
        assert row[1:6] == [status, when, rule, channel, attempts]
        if len(shown.cells) > 5:
            assert row[6] == shown.cells[5]


def test_alerts_are_listed_newest_first(env: dict[str, str]) -> None:
    rows, _ = table(monitor("alerts", env=env), HEADER)
    created = {s.alert.id: s.alert.created for s in SHOWN}
    assert [row[0] for row in rows] == sorted(created, key=created.__getitem__, reverse=True)


def test_alert_times_are_in_the_analysts_zone_and_named(env: dict[str, str]) -> None:
    output = monitor("alerts", env=env)
    rows, _ = table(output, HEADER)
    assert all(TIME.fullmatch(row[2]) for row in rows)
    assert not re.search(r"\d\d:\d\d:\d\d|T\d\d:", output)  # no ISO string cut short
    utc_rows, _ = table(monitor("alerts", env={**env, "MONITOR_TIMEZONE": "UTC"}), HEADER)
    assert row_of(utc_rows, SHOWN[0].alert.id)[2] == "2026-11-24 10:00 UTC"


def test_the_last_error_of_a_failed_or_pending_alert_is_an_indented_line_under_it(
    env: dict[str, str],
) -> None:
    _, below = table(monitor("alerts", env=env), HEADER)
    failed, pending, held, sent = (SHOWN[i].alert.id for i in (1, 2, 3, 0))
    assert below[failed] == ["    last error: HTTP 503 from the target"]
    assert below[pending] == ["    last error: timed out"]
    assert below[held] == [] and below[sent] == []  # an error of the past is not its state


def test_a_right_to_left_title_is_isolated_and_cannot_reorder_the_columns(
    env: dict[str, str],
) -> None:
    output = monitor("alerts", env=env)
    rows, _ = table(output, HEADER)
    title = row_of(rows, SHOWN[2].alert.id)[6]
    assert title.startswith(FSI) and title.endswith(PDI)
    shown = title[1:-1]
    assert SEED_TITLE.startswith(shown.removesuffix("…").rstrip())
    assert all(not strong_rtl_outside_isolates(line) for line in output.splitlines())
    assert FSI not in row_of(rows, SHOWN[0].alert.id)[6]  # a left-to-right title as it is


def test_a_long_title_is_cut_so_a_row_fits_the_table_width(env: dict[str, str]) -> None:
    output = monitor("alerts", env=env)
    rows, _ = table(output, HEADER)
    title = row_of(rows, SHOWN[3].alert.id)[6]
    assert title.endswith("…") and LONG_TITLE.startswith(title[:-1])
    header_and_rows = output.splitlines()[1:]
    assert all(display_width(line) <= TABLE_WIDTH for line in header_and_rows if line[:1] != " ")


def test_alerts_in_a_pipe_or_with_no_color_have_no_colour(env: dict[str, str]) -> None:
    assert "\x1b" not in monitor("alerts", env=env)
    assert "\x1b" not in monitor("alerts", env={**env, "NO_COLOR": "1", "FORCE_COLOR": "1"})
    assert "\x1b" not in monitor_on_a_terminal("alerts", env={**env, "NO_COLOR": "1"})


def test_alerts_on_a_terminal_colour_each_status_and_keep_the_columns(
    env: dict[str, str],
) -> None:
    plain = monitor("alerts", env=env)
    for coloured in (
        monitor_on_a_terminal("alerts", env=env),
        monitor("alerts", env={**env, "FORCE_COLOR": "1"}),
    ):
        for status, colour in (("sent", "green"), ("pending", "yellow"), ("held", "yellow"),
                               ("failed", "red")):  # fmt: skip
            assert click.style(status, fg=colour) in coloured
        header = coloured.splitlines()[1]
        assert header.startswith("\x1b[1m") and ANSI.sub("", header).split() == HEADER
        # The colour codes take no room: the table is the same once they are taken out.
        assert ANSI.sub("", coloured) == plain


# -- monitor feeds -----------------------------------------------------------------------------


def test_feeds_is_an_aligned_table_with_local_times_and_the_error_under_its_feed(
    env: dict[str, str],
) -> None:
    output = monitor("feeds", env=env)
    assert output.splitlines()[:2] == ["2 feeds: 1 ok, 1 error; 1 failing", "WebSub: 1 failed"]
    assert output.splitlines()[2].split() == " ".join(FEEDS_HEADER).split()
    rows, below = table(output, FEEDS_HEADER)
    assert rows == [
        [FEED, "ok", "0", "2026-11-24 13:00 Asia/Riyadh", "2026-11-24 13:05 Asia/Riyadh", "3",
         "-"],
        [DOWN, "error", "2", "-", "2026-11-24 13:15 Asia/Riyadh", "0", "failed"],
    ]  # fmt: skip
    assert below == {FEED: [], DOWN: [
        "    last error: HTTP 503 Service Unavailable",
        "    WebSub: the hub refused the subscription: the hub answered HTTP 410",
    ]}  # fmt: skip
    assert "\x1b" not in output


def test_feeds_json_keeps_iso_8601(env: dict[str, str]) -> None:
    records = {
        r["url"]: r for r in map(json.loads, monitor("feeds", "--json", env=env).splitlines())
    }
    assert records[FEED]["last_success"] == "2026-11-24T10:00:00+00:00"
    assert records[DOWN]["next_poll"] == "2026-11-24T10:15:00+00:00"


def test_feeds_on_a_terminal_show_a_failing_feed_in_red(env: dict[str, str]) -> None:
    plain = monitor("feeds", env=env)
    for coloured in (
        monitor_on_a_terminal("feeds", env=env),
        monitor("feeds", env={**env, "FORCE_COLOR": "1"}),
    ):
        assert click.style("ok", fg="green") in coloured
        assert click.style("error", fg="red") in coloured
        assert coloured.splitlines()[2].startswith("\x1b[1m")  # the header, under the counts
        assert ANSI.sub("", coloured) == plain
    assert "\x1b" not in monitor("feeds", env={**env, "NO_COLOR": "1", "FORCE_COLOR": "1"})


def many_feeds(tmp_path: Path, count: int, failing_every: int) -> dict[str, str]:
    """``count`` feeds in a text list, every tenth tagged gulf; every ``failing_every``-th has
    failed twice in a row, the others polled fine."""
    urls = [f"https://site{i}.example.org/rss.xml" for i in range(count)]
    lines = [f"{url}  tags=gulf" if i % 10 == 0 else url for i, url in enumerate(urls)]
    (tmp_path / "desk.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text("feed_lists: [{path: desk.txt}]\nrules: []\n", encoding="utf-8")
    store = open_store(Settings(state_dir=tmp_path / "state"))
    try:
        for i, url in enumerate(urls):
            record = FeedHealth.load(store, url)
            if i % failing_every == 0:
                record.failed(epoch(10), "HTTP 503 Service Unavailable", 503)
                record.failed(epoch(10, 5), "HTTP 503 Service Unavailable", 503)
            else:
                record.succeeded(epoch(10), 200, 1, None)
            record.save(store)
    finally:
        store.close()
    return {"MONITOR_RULES": str(rules), "MONITOR_STATE_DIR": str(tmp_path / "state")}


def test_feeds_past_fifty_counts_them_and_lists_the_failing_ones(tmp_path: Path) -> None:
    """At a newsroom's size a row per feed is a listing nobody reads: the counts, by status
    and by tag, then the feeds that fail."""
    env = many_feeds(tmp_path, 120, failing_every=30)  # feeds 0, 30, 60 and 90 fail
    lines = monitor("feeds", env=env).splitlines()
    assert lines[:3] == [
        "120 feeds: 116 ok, 4 error; 4 failing",
        "by tag: gulf 12 (4 failing)",
        "4 failing feeds shown of 120; --all, --failing, --tag NAME or --json for the others",
    ]
    rows, _ = table("\n".join(lines), FEEDS_HEADER)
    assert sorted(row[0] for row in rows) == sorted(
        f"https://site{i}.example.org/rss.xml" for i in (0, 30, 60, 90)
    )
    assert len(table(monitor("feeds", "--all", env=env), FEEDS_HEADER)[0]) == 120


def test_feeds_chosen_by_tag_or_failing_and_streamed_as_json(tmp_path: Path) -> None:
    env = many_feeds(tmp_path, 120, failing_every=30)
    gulf = monitor("feeds", "--tag", "Gulf", env=env).splitlines()
    assert gulf[0] == "12 feeds: 8 ok, 4 error; 4 failing"
    assert len(table("\n".join(gulf), FEEDS_HEADER)[0]) == 12  # 50 or fewer: every one
    records = [
        json.loads(line) for line in monitor("feeds", "--failing", "--json", env=env).splitlines()
    ]
    assert [(r["url"], r["tags"], r["consecutive_errors"]) for r in records] == [
        (f"https://site{i}.example.org/rss.xml", ["gulf"], 2) for i in (0, 30, 60, 90)
    ]


# -- monitor check -----------------------------------------------------------------------------

PAGE = """<html lang="en"><head><title>Musk at the summit</title>
<meta property="article:published_time" content="2026-11-24T10:00:00Z"></head>
<body><article><h1>Musk at the summit</h1>
<p>Elon Musk spoke at length about the summit, the rockets and the plans he has for the
next decade, and Musk said he would return next year for another round of talks.</p>
</article></body></html>"""


def test_check_shows_the_published_time_in_the_analysts_zone(
    env: dict[str, str], tmp_path: Path
) -> None:
    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    output = monitor("check", str(page), env=env)
    assert "published: 2026-11-24 13:00 Asia/Riyadh" in output
    assert "fired:     musk-watch" in output and "\x1b" not in output
    (report,) = map(json.loads, monitor("check", "--json", str(page), env=env).splitlines())
    assert report["published"] == "2026-11-24T10:00:00Z"


def test_check_colours_what_fired_on_a_terminal(env: dict[str, str], tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    plain = monitor("check", str(page), env=env)
    coloured = monitor_on_a_terminal("check", str(page), env=env)
    assert click.style("musk-watch", fg="yellow", bold=True) in coloured
    assert ANSI.sub("", coloured) == plain


def test_check_isolates_each_right_to_left_term_on_its_own(tmp_path: Path) -> None:
    """Arabic and Latin evidence on one line each keep their place; one isolate around all of
    them, or none, let a right-to-left run reorder the Latin beside it."""
    page = ROOT / "monitor" / "demo" / "articles" / "ar-musk-putin.html"
    shown = monitor("check", "--rules", str(ROOT / "examples" / "rules.yaml"), str(page), env={})
    lines = [
        line
        for line in shown.splitlines()
        if line.startswith(("title:", "amount:", "entity:", "fired:"))
    ]
    assert len(lines) > 8
    assert [line for line in lines if strong_rtl_outside_isolates(line)] == []
    starlink = next(line for line in lines if line.startswith("fired:     starlink "))
    assert starlink.endswith(f"(evidence: {FSI}ستارلينك{PDI}, Starlink)")
