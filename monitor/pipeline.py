"""The pipeline's steps, each a function of a ``Context`` and an id or URL.

``monitor.polling.due_feeds`` → ``monitor.polling.poll_feed(url)`` →
``process_article(article_id)`` → ``monitor.delivery.deliver_alert(alert_id)``.
The Celery tasks call these one step per message; ``run_cycle`` calls them in sequence in
this process (``monitor poll --once``). Both share the store, so they never repeat each other.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from monitor import metrics
from monitor.context import RATES_KEY, Context, now_iso
from monitor.delivery import await_other_sender, deliver_with_retries, pending_alerts
from monitor.digest import flush_digests, record_alerts
from monitor.errors import MonitorError
from monitor.extract import Article, article_from_entry, extract_article
from monitor.feeds import Entry
from monitor.fetch import fetch
from monitor.money import find_amounts
from monitor.polling import poll_feed
from monitor.rates import RateTable, parse_ecb_xml

log = logging.getLogger(__name__)

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


def rates_due(ctx: Context) -> bool:
    """True once per ``MONITOR_RATES_REFRESH`` when a rates URL is configured (claims the slot)."""
    return bool(ctx.settings.rates_url) and ctx.store.claim(
        "slot:rates", ctx.settings.rates_refresh, {"at": now_iso()}
    )


def refresh_rates(ctx: Context) -> RateTable | None:
    """Fetch the ECB reference rates from ``MONITOR_RATES_URL`` into the store.

    A failed refresh is logged in one line and leaves the previous table in force.
    """
    url = ctx.settings.rates_url
    if not url:
        return None
    try:
        fetched = fetch(ctx.client, url, ctx.settings, accept="application/xml")
        table = parse_ecb_xml(fetched.content, source=url)
    except MonitorError as exc:
        log.warning("exchange rates not refreshed, previous table stays: %s", exc)
        return None
    ctx.store.put(RATES_KEY, table.to_dict())
    ctx.forget_rates()
    log.info("exchange rates refreshed: %d currencies as of %s", len(table.per_euro), table.date)
    return table


def read_article(ctx: Context, entry: Entry) -> Article:
    """The article behind a feed entry: the page when it can be had, else the entry itself."""
    try:
        page = fetch(ctx.client, entry.url, ctx.settings, accept=PAGE_ACCEPT)
    except MonitorError as exc:
        log.warning("article page not fetched, using the feed's summary: %s", exc)
        return article_from_entry(entry)
    return extract_article(page.content, entry.url, entry)


def process_article(ctx: Context, article_id: str) -> list[str]:
    """Extract, find amounts, match; return the ids of alerts still to deliver."""
    data = ctx.store.get(f"entry:{article_id}")
    if data is None:
        log.warning("article %s: its feed entry has expired from the store; skipped", article_id)
        return []
    entry = Entry.from_dict(data)
    article = read_article(ctx, entry)
    amounts = find_amounts(article.text)
    report = ctx.matcher.match(
        article.text, amounts, language=article.language, feed=entry.feed_url
    )
    metrics.ARTICLES_PROCESSED.labels("page" if article.from_page else "feed").inc()
    if not article.from_page:
        metrics.EXTRACTION_FAILURES.inc()
    pending: list[str] = []
    for match in report.fired:
        metrics.RULE_FIRES.labels(match.rule).inc()
        pending += record_alerts(ctx, article, entry.key, match, amounts)
    ctx.store.put(f"seen:{entry.key}", {"state": "done", "at": time.time()}, ctx.retention)
    log.info(
        "article processed: %s: %d amounts, rules fired: %s",
        entry.url,
        len(amounts),
        ", ".join(m.rule for m in report.fired) or "none",
    )
    return pending


@dataclass
class CycleReport:
    """What one ``run_cycle`` did."""

    feeds: int = 0
    feeds_failed: int = 0
    articles: int = 0
    alerts: dict[str, int] = field(default_factory=dict)


def run_cycle(ctx: Context, attempts: int = 3, pause: float = 1.0) -> CycleReport:
    """Poll every feed, process every new article and deliver every alert, in this process.

    Returns when every alert is sent or recorded as failed. Alerts still pending from earlier
    cycles are delivered too, and the digests that are due.
    """
    report = CycleReport()
    articles: list[str] = []
    for feed in ctx.rules.feeds:
        report.feeds += 1
        try:
            articles += poll_feed(ctx, feed.url)
        except MonitorError:
            report.feeds_failed += 1
    alert_ids: list[str] = []
    for article_id in articles:
        report.articles += 1
        alert_ids += process_article(ctx, article_id)
    alert_ids += flush_digests(ctx)
    for alert_id in dict.fromkeys(alert_ids + pending_alerts(ctx)):
        status = deliver_with_retries(ctx, alert_id, attempts, pause)
        if status == "sending":
            status = await_other_sender(ctx, alert_id)
        report.alerts[status] = report.alerts.get(status, 0) + 1
    return report
