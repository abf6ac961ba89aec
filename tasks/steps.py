"""The tasks: each takes an id or URL, calls one step of ``monitor.pipeline``, queues the next.

Polling is not retried: the feed's next time in the poll schedule is the retry. Delivery is
retried with exponential backoff and jitter while the target refuses
(``monitor.alerts.delivery.retry_delay``); the sweep queues again what a dead worker or a lost
message left pending.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Task

from monitor.alerts.delivery import deliver_alert, stale_alerts
from monitor.alerts.digest import flush_digests
from monitor.context import Context, open_context
from monitor.errors import ConfigError, DeliveryFailed, MonitorError
from monitor.ingest.polling import due_feeds, poll_feed, poll_feeds
from monitor.ingest.schedule import batches
from monitor.ingest.websub import maintain
from monitor.pipeline import process_article, rates_due, refresh_rates
from monitor.settings import load_settings
from tasks.app import app

log = logging.getLogger(__name__)

_context: Context | None = None
_context_pid: int | None = None


def context() -> Context:
    """This process's context, opened on first use (after the fork, never before)."""
    global _context, _context_pid
    if _context is None or _context_pid != os.getpid():
        settings = load_settings()
        if settings.rules is None:
            raise ConfigError("no rules file: set MONITOR_RULES")
        _context, _context_pid = open_context(settings, settings.rules), os.getpid()
    return _context


@app.task(name="monitor.poll_due_feeds")
def poll_due_feeds() -> None:
    ctx = context()
    for batch in batches(due_feeds(ctx), ctx.settings.poll_batch):
        poll_feeds_task.delay(batch)
    if rates_due(ctx):
        refresh_rates_task.delay()


@app.task(name="monitor.maintain_subscriptions")
def maintain_subscriptions_task() -> None:
    """WebSub: ask hubs for the subscriptions due, renew, give up, unsubscribe."""
    maintain(context())


@app.task(name="monitor.refresh_rates")
def refresh_rates_task() -> None:
    refresh_rates(context())


@app.task(name="monitor.poll_feed")
def poll_feed_task(url: str) -> None:
    try:
        article_ids = poll_feed(context(), url)
    except MonitorError:
        return  # logged and recorded on the feed's health by poll_feed
    for article_id in article_ids:
        process_article_task.delay(article_id)


@app.task(name="monitor.poll_feeds")
def poll_feeds_task(urls: list[str]) -> None:
    for article_id in poll_feeds(context(), urls).articles:  # failures logged, recorded
        process_article_task.delay(article_id)


@app.task(name="monitor.process_article")
def process_article_task(article_id: str) -> None:
    for alert_id in process_article(context(), article_id):
        deliver_alert_task.delay(alert_id)


@app.task(name="monitor.deliver_alert", bind=True, max_retries=None)
def deliver_alert_task(self: Task[Any, Any], alert_id: str) -> None:
    ctx = context()
    try:
        status = deliver_alert(ctx, alert_id)
    except DeliveryFailed as exc:  # the delay (backoff with jitter) is on the exception
        raise self.retry(countdown=exc.retry_after, exc=exc) from None
    if status == "sending":  # another delivery holds the lease; see how it ended later
        raise self.retry(countdown=ctx.settings.delivery_lease)


@app.task(name="monitor.sweep_alerts")
def sweep_alerts_task() -> None:
    """Queue again the pending alerts whose delivery is overdue, and the digests now due."""
    ctx = context()
    for alert_id in stale_alerts(ctx) + flush_digests(ctx):
        deliver_alert_task.delay(alert_id)
