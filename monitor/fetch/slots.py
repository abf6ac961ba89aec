"""Politeness across processes: at most ``MONITOR_PER_HOST_CONCURRENCY`` requests in flight to
one host among every process that shares the store (a worker's poll tasks on every machine,
``monitor poll --once`` beside them).

A request takes a token of its host's slots before it starts and gives it back when it ends.
Tokens are traded with the store in one round trip for many hosts (``Store.trade_slots``), so
the cost follows the requests, not the hosts. A process that dies holding tokens loses them
after ``hold`` seconds (a request's whole deadline, with room to spare), and the host is
served again.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping

from monitor.settings import Settings
from monitor.store import Store

PREFIX = "host-slots:"


class HostSlots:
    """The slots of every host, kept in ``store``."""

    def __init__(self, store: Store, limit: int, hold: float) -> None:
        self.store = store
        self.limit = max(1, limit)
        self.hold = hold
        self._name = uuid.uuid4().hex[:12]  # tokens of this holder, told apart in the store
        self._numbers = itertools.count()

    @classmethod
    def from_settings(cls, store: Store, settings: Settings) -> HostSlots:
        # A token outlives the request it was taken for: its lookup, connection and whole
        # deadline, redirects included.
        hold = settings.connect_timeout + settings.total_timeout + 30.0
        return cls(store, settings.per_host_concurrency, hold)

    def trade(
        self, returned: Mapping[str, Iterable[str]], wanted: Mapping[str, int]
    ) -> dict[str, list[str]]:
        """Give back the tokens ``returned`` and take up to ``wanted[host]`` tokens for each
        host: the tokens taken, by host (fewer than wanted, or none, while other requests
        hold the host's slots)."""
        offered = {
            PREFIX + host: [f"{self._name}.{next(self._numbers)}" for _ in range(count)]
            for host, count in wanted.items()
            if count > 0
        }
        back = {PREFIX + host: list(tokens) for host, tokens in returned.items() if tokens}
        if not offered and not back:
            return {}
        taken = self.store.trade_slots(back, offered, self.limit, self.hold)
        return {key.removeprefix(PREFIX): tokens for key, tokens in taken.items()}
