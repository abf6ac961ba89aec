"""When to poll a feed next, where that is kept, and how to split due feeds into poll tasks.

The schedule. Every feed of the rules is a member of the store's schedule ``poll-schedule``
(``monitor.store``), at the time of its next poll; a poll writes the next one there, and beat
takes the members whose time has come (``monitor.ingest.polling.due_feeds``), so a tick costs
what is due, not the number of feeds. The schedule follows the rules file through
``reconcile``: a feed added is due at once, a feed removed leaves the schedule. Its cost is one
read of a mark (``poll-schedule:feeds``, the digest of the feed URLs it was last reconciled
with) per tick; the whole schedule is read only when that mark differs, that is when the rules'
feeds changed, or when the store lost the schedule (a Redis without persistence restarted), and
then the feeds are all due, as they were before the first poll.

Semantics of ``next_delay``:

* After a success the delay is the feed's ``every`` from the rules file. A publisher may ask for
  less frequent polls (``Cache-Control: max-age``, RSS ``<ttl>``, ``Retry-After``): honoured,
  but never beyond ``max_backoff``, and never more often than ``every``.
* After ``n`` consecutive errors the delay is ``every · 2ⁿ``, capped at ``max_backoff``; a
  ``Retry-After`` (429, 503) lengthens it to what the server asked, within the same cap. The
  first success resets the count.
* Every delay is spread by ±``JITTER`` at random, so feeds that fell due together (after a
  restart, after an outage of their host) drift apart instead of firing in step for ever.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from itertools import chain, zip_longest

from monitor.context import now_iso
from monitor.fetch import host_of
from monitor.rules.model import Feed, RulesFile
from monitor.store import Store

JITTER = 0.1
SCHEDULE = "poll-schedule"
SCHEDULE_MARK = "poll-schedule:feeds"
DEFAULT_EVERY = 300.0  # seconds, for a feed polled by URL that the rules no longer list
_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Hints:
    """What the publisher said about when to come back, in seconds."""

    retry_after: float | None = None
    max_age: float | None = None
    ttl: float | None = None

    @property
    def longest(self) -> float | None:
        asked = [v for v in (self.retry_after, self.max_age, self.ttl) if v is not None]
        return max(asked) if asked else None


def max_age(cache_control: str) -> float | None:
    """The ``max-age`` (or ``s-maxage``) of a ``Cache-Control`` header, in seconds."""
    found = _MAX_AGE.search(cache_control or "")
    return float(found.group(1)) if found else None


def next_delay(
    every: float,
    consecutive_errors: int,
    hints: Hints,
    max_backoff: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next poll of a feed (see the module docstring)."""
    if consecutive_errors > 0:
        # 2**n overflows nothing here: the exponent is capped long before floats would care.
        delay = min(max_backoff, every * 2 ** min(consecutive_errors, 32))
    else:
        delay = every
    if hints.longest is not None:
        delay = max(delay, min(hints.longest, max_backoff))
    delay = max(every, delay) if consecutive_errors == 0 else delay
    spread = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return float(delay * spread)


def batches(urls: list[str], size: int) -> list[list[str]]:
    """Due feeds in batches of ``size``, hosts taking turns within each.

    A batch is one poll task. Its requests to a host hold that host's slots in the store
    (``monitor.fetch.HostSlots``), so the per-host limit holds across tasks and workers, and a
    host's feeds can be spread over many batches: each task then has many hosts to fetch from
    at once, not one host to wait on.
    """
    by_host: dict[str, list[str]] = defaultdict(list)
    for url in urls:
        by_host[host_of(url)].append(url)
    turns = zip_longest(*by_host.values())
    ordered = [url for url in chain.from_iterable(turns) if url is not None]
    return [ordered[at : at + size] for at in range(0, len(ordered), max(1, size))]


@dataclass(frozen=True)
class FeedTable:
    """The feeds of one version of the rules by URL, and a digest of their URLs."""

    rules: RulesFile
    by_url: dict[str, Feed]
    digest: str

    def every(self, url: str) -> float:
        feed = self.by_url.get(url)
        return feed.every.total_seconds() if feed is not None else DEFAULT_EVERY


_tables_lock = threading.Lock()
_last_table: FeedTable | None = None


def feed_table(rules: RulesFile) -> FeedTable:
    """The ``FeedTable`` of ``rules``, built once per version of the rules (each poll and each
    tick looks feeds up by URL; a scan of the rules' list would cost every feed each time)."""
    global _last_table
    with _tables_lock:
        if _last_table is None or _last_table.rules is not rules:
            by_url = {feed.url: feed for feed in rules.feeds}
            digest = hashlib.sha256("\n".join(sorted(by_url)).encode()).hexdigest()
            _last_table = FeedTable(rules, by_url, digest)
        return _last_table


def reconcile(store: Store, table: FeedTable) -> list[str]:
    """Make the store's schedule hold exactly the feeds of ``table`` (see the module docstring):
    one read when it already does. The feeds that left it."""
    mark = store.get(SCHEDULE_MARK)
    if mark is not None and mark.get("digest") == table.digest:
        return []
    listed = store.scheduled(SCHEDULE)
    now = time.time()
    # only_new: a poll that wrote a feed's next time meanwhile keeps it.
    store.schedule(SCHEDULE, {url: now for url in table.by_url if url not in listed}, only_new=True)
    gone = [url for url in listed if url not in table.by_url]
    store.unschedule(SCHEDULE, gone)
    store.put(SCHEDULE_MARK, {"digest": table.digest, "feeds": len(table.by_url), "at": now_iso()})
    return gone
