"""Polling feeds: which feeds are due, one poll of one feed, and a batch of polls at once.

Scheduling. ``due_feeds`` takes from the store's schedule (``monitor.ingest.schedule``) the
feeds whose next poll has come, in one atomic step that pushes them a lease
(``MONITOR_POLL_LEASE``, or the feed's ``every`` when longer) ahead in case their poll is
lost; the poll then writes the feed's
next time, ``monitor.ingest.schedule.next_delay`` from now (``every``, or the WebSub safety
interval while the feed's subscription is active, ``monitor.ingest.websub``; backoff on errors,
the publisher's hints, jitter). So the schedule holds each feed's next poll, wherever the poll ran,
and a tick costs the feeds due, not all feeds.

A poll is a conditional GET (the validators of the last full response are kept in the feed's
health record, ``monitor.ingest.health``): a ``304`` costs no parsing and no store writes but the
feed's record and its next time.

An entry is claimed (``seen:<key>``, state ``queued``; and ``guid:<guid key>``) before its
article is queued, and marked ``done`` once processed (``monitor.pipeline.process_article``);
a ``queued`` entry older than ``MONITOR_REQUEUE_AFTER`` is queued again by the next poll, so
a message lost with its worker (or with a broker restart) is not an article lost. Seen-keys
expire after the retention.

``poll_feeds`` polls a batch with ``monitor.fetch.fetch_all``: up to
``MONITOR_POLL_CONCURRENCY`` requests in flight in one thread, hosts taking turns, and at most
``MONITOR_PER_HOST_CONCURRENCY`` in flight to one host among every process sharing the store
(``monitor.fetch.HostSlots``). Each feed's outcome is recorded as it comes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from monitor import metrics
from monitor.context import Context
from monitor.errors import ClientError, MonitorError, ServerError, TransientError
from monitor.fetch import HostSlots, Outcome, Request, fetch, fetch_all
from monitor.ingest import websub
from monitor.ingest.feeds import read_feed
from monitor.ingest.health import FeedHealth, report_failing
from monitor.ingest.schedule import (
    SCHEDULE,
    FeedTable,
    Hints,
    feed_table,
    max_age,
    next_delay,
    reconcile,
)
from monitor.ingest.seen import claim_new
from monitor.ingest.websub import Subscription

log = logging.getLogger(__name__)

TAKE_AT_ONCE = 1000  # feeds taken from the schedule per store call, so none blocks Redis long
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"


def due_feeds(ctx: Context) -> list[str]:
    """Feeds whose next poll has come, taken from the schedule for ``MONITOR_POLL_LEASE`` or
    their ``every``, whichever is longer."""
    table = feed_table(ctx.rules)
    websub.left(ctx, reconcile(ctx.store, table))
    now = time.time()
    taken = _take_all_due(ctx, now)
    gone = [url for url in taken if url not in table.by_url]
    if gone:  # dropped from the rules by another process since it reconciled
        ctx.store.unschedule(SCHEDULE, gone)
    due = [url for url in taken if url in table.by_url]
    _lease_longer_feeds(ctx, table, due, now)
    return due


def _take_all_due(ctx: Context, now: float) -> list[str]:
    taken: list[str] = []
    while True:
        batch = ctx.store.take_due(SCHEDULE, now, TAKE_AT_ONCE, ctx.settings.poll_lease)
        taken += batch
        if len(batch) < TAKE_AT_ONCE:
            return taken


def _lease_longer_feeds(ctx: Context, table: FeedTable, due: list[str], now: float) -> None:
    # A feed polled less often than the lease keeps its own interval as its lease, so a queue
    # running late does not have it taken again (and polled twice) before its poll ran.
    lease = ctx.settings.poll_lease
    longer = {url: now + table.every(url) for url in due if table.every(url) > lease}
    if longer:
        ctx.store.schedule(SCHEDULE, longer)


def _status_of(error: MonitorError) -> int | None:
    text = error.reason
    if isinstance(error, ServerError | ClientError) and "HTTP " in text:
        digits = text.split("HTTP ", 1)[1][:3]
        return int(digits) if digits.isdigit() else None
    return None


def _schedule(
    ctx: Context, health: FeedHealth, sub: Subscription | None, hints: Hints, now: float
) -> None:
    table = feed_table(ctx.rules)
    every = websub.poll_every(ctx, sub, table.every(health.url), now)
    delay = next_delay(every, health.consecutive_errors, hints, ctx.settings.max_backoff)
    health.scheduled(now, delay)
    if health.url in table.by_url:  # a feed removed from the rules must not come back
        ctx.store.schedule(SCHEDULE, {health.url: now + delay})


def poll_feed(ctx: Context, url: str) -> list[str]:
    """Fetch and parse one feed; return the ids of articles not seen before (now queued).

    Records the outcome on the feed's health and sets its next poll; a failure is logged in
    one line and raised.
    """
    records = ctx.store.get_all([f"feed:{url}", f"push:{url}"])
    health = FeedHealth.of(url, records.get(f"feed:{url}"))
    sub = Subscription.of(records.get(f"push:{url}"))
    started = time.time()
    try:
        outcome: Outcome = fetch(
            ctx.client, url, ctx.settings, accept=FEED_ACCEPT, validators=health.validators
        )
    except MonitorError as exc:
        outcome = exc
    return _record(ctx, health, sub, outcome, started)


def _record(
    ctx: Context, health: FeedHealth, sub: Subscription | None, outcome: Outcome, started: float
) -> list[str]:
    """What a poll of the feed of ``health`` (with its WebSub subscription, if any) found,
    parsed and recorded: the ids of the articles it queued. A failure is logged in one line,
    recorded and raised."""
    url = health.url
    try:
        if isinstance(outcome, MonitorError):
            raise outcome
        fetched = outcome
        document = None if fetched.not_modified else read_feed(fetched)
    except MonitorError as exc:
        log.warning("feed failed: %s", exc)
        metrics.FEEDS_POLLED.labels("error").inc()
        health.failed(started, str(exc), _status_of(exc))
        retry_after = exc.retry_after if isinstance(exc, TransientError) else None
        _schedule(ctx, health, sub, Hints(retry_after=retry_after), started)
        if health.failing_too_long(started, ctx.settings):
            report_failing(health, ctx.settings)
        health.save(ctx.store)
        raise
    metrics.FEEDS_POLLED.labels("not_modified" if document is None else "ok").inc()
    queued = claim_new(ctx, document.entries) if document else []
    health.succeeded(
        started, fetched.status, len(queued), None if document is None else fetched.validators
    )
    hints = Hints(
        max_age=max_age(fetched.headers.get("cache-control", "")),
        ttl=document.ttl if document else None,
    )
    _schedule(ctx, health, sub, hints, started)
    health.save(ctx.store)
    if document is not None:
        websub.noticed(ctx, url, sub, websub.discovered(fetched, document))
        if queued and sub is not None and sub.active(started):
            ids = set(queued)
            new = [entry for entry in document.entries if entry.article_id in ids]
            websub.check_missed(ctx, sub, new, started)
    if document is None:
        log.debug("feed not modified: %s", url)
    else:  # at INFO only when there is news: polls are routine, their articles are not
        log.log(logging.INFO if queued else logging.DEBUG, "feed polled: %s: %d entries, %d new",
                url, len(document.entries), len(queued))  # fmt: skip
    return queued


@dataclass(frozen=True)
class Polled:
    """What polling a batch of feeds found: the ids of new articles, and the feeds that
    failed (each logged and recorded on its health)."""

    articles: list[str]
    failed: list[str]


def poll_feeds(ctx: Context, urls: list[str]) -> Polled:
    """Poll a batch of feeds at once (see the module docstring). A feed that fails does not
    stop the others."""
    records = ctx.store.get_all([f"feed:{url}" for url in urls] + [f"push:{url}" for url in urls])
    healths = [FeedHealth.of(url, records.get(f"feed:{url}")) for url in urls]
    subs = [Subscription.of(records.get(f"push:{url}")) for url in urls]
    requests = [
        Request(url, FEED_ACCEPT, health.validators)
        for url, health in zip(urls, healths, strict=True)
    ]
    slots = HostSlots.from_settings(ctx.store, ctx.settings)
    articles: list[str] = []
    failed: list[str] = []
    for index, outcome in fetch_all(ctx.client, requests, ctx.settings, slots):
        try:
            articles += _record(ctx, healths[index], subs[index], outcome, time.time())
        except MonitorError:
            failed.append(urls[index])
        except Exception:  # a bug on one feed's input must not lose the batch
            log.exception("feed poll crashed: %s", urls[index])
            failed.append(urls[index])
    return Polled(articles, failed)
