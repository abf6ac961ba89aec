"""The pipeline's steps, each a function of a ``Context`` and an id or URL.

``due_feeds`` → ``poll_feed(url)`` → ``process_article(article_id)`` → ``deliver_alert(alert_id)``.
The Celery tasks call these one step per message; ``run_cycle`` calls them in sequence in
this process (``monitor poll --once``). Both share the store, so they never repeat each other.

At-least-once without repeats:

* An entry is claimed (``seen:<key>``, state ``queued``) before its article is queued, and
  marked ``done`` once processed; a ``queued`` entry older than ``REQUEUE_AFTER`` is queued
  again by the next poll, so a message lost with its worker is not an article lost.
* Alerts are created only if absent (their id is derived from rule, article and target), and
  a delivery holds the ``sending:<id>`` claim while it sends and records ``sent`` before it
  returns: a redelivered or duplicate delivery finds ``sent`` and does nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.alerts import Alert, make_alerts, send
from monitor.errors import ConfigError, DeliveryFailed, MonitorError
from monitor.extract import Article, article_from_entry, extract_article
from monitor.feeds import Entry, parse_feed
from monitor.fetch import Client, fetch, make_client
from monitor.match import Matcher
from monitor.money import find_amounts
from monitor.rates import RateTable, parse_ecb_xml, shipped_rates
from monitor.rules import RulesFile, RulesSource, expand_env
from monitor.settings import Settings
from monitor.store import Store, open_store

log = logging.getLogger(__name__)

RATES_KEY = "rates:current"
RATES_CACHE_SECONDS = 60.0
REQUEUE_AFTER = 600.0  # seconds an entry may stay queued before a poll queues it again
SENDING_LEASE = 120.0  # seconds a delivery may hold an alert before another may try
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Context:
    """What every step needs: settings, the store, the live rules and an HTTP client."""

    settings: Settings
    store: Store
    rules_source: RulesSource
    _client: Client | None = None
    _matcher: Matcher | None = None
    _rates: tuple[float, RateTable] | None = None
    _base_rates: RateTable | None = None

    @property
    def rules(self) -> RulesFile:
        return self.rules_source.current()

    @property
    def rates(self) -> RateTable:
        """The last refreshed rate table in the store, else the shipped one (re-read each
        minute, so a refresh reaches every worker)."""
        now = time.monotonic()
        if self._rates is None or now - self._rates[0] > RATES_CACHE_SECONDS:
            stored = self.store.get(RATES_KEY)
            self._rates = (now, RateTable.from_dict(stored) if stored else shipped_rates())
        return self._rates[1]

    def forget_rates(self) -> None:
        """Read the rate table from the store again on next use."""
        self._rates = None

    @property
    def matcher(self) -> Matcher:
        rules, rates = self.rules, self.rates
        if (
            self._matcher is None
            or self._matcher.rules is not rules
            or self._base_rates is not rates
        ):
            self._matcher = Matcher(rules, rates)
            self._base_rates = rates
        return self._matcher

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = make_client(self.settings)
        return self._client

    @property
    def retention(self) -> float:
        return self.settings.seen_retention_days * 86400

    def close(self) -> None:
        if self._client is not None:
            self._client.clear()
        self.store.close()


def open_context(settings: Settings, rules_path: str | Path) -> Context:
    """Load the rules and open the store the settings name."""
    return Context(settings, open_store(settings), RulesSource(rules_path))


def due_feeds(ctx: Context) -> list[str]:
    """Feeds whose interval has passed since they were last queued; claims their next slot."""
    return [
        feed.url
        for feed in ctx.rules.feeds
        if ctx.store.claim(f"slot:{feed.url}", feed.every.total_seconds(), {"at": _now()})
    ]


def _record_feed(ctx: Context, url: str, error: MonitorError | None, new_items: int = 0) -> None:
    health: dict[str, Any] = ctx.store.get(f"feed:{url}") or {"consecutive_errors": 0}
    health["last_attempt"] = _now()
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


def rates_due(ctx: Context) -> bool:
    """True once per ``MONITOR_RATES_REFRESH`` when a rates URL is configured (claims the slot)."""
    return bool(ctx.settings.rates_url) and ctx.store.claim(
        "slot:rates", ctx.settings.rates_refresh, {"at": _now()}
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
    report = ctx.matcher.match(article.text, amounts)
    pending: list[str] = []
    for match in report.fired:
        for alert in make_alerts(article, entry.key, match, amounts, ctx.rules.channels):
            ctx.store.claim(f"alert:{alert.id}", ctx.retention, alert.to_dict())
            stored = ctx.store.get(f"alert:{alert.id}") or {}
            if stored.get("status") == "pending":
                pending.append(alert.id)
    ctx.store.put(f"seen:{entry.key}", {"state": "done", "at": time.time()}, ctx.retention)
    log.info(
        "article processed: %s: %d amounts, rules fired: %s",
        entry.url,
        len(amounts),
        ", ".join(m.rule for m in report.fired) or "none",
    )
    return pending


def deliver_alert(ctx: Context, alert_id: str, *, last_attempt: bool = False) -> str:
    """Send one alert unless it was sent already; return its status afterwards.

    Raises ``DeliveryFailed`` when the target refused and attempts remain (the caller retries);
    on the last attempt, or on an error retrying cannot fix, the alert is recorded ``failed``.
    """
    data = ctx.store.get(f"alert:{alert_id}")
    if data is None:
        log.warning("alert %s: not in the store (expired?); nothing to send", alert_id)
        return "missing"
    if data["status"] != "pending":
        return str(data["status"])
    if not ctx.store.claim(f"sending:{alert_id}", SENDING_LEASE):
        return "sending"
    alert = Alert.from_dict(data)
    try:
        urls = ctx.rules.channels.get(alert.channel, ())
        if alert.target >= len(urls):
            raise ConfigError(f"channel {alert.channel!r} no longer has target #{alert.target}")
        send(alert, expand_env(urls[alert.target]))
    except (DeliveryFailed, ConfigError) as exc:
        alert.attempts += 1
        alert.last_error = str(exc)
        give_up = (
            last_attempt or not exc.transient or alert.attempts >= ctx.settings.delivery_attempts
        )
        alert.status = "failed" if give_up else "pending"
        ctx.store.put(f"alert:{alert_id}", alert.to_dict(), ctx.retention)
        log.warning(
            "alert %s to %s#%d (%s): %s",
            alert.rule,
            alert.channel,
            alert.target,
            "gave up" if give_up else "will retry",
            exc.reason,
        )
        if give_up:
            return alert.status
        raise
    finally:
        ctx.store.delete(f"sending:{alert_id}")
    alert.attempts += 1
    alert.status, alert.sent_at, alert.last_error = "sent", _now(), None
    ctx.store.put(f"alert:{alert_id}", alert.to_dict(), ctx.retention)
    log.info("alert sent: %s to %s#%d: %s", alert.rule, alert.channel, alert.target, alert.url)
    return alert.status


@dataclass
class CycleReport:
    """What one ``run_cycle`` did."""

    feeds: int = 0
    feeds_failed: int = 0
    articles: int = 0
    alerts: dict[str, int] = field(default_factory=dict)


def _deliver_with_retries(ctx: Context, alert_id: str, attempts: int, pause: float) -> str:
    for attempt in range(1, attempts + 1):
        try:
            return deliver_alert(ctx, alert_id, last_attempt=attempt == attempts)
        except DeliveryFailed:
            time.sleep(pause * attempt)
    return "failed"


def pending_alerts(ctx: Context) -> list[str]:
    """Alerts left pending by earlier cycles or workers (not being sent right now)."""
    ids = [key.removeprefix("alert:") for key in ctx.store.keys("alert:")]
    return [i for i in ids if (ctx.store.get(f"alert:{i}") or {}).get("status") == "pending"]


def run_cycle(ctx: Context, attempts: int = 3, pause: float = 1.0) -> CycleReport:
    """Poll every feed, process every new article and deliver every alert, in this process.

    Returns when every alert is sent or recorded as failed. Alerts still pending from earlier
    cycles are delivered too.
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
    for alert_id in dict.fromkeys(alert_ids + pending_alerts(ctx)):
        status = _deliver_with_retries(ctx, alert_id, attempts, pause)
        if status == "sending":
            status = _await_other_sender(ctx, alert_id)
        report.alerts[status] = report.alerts.get(status, 0) + 1
    return report


def _await_other_sender(ctx: Context, alert_id: str) -> str:
    """Wait for another process's delivery of an alert to finish, up to its lease."""
    deadline = time.monotonic() + SENDING_LEASE + 1
    while time.monotonic() < deadline:
        if ctx.store.get(f"sending:{alert_id}") is None:
            status = str((ctx.store.get(f"alert:{alert_id}") or {}).get("status", "missing"))
            if status != "pending":
                return status
            return deliver_alert(ctx, alert_id, last_attempt=True)
        time.sleep(0.2)
    return "sending"
