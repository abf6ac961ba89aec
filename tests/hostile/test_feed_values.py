"""Values a feed supplies, each bounded: dates no calendar holds, titles of megabytes, feeds of
thousands of entries, endless links and GUIDs. Each feed is still polled, recorded on its
health and read as far as it makes sense; the feeds after it are polled too."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from monitor.context import Context
from monitor.ingest.feeds import MAX_ENTRIES, MAX_URL_CHARS
from monitor.ingest.health import FeedHealth
from monitor.ingest.polling import poll_feed
from monitor.pipeline import run_cycle
from monitor.settings import Settings
from monitor.text.extract import MAX_TITLE_CHARS
from tests.hostile.checks import RSS_TYPE, one_line
from tests.support.feeds import rss
from tests.support.files import SEED
from tests.support.mail import SmtpSink, text_parts
from tests.support.servers import SiteServer, WebhookSink

OUT_OF_RANGE = [
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",  # year 0 once in UTC
    "9999-12-31T23:30:00-01:00",  # year 10000 once in UTC
]


def atom(entries: list[tuple[str, str, str]]) -> str:
    """An Atom feed of (title, link, updated) entries."""
    items = "".join(
        f"<entry><title>{title}</title><link href='{link}'/><id>{link}</id>"
        f"<updated>{updated}</updated></entry>"
        for title, link, updated in entries
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        f"<title>dates</title><id>urn:x</id><updated>2026-12-01T00:00:00Z</updated>{items}</feed>"
    )


def rules_for(feeds: list[str], target: str) -> str:
    listed = "".join(f"  - url: {feed}\n" for feed in feeds)
    return (
        f"feeds:\n{listed}entities:\n  musk: [ماسك]\n  putin: [بوتين]\n"
        f"channels:\n  desk: ['{target}']\n"
        "rules:\n  - {name: musk-putin, entities: {all: [musk, putin]}, notify: [desk]}\n"
    )


def test_entries_dated_out_of_range_are_read_undated(ctx: Context, site: SiteServer) -> None:
    links = [site.url(f"/a{i}.html") for i in range(len(OUT_OF_RANGE))]
    feed = site.route(
        "/dates.xml",
        atom(
            [
                (f"story {i}", link, date)
                for i, (link, date) in enumerate(zip(links, OUT_OF_RANGE, strict=True))
            ]
        ),
        content_type="application/atom+xml",
    )
    queued = poll_feed(ctx, feed)
    assert len(queued) == len(OUT_OF_RANGE)
    for article_id in queued:
        assert (ctx.store.get(f"entry:{article_id}") or {})["published"] is None
    health = FeedHealth.load(ctx.store, feed)
    assert health.data["last_status"] == "ok" and health.consecutive_errors == 0


def test_a_feed_of_impossible_dates_stops_neither_the_cycle_nor_the_feeds_after_it(
    open_contexts: Callable[..., Context], site: SiteServer, webhook: WebhookSink
) -> None:
    odd = site.route(
        "/dates.xml",
        atom([("x", site.url("/x.html"), OUT_OF_RANGE[0])]),
        content_type="application/atom+xml",
    )
    story = site.route("/story.html", SEED.read_bytes())
    good = site.route("/good.xml", rss([{"title": "t", "link": story}]), content_type=RSS_TYPE)
    ctx = open_contexts(rules_for([odd, good], webhook.apprise_url()))
    report = run_cycle(ctx)
    assert (report.feeds, report.feeds_failed, report.articles) == (2, 0, 2)
    assert report.alerts == {"sent": 1}
    assert len(webhook.wait_for(1)) == 1


def test_a_title_of_megabytes_is_clipped_and_its_alert_is_mailed(
    tmp_path_factory: pytest.TempPathFactory,
    site: SiteServer,
    smtp: SmtpSink,
    contexts: Callable[[Settings, str], Context],
) -> None:
    """An unbroken 200,000-character title: mail servers refuse header lines past 998
    characters, and apprise takes minutes over a subject that long."""
    title = "ماسك" + "x" * 200_000
    story = site.route("/story.html", SEED.read_bytes())
    feed = site.route("/feed.xml", rss([{"title": title, "link": story}]), content_type=RSS_TYPE)
    settings = Settings(
        state_dir=tmp_path_factory.mktemp("state"), allow_private_networks=True, total_timeout=5.0
    )
    ctx = contexts(settings, rules_for([feed], smtp.apprise_url()))
    report = run_cycle(ctx)
    assert report.alerts == {"sent": 1}
    (message,) = smtp.wait_for(1)
    subject = str(message["Subject"])
    assert subject.startswith("[musk-putin] ماسكxxx") and subject.endswith("…")
    assert len(subject) == len("[musk-putin] ") + MAX_TITLE_CHARS
    plain, _ = text_parts(message)
    assert "x" * (MAX_TITLE_CHARS - 5) in plain and "x" * MAX_TITLE_CHARS not in plain


def test_a_feed_of_thousands_of_entries_is_read_to_its_first_hundreds(
    ctx: Context, site: SiteServer, caplog: pytest.LogCaptureFixture
) -> None:
    items = [{"title": f"story {i}", "link": f"http://127.0.0.1/s/{i}"} for i in range(2_000)]
    feed = site.route("/big.xml", rss(items), content_type=RSS_TYPE)
    with caplog.at_level(logging.INFO, logger="monitor"):
        queued = poll_feed(ctx, feed)
    assert len(queued) == MAX_ENTRIES
    one_line(caplog, feed, f"more than {MAX_ENTRIES} entries; read the first {MAX_ENTRIES}")
    first = ctx.store.get(f"entry:{queued[0]}") or {}
    assert first["url"] == "http://127.0.0.1/s/0"


def test_endless_links_and_guids_are_not_taken_as_keys(ctx: Context, site: SiteServer) -> None:
    long_link = "http://127.0.0.1/" + "a" * MAX_URL_CHARS
    items = [
        {"title": "too long", "link": long_link},
        {"title": "long guid", "link": "http://127.0.0.1/ok", "guid": "g" * 100_000},
    ]
    feed = site.route("/feed.xml", rss(items), content_type=RSS_TYPE)
    (queued,) = poll_feed(ctx, feed)
    stored = ctx.store.get(f"entry:{queued}") or {}
    assert stored["url"] == "http://127.0.0.1/ok"
    guid_keys = ctx.store.keys("guid:")
    assert len(guid_keys) == 1 and len(guid_keys[0]) < 100
