"""Feed health, kept in the store as ``feed:<url>``, and the report of feeds failing too long.

A feed's record holds: ``last_attempt``, ``last_success``, ``last_status`` (``ok``,
``not modified`` or ``error``), ``last_http_status``, ``last_error``, ``consecutive_errors``,
``failing_since``, ``next_poll``, ``items_seen`` (new entries, all polls together), and the
validators of the last full response (``etag``, ``last_modified``) for conditional GET.

A feed that has failed without a success for longer than ``MONITOR_FEED_FAILING_AFTER`` is
reported once per failing spell: one error line in the log and, when ``MONITOR_OPS_CHANNEL``
is set, one message there. A success ends the spell.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from monitor.context import iso_at
from monitor.fetch import Validators
from monitor.settings import Settings
from monitor.store import Store

log = logging.getLogger(__name__)


@dataclass
class FeedHealth:
    """One feed's record (see the module docstring), read from and written to the store."""

    url: str
    data: dict[str, Any]

    @classmethod
    def load(cls, store: Store, url: str) -> FeedHealth:
        return cls.of(url, store.get(f"feed:{url}"))

    @classmethod
    def of(cls, url: str, record: dict[str, Any] | None) -> FeedHealth:
        """The health of ``url`` from its stored record (None: never polled)."""
        return cls(url, record or {"consecutive_errors": 0, "items_seen": 0})

    def save(self, store: Store) -> None:
        store.put(f"feed:{self.url}", self.data)

    @property
    def consecutive_errors(self) -> int:
        return int(self.data.get("consecutive_errors", 0))

    @property
    def validators(self) -> Validators:
        return Validators(self.data.get("etag"), self.data.get("last_modified"))

    def succeeded(
        self, now: float, status: int, new_items: int, validators: Validators | None
    ) -> None:
        """Record a poll that worked; ``validators`` None keeps the previous ones (a 304)."""
        self.data.update(
            last_attempt=iso_at(now),
            last_success=iso_at(now),
            last_status="not modified" if status == 304 else "ok",
            last_http_status=status,
            last_error=None,
            consecutive_errors=0,
            failing_since=None,
            reported_failing=False,
            items_seen=int(self.data.get("items_seen", 0)) + new_items,
        )
        if validators is not None:
            self.data.update(etag=validators.etag, last_modified=validators.last_modified)

    def failed(self, now: float, error: str, status: int | None) -> None:
        self.data.update(
            last_attempt=iso_at(now),
            last_status="error",
            last_http_status=status,
            last_error=error,
            consecutive_errors=self.consecutive_errors + 1,
        )
        self.data.setdefault("failing_since", None)
        if self.data["failing_since"] is None:
            self.data["failing_since"] = now

    def scheduled(self, now: float, delay: float) -> None:
        self.data["next_poll"] = iso_at(now + delay)

    def failing_too_long(self, now: float, settings: Settings) -> bool:
        """True once per failing spell, when it has lasted ``feed_failing_after`` seconds."""
        since = self.data.get("failing_since")
        if since is None or self.data.get("reported_failing"):
            return False
        if now - float(since) < settings.feed_failing_after:
            return False
        self.data["reported_failing"] = True
        return True


def report_failing(health: FeedHealth, settings: Settings) -> None:
    """Say, in the log and on the ops channel if any, that a feed has been failing too long."""
    since = iso_at(float(health.data["failing_since"]))
    line = (
        f"feed failing since {since} ({health.consecutive_errors} errors in a row): "
        f"{health.url}: {health.data.get('last_error')}"
    )
    log.error("%s", line)
    if not settings.ops_channel:
        return
    import apprise

    notifier = apprise.Apprise()
    notifier.add(settings.ops_channel)
    if not notifier.notify(title="news-monitor: feed failing", body=line):
        log.warning("ops channel did not accept the failing-feed report for %s", health.url)
