"""Rate limits of the receiver: a token bucket per key (an API token, a client address).

Each bucket holds up to ``burst`` requests and refills at ``per_minute`` a minute; a request
finding it empty is refused with the seconds until one is back. The buckets live in the
receiver's process (each replica counts its own), and the least recently used are forgotten
past ``MAX_KEYS``, so a flood of addresses cannot grow them without bound.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_KEYS = 100_000


class RateLimit:
    """Token buckets by key, all with the same rate."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1.0, per_minute)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # level, when

    def take(self, key: str) -> float:
        """0 when ``key`` may make a request now (and counts it); else the seconds to wait."""
        now = self._clock()
        with self._lock:
            level, then = self._buckets.pop(key, (self.burst, now))
            level = min(self.burst, level + (now - then) * self.rate)
            wait = 0.0 if level >= 1 else (1 - level) / self.rate
            self._buckets[key] = (level - 1 if wait == 0 else level, now)
            while len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least one."""
    return str(max(1, math.ceil(wait)))
