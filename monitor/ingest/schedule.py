"""When to poll a feed next, and how to split due feeds into poll tasks.

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

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

JITTER = 0.1
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


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def batches(urls: list[str], size: int) -> list[list[str]]:
    """Due feeds in batches of about ``size``, the feeds of one host always in one batch.

    One batch is one poll task with its own per-host limit, so keeping a host's feeds together
    makes that limit hold for the host across the whole cycle. A host with more than ``size``
    feeds gets a batch of its own.
    """
    by_host: dict[str, list[str]] = defaultdict(list)
    for url in urls:
        by_host[host_of(url)].append(url)
    result: list[list[str]] = []
    current: list[str] = []
    for group in sorted(by_host.values(), key=len, reverse=True):
        if current and len(current) + len(group) > size:
            result.append(current)
            current = []
        current += group
    if current:
        result.append(current)
    return result
