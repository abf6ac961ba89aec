"""What every hostile case shares: the article and rules it is about, and the checks it makes."""

from __future__ import annotations

import logging

import pytest

from monitor.context import Context
from monitor.errors import MonitorError
from monitor.ingest.feeds import Entry, canonical_url
from monitor.ingest.polling import poll_feed

SUMMARY = "What the feed says of the story: Musk and Putin met to talk about the money."
ARABIC = "قال ماسك إنه تحدث مع بوتين عبر الهاتف عن خطة بقيمة 70 مليون يورو لدعم حملته."
RSS_TYPE = "application/rss+xml"
MUSK_RULES = (
    "feeds:\n  - url: http://127.0.0.1:9/feed.xml\nentities:\n  musk: [Musk]\n"
    "channels:\n  desk: ['json://127.0.0.1:9/x']\n"
    "rules:\n  - {name: musk, entities: {any: [musk]}, notify: [desk]}\n"
)


def entry_for(url: str) -> Entry:
    return Entry(
        url=url,
        key=canonical_url(url),
        feed_url="http://127.0.0.1/feed.xml",
        title="Musk and Putin",
        summary=f"<p>{SUMMARY}</p>",
    )


def one_line(caplog: pytest.LogCaptureFixture, *fragments: str) -> str:
    """The one warning (or worse) logged, which must name each fragment on a single line."""
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1, [f"{r.name}: {r.getMessage()}" for r in records]
    message = records[0].getMessage()
    assert "\n" not in message and records[0].exc_info is None
    for fragment in fragments:
        assert fragment in message
    return message


def failed_poll(ctx: Context, url: str, error: type[MonitorError]) -> MonitorError:
    """Poll a feed that must fail with ``error``; the error names the feed's URL."""
    with pytest.raises(error) as caught:
        poll_feed(ctx, url)
    assert url in str(caught.value)
    return caught.value
