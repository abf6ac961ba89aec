"""The pipeline's steps, each a function of a ``Context`` and an id or URL.

``monitor.ingest.polling.due_feeds`` → ``monitor.ingest.polling.poll_feed(url)`` →
``process_article(article_id)`` → ``monitor.alerts.delivery.deliver_alert(alert_id)``.
The Celery tasks call these one step per message; ``run_cycle`` calls them in sequence in
this process (``monitor poll --once``). Both share the store, so they never repeat each other.

Syndicated copies (``first_of_copies``): an article whose body is a near-duplicate of one seen
within ``MONITOR_NEAR_DUPLICATE_WINDOW`` makes its alerts under that first article's key, so
``monitor.alerts.make.alert_id`` gives a rule that fired for both the same ids and the store
keeps one alert per (rule, article, target); a rule that fires only for the copy still alerts.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

from monitor import metrics
from monitor.alerts.delivery import deliver_patiently, pending_alerts
from monitor.alerts.digest import flush_digests, record_alerts
from monitor.archive import Archived
from monitor.context import RATES_KEY, Context, now_iso
from monitor.errors import MonitorError
from monitor.fetch import HostSlots, Outcome, Request, fetch, fetch_all
from monitor.ingest.feeds import Entry
from monitor.ingest.polling import poll_feeds
from monitor.ingest.schedule import feed_table
from monitor.ingest.submitted import is_submitted, record_found, submitted_article
from monitor.logs import log_context
from monitor.money.amounts import Amount
from monitor.money.rates import RateTable, parse_ecb_xml
from monitor.rules.findings import findings
from monitor.rules.match import Report
from monitor.text.extract import Article, article_from_entry, extract_page
from monitor.text.neardup import Filed, filing_keys, fingerprint, nearest, probe_keys

log = logging.getLogger(__name__)

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
# Held while one article's copies are looked for (``first_of_copies``), by one worker at a time.
NEAR_LOCK = "near-lock"
NEAR_LOCK_SECONDS = 10.0


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
        page: Outcome = fetch(ctx.client, entry.url, ctx.settings, accept=PAGE_ACCEPT)
    except MonitorError as exc:
        page = exc
    return article_of(entry, page)


def article_of(entry: Entry, page: Outcome) -> Article:
    """The article of ``entry`` from its page, or from the entry itself when the page could
    not be had."""
    if isinstance(page, MonitorError):
        log.warning("article page not fetched, using the feed's summary: %s", page)
        return article_from_entry(entry)
    return extract_page(page, entry)


def first_of_copies(ctx: Context, key: str, text: str) -> str:
    """The key this article's alerts are made under: that of the first article, seen within the
    window, of which its body ``text`` is a near-duplicate; else its own ``key``.

    The answer is recorded (``near-first:<key>``), so processing the article again gives the
    same one.
    """
    distance = ctx.settings.near_duplicate_distance
    if distance < 0 or ctx.settings.near_duplicate_window <= 0:
        return key
    decided = ctx.store.get(f"near-first:{key}")
    if decided is not None:
        return str(decided["first"])
    value = fingerprint(text)
    if value is None:
        return key
    with _deciding_alone(ctx):
        first = decide_first(ctx, Filed(value, key))
    if first != key:
        metrics.NEAR_DUPLICATES.inc()
    return first


@contextmanager
def _deciding_alone(ctx: Context) -> Iterator[None]:
    """One decision at a time among every worker sharing the store, so that each sees the
    fingerprints and the answers of all decided before it: copies processed at the very same
    moment, however many, then agree on one first. A decision takes milliseconds; a lock whose
    worker died expires after ``NEAR_LOCK_SECONDS``, and a waiter waits twice that."""
    token = uuid.uuid4().hex
    wait = 2 * NEAR_LOCK_SECONDS
    deadline = time.monotonic() + wait
    while not (held := ctx.store.claim(NEAR_LOCK, NEAR_LOCK_SECONDS, {"token": token})):
        if time.monotonic() >= deadline:
            break
        time.sleep(random.uniform(0.001, 0.005))  # noqa: S311  (spreads retries, not a secret)
    if not held:
        log.warning(
            "near-duplicate check: waited %gs for the lock; deciding without it (copies "
            "processed at this moment may each alert)",
            wait,
        )
    try:
        yield
    finally:
        if held and (ctx.store.get(NEAR_LOCK) or {}).get("token") == token:
            ctx.store.delete(NEAR_LOCK)


def file_fingerprint(ctx: Context, filed: Filed) -> None:
    """File an article's fingerprint for the window, where later copies look for it."""
    for bucket in filing_keys(filed.value):
        ctx.store.add_member(bucket, filed.member(), ctx.settings.near_duplicate_window)


