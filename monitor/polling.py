"""Polling feeds: which feeds are due, and one poll of one feed (fetch, parse, keep what is new).

An entry is claimed (``seen:<key>``, state ``queued``) before its article is queued, and marked
``done`` once processed (``monitor.pipeline.process_article``); a ``queued`` entry older than
``REQUEUE_AFTER`` is queued again by the next poll, so a message lost with its worker is not an
article lost.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from monitor.context import Context, now_iso
from monitor.errors import MonitorError
from monitor.feeds import parse_feed
from monitor.fetch import fetch

log = logging.getLogger(__name__)

REQUEUE_AFTER = 600.0  # seconds an entry may stay queued before a poll queues it again
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"


def due_feeds(ctx: Context) -> list[str]:
    """Feeds whose interval has passed since they were last queued; claims their next slot."""
    return [
        feed.url
        for feed in ctx.rules.feeds
        if ctx.store.claim(f"slot:{feed.url}", feed.every.total_seconds(), {"at": now_iso()})
    ]


def _record_feed(ctx: Context, url: str, error: MonitorError | None, new_items: int = 0) -> None:
    health: dict[str, Any] = ctx.store.get(f"feed:{url}") or {"consecutive_errors": 0}
    health["last_attempt"] = now_iso()
    if error is None:
        health.update(last_success=health["last_attempt"], last_status="ok", last_error=None)
        health["consecutive_errors"] = 0
        health["items_seen"] = health.get("items_seen", 0) + new_items
    else:
        health.update(last_status="error", last_error=str(error))
        health["consecutive_errors"] = health.get("consecutive_errors", 0) + 1
    ctx.store.put(f"feed:{url}", health)


def poll_feed(ctx: Context, url: str) -> list[str]:
    """Fetch and parse one feed; return the ids of articles not seen before (now queued)."""
    try:
        entries = parse_feed(fetch(ctx.client, url, ctx.settings, accept=FEED_ACCEPT))
    except MonitorError as exc:
        log.warning("feed failed: %s", exc)
        _record_feed(ctx, url, exc)
        raise
    queued: list[str] = []
    now = time.time()
    for entry in entries:
        seen_key = f"seen:{entry.key}"
        mark = {"state": "queued", "at": now}
        if not ctx.store.claim(seen_key, ctx.retention, mark):
            previous = ctx.store.get(seen_key) or {}
            if previous.get("state") != "queued" or now - previous.get("at", now) < REQUEUE_AFTER:
                continue
            ctx.store.put(seen_key, mark, ctx.retention)
        ctx.store.put(f"entry:{entry.article_id}", entry.to_dict(), ctx.retention)
        queued.append(entry.article_id)
    _record_feed(ctx, url, None, len(queued))
    log.info("feed polled: %s: %d entries, %d new", url, len(entries), len(queued))
    return queued
