"""What every step of the pipeline needs: settings, the store, the live rules, an HTTP client,
and the exchange rates in force."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from monitor.archive import ArchiveWriter
from monitor.fetch import Client, make_client
from monitor.money.rates import RateTable, shipped_rates
from monitor.rules.live import RulesSource
from monitor.rules.match import Matcher
from monitor.rules.model import RulesFile
from monitor.settings import Settings
from monitor.store import Store, open_store

RATES_KEY = "rates:current"
RATES_CACHE_SECONDS = 60.0


def now_iso() -> str:
    """The current time, ISO 8601 in UTC, as the store records it."""
    return datetime.now(UTC).isoformat()


def iso_at(epoch: float, timespec: str = "auto") -> str:
    """A moment (seconds since the epoch), ISO 8601 in UTC, as the store records it; what a
    person reads is given to the second (``timespec="seconds"``)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec=timespec)


@dataclass
class Context:
    """Settings, the store, the live rules, an HTTP client and the rates in force."""

    settings: Settings
    store: Store
    rules_source: RulesSource
    _client: Client | None = None
    _archive_writer: ArchiveWriter | None = None
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
    def archive_writer(self) -> ArchiveWriter:
        """This process's writer to the archive (``monitor.archive``)."""
        if self._archive_writer is None:
            self._archive_writer = ArchiveWriter(self.settings)
        return self._archive_writer

    @property
    def retention(self) -> float:
        return self.settings.seen_retention_days * 86400

    def close(self) -> None:
        if self._archive_writer is not None:
            self._archive_writer.close()
        if self._client is not None:
            self._client.clear()
        self.store.close()


class StoredRules:
    """The last valid rules text, kept in the store for every process of the deployment."""

    KEY = "rules:last_valid"

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, text: str) -> None:
        if (self.store.get(self.KEY) or {}).get("text") != text:
            self.store.put(self.KEY, {"text": text, "at": now_iso()})

    def load(self) -> str | None:
        text = (self.store.get(self.KEY) or {}).get("text")
        return str(text) if text is not None else None


def open_context(settings: Settings, rules_path: str | Path) -> Context:
    """Load the rules and open the store the settings name."""
    store = open_store(settings)
    return Context(settings, store, RulesSource(rules_path, StoredRules(store)))