def decide_first(ctx: Context, filed: Filed) -> str:
    """File a fingerprint, look for those near it and return the key its alerts are made
    under: the answer of the nearest copy decided before it, else its own key. Called under
    ``_deciding_alone``: a copy filed but with no answer is one whose worker died while
    deciding, and it finds this one's answer when it is processed again.
    """
    distance = ctx.settings.near_duplicate_distance
    file_fingerprint(ctx, filed)
    members = ctx.store.members(probe_keys(filed.value, distance))
    first = filed.key
    for other in nearest(filed.value, members, distance, filed.key):
        answer = ctx.store.get(f"near-first:{other.key}")
        if answer is None:
            continue
        first = str(answer["first"])
        bits = (filed.value ^ other.value).bit_count()
        through = "" if first == other.key else f" through {other.key}"
        log.info("near-duplicate of %s%s, %d of 64 bits apart: %s; its alerts are that "
                 "article's", first, through, bits, filed.key)  # fmt: skip
        break
    ctx.store.claim(f"near-first:{filed.key}", ctx.retention, {"first": first})
    return str((ctx.store.get(f"near-first:{filed.key}") or {}).get("first", first))


def _entry(ctx: Context, article_id: str) -> Entry | None:
    data = ctx.store.get(f"entry:{article_id}")
    if data is None:
        log.warning("article %s: its feed entry has expired from the store; skipped", article_id)
        return None
    return Entry.from_dict(data)


def process_article(ctx: Context, article_id: str) -> list[str]:
    """Fetch the page, extract, find amounts, match; return the ids of alerts still to
    deliver."""
    entry = _entry(ctx, article_id)
    if entry is None:
        return []
    if is_submitted(entry):
        article = submitted_article(ctx, entry, partial(read_article, ctx, entry))
        return _process(ctx, entry, article)
    return _process(ctx, entry, read_article(ctx, entry))


def _process(ctx: Context, entry: Entry, article: Article) -> list[str]:
    alert_key = first_of_copies(ctx, entry.key, article.text)
    amounts, report = ctx.matcher.examine(
        article.text, language=article.language, feed=entry.feed_url
    )
    metrics.ARTICLES_PROCESSED.labels("page" if article.from_page else "feed").inc()
    if not article.from_page:
        metrics.EXTRACTION_FAILURES.inc()
    pending: list[str] = []
    for match in report.fired:
        metrics.RULE_FIRES.labels(match.rule).inc()
        pending += record_alerts(ctx, article, alert_key, match, amounts)
    if is_submitted(entry):
        record_found(ctx, entry.article_id, findings(article, amounts, report))
    ctx.store.put(f"seen:{entry.key}", {"state": "done", "at": time.time()}, ctx.retention)
    ctx.archive_writer.add(archived(ctx, entry, article, amounts, report))
    log.info(
        "article processed: %s: %d amounts, rules fired: %s",
        entry.url,
        len(amounts),
        ", ".join(m.rule for m in report.fired) or "none",
    )
    return pending


def archived(
    ctx: Context, entry: Entry, article: Article, amounts: list[Amount], report: Report
) -> Archived:
    """What the archive keeps of a processed article."""
    feed = feed_table(ctx.rules).by_url.get(entry.feed_url)
    return Archived(
        id=entry.article_id, url=entry.url, title=article.title, text=article.text,
        feed=entry.feed_url, language=article.language,
        published=article.published or entry.published, seen=time.time(),
        amounts=tuple(amounts), fired=tuple(match.rule for match in report.fired),
        tags=feed.tags if feed is not None else (),
    )  # fmt: skip


def process_articles(ctx: Context, article_ids: list[str]) -> list[str]:
    """``process_article`` on each article, their pages fetched at once as feeds are polled
    (``monitor.fetch.fetch_all``) and each processed as it comes; the ids of the alerts to
    deliver."""
    entries = [entry for entry in map(partial(_entry, ctx), article_ids) if entry is not None]
    requests = [Request(entry.url, PAGE_ACCEPT) for entry in entries]
    slots = HostSlots.from_settings(ctx.store, ctx.settings)
    alert_ids: list[str] = []
    for index, page in fetch_all(ctx.client, requests, ctx.settings, slots):
        entry = entries[index]
        with log_context(article=entry.article_id):
            try:
                alert_ids += _process(ctx, entry, article_of(entry, page))
            except Exception:  # one article must not cost the others their alerts
                log.exception("article processing crashed: %s", entry.article_id)
    return alert_ids


@dataclass
class CycleReport:
    """What one ``run_cycle`` did."""

    feeds: int = 0
    feeds_failed: int = 0
    articles: int = 0
    alerts: dict[str, int] = field(default_factory=dict)


def run_cycle(ctx: Context, patience: float = 60.0) -> CycleReport:
    """Poll every feed, process every new article and deliver every alert, in this process:
    feeds and pages fetched many at once, as the worker's poll tasks fetch them.

    Alerts still pending from earlier cycles are delivered too, when due, and the digests that
    are due. A refused alert is tried again when its next attempt falls due, for at most
    ``patience`` seconds (``monitor.alerts.delivery.deliver_patiently``); then it stays pending.
    """
    report = CycleReport()
    polled = poll_feeds(ctx, [feed.url for feed in ctx.rules.feeds])
    report.feeds, report.feeds_failed = len(ctx.rules.feeds), len(polled.failed)
    report.articles = len(polled.articles)
    alert_ids = process_articles(ctx, polled.articles)
    alert_ids += flush_digests(ctx)
    now = time.time()
    due = dict.fromkeys(alert_ids, now)
    for alert in pending_alerts(ctx):
        due.setdefault(alert.id, alert.due_at or now)
    for status in deliver_patiently(ctx, due, patience).values():
        report.alerts[status] = report.alerts.get(status, 0) + 1
    return report
