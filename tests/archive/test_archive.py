"""The archive on both backends (SQLite beside the embedded default's state; PostgreSQL started
by the test session): it keeps what the worker processed and purges by age, an archive that is
down stops no alert, and a backtest replays it with the workers' matcher."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from monitor.archive import Archive, Archived, open_archive
from monitor.backtest import backtest
from monitor.context import Context
from monitor.money.amounts import Amount
from monitor.pipeline import run_cycle
from monitor.rules.load import load_rules
from monitor.rules.templates import isolate
from monitor.settings import Settings
from tests.support.feeds import rss
from tests.support.files import ROOT, SEED
from tests.support.servers import SiteServer, WebhookSink

DAY = 86400.0
RULES = """
feeds:
  - {{url: '{feed}', tags: [arabic-press]}}
entities:
  musk: ["Elon Musk", "Musk", "إيلون ماسك", "ماسك"]
  putin: ["Vladimir Putin", "Putin", "بوتين"]
channels:
  desk: [{hook}]
rules:
  - name: musk-putin
    entities: {{all: [musk, putin]}}
    notify: [desk]
  - name: big-money
    money: {{min: 50000000, currency: EUR}}
    notify: [desk]
"""


@pytest.fixture(params=["sqlite", "postgres"])
def archive_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings whose archive is SQLite (the embedded default) or PostgreSQL (with Redis)."""
    if request.param == "sqlite":
        return Settings(state_dir=tmp_path / "state", allow_private_networks=True)
    return Settings(
        redis_url=request.getfixturevalue("redis_url"), state_dir=tmp_path / "state",
        archive_url=request.getfixturevalue("postgres_url"), allow_private_networks=True,
    )  # fmt: skip


@pytest.fixture
def archive(archive_settings: Settings) -> Iterator[Archive]:
    opened = open_archive(archive_settings)
    assert opened is not None
    yield opened
    opened.close()


def article(ident: str, seen: float, text: str = "Musk met Putin.", **more: object) -> Archived:
    fields: dict = {"url": f"https://news.example/{ident}", "title": ident.upper(),
                    "feed": "https://news.example/feed.xml", "language": "en",
                    "published": None, **more}  # fmt: skip
    return Archived(id=ident, seen=seen, text=text, **fields)


def edited_rules(folder: Path) -> tuple[Path, Path]:
    """The rules in force, and the same with musk-putin edited to fire on Putin alone."""
    current = folder / "current.yaml"
    current.write_text(RULES.format(feed="https://news.example/feed.xml", hook="'json://x/'"),
                       encoding="utf-8")  # fmt: skip
    edited = folder / "edited.yaml"
    edited.write_text(
        current.read_text(encoding="utf-8").replace("{all: [musk, putin]}", "{any: [putin]}"),
        encoding="utf-8",
    )
    return current, edited


def test_the_archive_keeps_articles_whole_and_purges_by_age(archive: Archive) -> None:
    now = time.time()
    money = Amount("70 مليون يورو", Decimal("70000000"), "EUR", 3, 16)
    kept = article("new", now, "قال ماسك 70 مليون يورو", language="ar", amounts=(money,),
                   fired=("big-money",), tags=("arabic-press",))  # fmt: skip
    archive.put_all([article("old", now - 20 * DAY), kept, article("mid", now - 2 * DAY)])
    archive.put_all([kept])  # written twice (a task run again): kept once
    assert archive.get("new") == kept
    assert [a.id for a in archive.since(now - 30 * DAY)] == ["old", "mid", "new"]
    assert [a.id for a in archive.since(now - 3 * DAY)] == ["mid", "new"]
    assert [row[0] for row in archive.newest_rows(now - 30 * DAY, 2)] == ["mid", "new"]
    assert archive.purge(now - 14 * DAY) == 1
    assert archive.get("old") is None and [a.id for a in archive.since(0)] == ["mid", "new"]


def test_the_worker_archives_what_it_processed(
    archive_settings: Settings, contexts: Callable[[Settings, str], Context], site: SiteServer,
    webhook: WebhookSink,
) -> None:  # fmt: skip
    page = site.route("/news/a.html", SEED.read_bytes())
    feed = site.route("/feed.xml", rss([{"title": "t", "link": page}]),
                      content_type="application/rss+xml")  # fmt: skip
    ctx = contexts(
        archive_settings, RULES.format(feed=feed, hook=json.dumps(webhook.apprise_url()))
    )
    assert run_cycle(ctx, patience=30).articles == 1
    assert ctx.archive_writer.flush()
    archive = open_archive(archive_settings)
    assert archive is not None
    try:
        [kept] = list(archive.since(time.time() - 60))
    finally:
        archive.close()
    assert kept.url == page and kept.feed == feed and kept.tags == ("arabic-press",)
    assert kept.language == "ar" and "ماسك" in kept.text
    assert set(kept.fired) == {"musk-putin", "big-money"}
    assert any(a.value == 70_000_000 and a.currency == "EUR" for a in kept.amounts)


