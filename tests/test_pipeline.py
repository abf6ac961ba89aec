"""One cycle in this process (``monitor poll --once``): broken feeds do not stop the others,
a page that cannot be had falls back to the feed's summary, a second cycle sends nothing."""

from __future__ import annotations

import logging

import pytest

from monitor.pipeline import run_cycle
from tests.support.feeds import rss
from tests.support.files import SEED
from tests.support.servers import SiteServer, WebhookSink, free_port


def rules_text(feeds: list[str], target: str) -> str:
    feed_lines = "".join(f"  - url: {url}\n    every: 1m\n" for url in feeds)
    return f"""
feeds:
{feed_lines}
entities:
  musk: ["Musk", "ماسك"]
  putin: ["Putin", "بوتين"]
channels:
  hook: ["{target}"]
rules:
  - name: musk-putin
    entities: {{all: [musk, putin]}}
    notify: [hook]
"""


def test_bad_feeds_are_logged_in_one_line_and_the_good_one_still_alerts(
    open_contexts, site: SiteServer, webhook: WebhookSink, caplog: pytest.LogCaptureFixture
) -> None:
    article = site.route("/a.html", SEED.read_bytes())
    good = site.route(
        "/good.xml", rss([{"title": "t", "link": article}]), content_type="application/rss+xml"
    )
    garbage = site.route(
        "/garbage.xml", b"\x00\x01 this is not xml at all <<<", content_type="application/rss+xml"
    )
    erroring = site.route("/error.xml", "boom", status=500)
    down = f"http://127.0.0.1:{free_port()}/feed.xml"
    ctx = open_contexts(rules_text([garbage, erroring, down, good], webhook.apprise_url()))

    with caplog.at_level(logging.WARNING):
        report = run_cycle(ctx)

    assert (report.feeds, report.feeds_failed, report.articles) == (4, 3, 1)
    assert report.alerts == {"sent": 1}
    assert len(webhook.received) == 1
    feed_lines = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("feed failed")
    ]
    assert len(feed_lines) == 3
    assert all("\n" not in line for line in feed_lines)
    assert any(garbage in line and "not an RSS or Atom feed" in line for line in feed_lines)
    assert any(erroring in line and "HTTP 500" in line for line in feed_lines)
    assert any(down in line and "cannot connect" in line for line in feed_lines)
    health = ctx.store.get(f"feed:{garbage}")
    assert health is not None and health["consecutive_errors"] == 1

    again = run_cycle(ctx)
    assert again.articles == 0 and again.alerts == {}
    assert len(webhook.received) == 1


def test_unreachable_page_falls_back_to_the_feed_summary(
    open_contexts, site: SiteServer, webhook: WebhookSink
) -> None:
    missing = site.url("/gone.html")
    feed = site.route(
        "/feed.xml",
        rss(
            [
                {
                    "title": "ماسك وبوتين",
                    "link": missing,
                    "description": "<p>قال ماسك إنه تحدث مع بوتين عبر الهاتف مرة واحدة فقط.</p>",
                }
            ]
        ),
        content_type="application/rss+xml",
    )
    ctx = open_contexts(rules_text([feed], webhook.apprise_url()))
    report = run_cycle(ctx)
    assert report.alerts == {"sent": 1}
    message = webhook.received[0]["json"]["message"]
    assert "⟦ماسك⟧" in message and missing in message


def test_a_target_that_stays_down_is_recorded_failed(
    open_contexts, site: SiteServer, webhook: WebhookSink
) -> None:
    article = site.route("/a.html", SEED.read_bytes())
    feed = site.route(
        "/feed.xml", rss([{"title": "t", "link": article}]), content_type="application/rss+xml"
    )
    webhook.down = True
    ctx = open_contexts(
        rules_text([feed], webhook.apprise_url()), delivery_attempts=2, delivery_backoff=0.01
    )
    report = run_cycle(ctx)
    assert report.alerts == {"failed": 1}
    (key,) = ctx.store.keys("alert:")
    alert = ctx.store.get(key)
    assert alert is not None
    assert (
        alert["status"] == "failed" and alert["attempts"] == 2 and "hook#0" in alert["last_error"]
    )
    assert len(webhook.failed) == 2


def test_language_and_feed_filters_apply_in_the_pipeline(
    open_contexts, site: SiteServer, webhook: WebhookSink
) -> None:
    article = site.route("/a.html", SEED.read_bytes())
    feed = site.route(
        "/feed.xml", rss([{"title": "t", "link": article}]), content_type="application/rss+xml"
    )
    other = site.route("/other.xml", rss([]), content_type="application/rss+xml")
    text = (
        rules_text([feed, other], webhook.apprise_url())
        + f"""
  - name: arabic-only
    language: ar
    entities: {{all: [musk, putin]}}
    notify: [hook]
  - name: english-only
    language: en
    entities: {{all: [musk, putin]}}
    notify: [hook]
  - name: other-feed-only
    feeds: ["{other}"]
    entities: {{all: [musk, putin]}}
    notify: [hook]
"""
    )
    ctx = open_contexts(text)
    run_cycle(ctx)
    fired = {post["json"]["title"].split("]")[0].strip("[") for post in webhook.received}
    assert fired == {"musk-putin", "arabic-only"}


def test_a_cycle_fetches_feeds_and_pages_many_at_once_within_the_host_limit(
    open_contexts, site: SiteServer, webhook: WebhookSink
) -> None:
    """It used to keep one request in flight: 1,000 feeds at 100 ms, each with its pages,
    took a quarter of an hour. Here the site is one host: four at once, never more."""
    feeds = []
    for i in range(8):
        page = site.route(f"/{i}.html", SEED.read_bytes(), delay=0.3)
        feed = rss([{"title": f"story {i}", "link": page}])
        feeds.append(site.route(f"/{i}.xml", feed, content_type="application/rss+xml", delay=0.3))
    ctx = open_contexts(
        rules_text(feeds, webhook.apprise_url()),
        per_host_concurrency=4,
        near_duplicate_distance=-1,  # eight copies of one page stand for eight stories here
    )
    report = run_cycle(ctx)
    assert (report.feeds, report.feeds_failed, report.articles) == (8, 0, 8)
    assert report.alerts == {"sent": 8}
    assert site.most_in_flight == 4