def test_an_archive_that_is_down_stops_no_alert(
    tmp_path: Path, redis_url: str, contexts: Callable[[Settings, str], Context],
    site: SiteServer, webhook: WebhookSink, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    from tests.support.servers import free_port

    nowhere = f"postgresql://monitor:secret-password@127.0.0.1:{free_port()}/archive"
    settings = Settings(redis_url=redis_url, state_dir=tmp_path / "state", archive_url=nowhere,
                        allow_private_networks=True)  # fmt: skip
    page = site.route("/news/a.html", SEED.read_bytes())
    feed = site.route("/feed.xml", rss([{"title": "t", "link": page}]),
                      content_type="application/rss+xml")  # fmt: skip
    ctx = contexts(settings, RULES.format(feed=feed, hook=json.dumps(webhook.apprise_url())))
    with caplog.at_level(logging.WARNING, logger="monitor.archive"):
        started = time.monotonic()
        assert run_cycle(ctx, patience=30).articles == 1
        webhook.wait_for(2, timeout=30)
        took = time.monotonic() - started
        time.sleep(0.5)
    lines = [r.getMessage() for r in caplog.records if r.name == "monitor.archive"]
    assert len(lines) == 1 and "the archive cannot be written" in lines[0], lines
    assert "secret-password" not in lines[0]
    assert ctx.archive_writer.waiting or ctx.archive_writer._writing  # kept for later
    assert took < 30


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_backtest_against_the_rules_in_force_lists_what_an_edit_adds_and_removes(
    archive: Archive, tmp_path: Path, jobs: int
) -> None:
    now = time.time()
    archive.put_all([
        article("both", now - 3 * DAY, "Elon Musk called Vladimir Putin."),
        article("musk-only", now - 2 * DAY, "Elon Musk launched a rocket."),
        article("putin-ar", now - DAY, "قال بوتين إن المحادثات جرت.", language="ar"),
        article("neither", now - DAY, "The council met on Tuesday."),
        article("too-old", now - 10 * DAY, "Musk and Putin, long ago."),
    ])  # fmt: skip
    current, edited = edited_rules(tmp_path)
    result = backtest(archive.rows_since(now - 7 * DAY), load_rules(edited).rules,
                      against=load_rules(current).rules, jobs=jobs)  # fmt: skip
    assert result.articles == 4
    assert result.fires["musk-putin"].articles == ["both", "putin-ar"]
    assert result.fires["big-money"].articles == []
    assert [e.evidence for e in result.fires["musk-putin"].examples] == [
        ("Vladimir Putin",),
        ("بوتين",),
    ]
    assert set(result.changes) == {"musk-putin"}
    assert result.changes["musk-putin"].added == ("putin-ar",)
    assert result.changes["musk-putin"].removed == ()


def test_monitor_rules_backtest_prints_each_rule_s_fires_and_the_changes(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    archive = open_archive(settings)
    assert archive is not None
    now = time.time()
    archive.put_all([
        article("both", now - 2 * DAY, "Elon Musk called Vladimir Putin."),
        article("putin-ar", now - DAY, "قال بوتين إن المحادثات جرت.", language="ar",
                title="خبر عن بوتين"),
    ])  # fmt: skip
    archive.close()
    current, edited = edited_rules(tmp_path)
    env = {"MONITOR_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}

    def backtest_command(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "rules", "backtest", str(edited), *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    text = backtest_command("--since", "7d", "--against", str(current))
    lines = text.splitlines()
    assert lines[0].startswith(f"{edited}: 2 articles archived since ")
    assert lines[1].split() == ["musk-putin", "2", "fires"]
    assert f"(matched: {isolate('بوتين')})" in text and isolate("خبر عن بوتين") in text
    assert f"against {current}:" in text and "musk-putin: 1 added, 0 removed" in text
    assert f"    + {isolate('خبر عن بوتين')}  https://news.example/putin-ar" in lines
    document = json.loads(backtest_command("--since", "36h", "--json", "--against", str(current)))
    assert document["articles"] == 1
    fires = {f["rule"]: f["fires"] for f in document["fires"]}
    assert fires == {"musk-putin": 1, "big-money": 0}
    assert document["changes"] == {"musk-putin": {"added": ["putin-ar"], "removed": []}}


def test_monitor_rules_explain_says_why_an_archived_article_did_not_fire(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    archive = open_archive(settings)
    assert archive is not None
    archive.put_all([article("musk-only", time.time(), "Elon Musk launched a rocket.")])
    archive.close()
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.format(feed="https://news.example/feed.xml", hook="'json://x/'"),
                     encoding="utf-8")  # fmt: skip
    env = {"MONITOR_STATE_DIR": str(tmp_path / "state"), "MONITOR_RULES": str(rules),
           "PATH": "/usr/bin:/bin"}  # fmt: skip

    def explain_command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "monitor", "rules", "explain", *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip

    done = explain_command("musk-putin", "musk-only")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "MUSK-ONLY  https://news.example/musk-only",
        "explain:   musk-putin did not fire",
        "    - entity 'putin' not found",
    ]
    missing = explain_command("musk-putin", "no-such-id")
    assert missing.returncode == 1 and "no article no-such-id in the archive" in missing.stderr
