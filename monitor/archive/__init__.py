"""The archive: every article the workers processed, kept ``MONITOR_ARCHIVE_DAYS`` (14), so a
rule change can be tried on what was read before it goes live (``monitor rules backtest``).

Each article is kept whole: its text, title, link, feed and the feed's tags, language, published
and seen times, the amounts found in it and the rules that fired, compressed (zlib). On the
embedded default it lives in SQLite beside the state (``archive.sqlite``); in a distributed
deployment in PostgreSQL (``MONITOR_ARCHIVE_URL``), not in Redis, which stays broker and state.
With Redis and no archive URL, nothing is archived (said once in the log).

Writing never delays or loses an alert: a processed article is handed to a writer thread of the
process (``ArchiveWriter``) and the task goes on. An archive that is down is said once in the
log; what waits for it is written when it is back, up to ``BACKLOG`` articles, beyond which the
oldest are skipped (counted in the log line that says it is back). The writer purges what is
older than the retention once an hour.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import zlib
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from monitor.money.amounts import Amount
from monitor.settings import Settings

log = logging.getLogger(__name__)

BACKLOG = 10_000  # articles waiting for an archive that is down
RETRY_EVERY = 30.0  # seconds between two tries of an archive that is down
PURGE_EVERY = 3600.0
WRITE_AT_ONCE = 500


@dataclass(frozen=True)
class Archived:
    """One processed article, as the archive keeps it."""

    id: str
    url: str
    title: str
    text: str
    feed: str
    language: str | None
    published: str | None
    seen: float
    amounts: tuple[Amount, ...] = ()
    fired: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def packed(self) -> bytes:
        """Everything but the id and the time seen (columns of their own), compressed."""
        body = {
            "url": self.url, "title": self.title, "text": self.text, "feed": self.feed,
            "language": self.language, "published": self.published, "fired": list(self.fired),
            "tags": list(self.tags),
            "amounts": [_amount_dict(a) for a in self.amounts],
        }  # fmt: skip
        return zlib.compress(json.dumps(body, ensure_ascii=False).encode(), 6)

    @classmethod
    def unpacked(cls, ident: str, seen: float, blob: bytes) -> Archived:
        body = json.loads(zlib.decompress(blob))
        amounts = tuple(_amount(a) for a in body.pop("amounts", []))
        fired, tags = tuple(body.pop("fired", [])), tuple(body.pop("tags", []))
        return cls(id=ident, seen=seen, amounts=amounts, fired=fired, tags=tags, **body)


def _amount_dict(amount: Amount) -> dict[str, Any]:
    return {
        "text": amount.text, "value": str(amount.value), "currency": amount.currency,
        "start": amount.start, "end": amount.end, "approximate": amount.approximate,
        "bound": amount.bound, "range_role": amount.range_role,
    }  # fmt: skip


def _amount(data: dict[str, Any]) -> Amount:
    return Amount(**{**data, "value": Decimal(data["value"])})


class Archive(ABC):
    """Where the archived articles are kept (SQLite or PostgreSQL)."""

    @abstractmethod
    def put_all(self, articles: list[Archived]) -> None: ...

    @abstractmethod
    def get(self, ident: str) -> Archived | None: ...

    @abstractmethod
    def rows_since(self, start: float) -> Iterator[tuple[str, float, bytes]]:
        """The articles seen at ``start`` or later, oldest first, as stored: id, time seen,
        the rest packed (``Archived.unpacked``); read as they are used."""

    @abstractmethod
    def newest_rows(self, start: float, limit: int) -> list[tuple[str, float, bytes]]:
        """At most ``limit`` of the articles seen at ``start`` or later, the newest, oldest
        first, as ``rows_since`` gives them."""

    def since(self, start: float) -> Iterator[Archived]:
        """The articles seen at ``start`` or later, oldest first, read as they are used."""
        for ident, seen, body in self.rows_since(start):
            yield Archived.unpacked(ident, seen, body)

    @abstractmethod
    def purge(self, before: float) -> int:
        """Drop the articles seen before ``before``; how many."""

    @abstractmethod
    def close(self) -> None: ...


def archiving(settings: Settings) -> bool:
    """Whether the settings name an archive (see the module docstring)."""
    named = settings.embedded or bool(settings.archive_url.get_secret_value())
    return settings.archive_days > 0 and named


def open_archive(settings: Settings) -> Archive | None:
    """The archive the settings name, or None when nothing is archived."""
    if not archiving(settings):
        return None
    url = settings.archive_url.get_secret_value()
    if url:
        from monitor.archive.postgres import PostgresArchive

        return PostgresArchive(url)
    from monitor.archive.sqlite import SQLiteArchive

    return SQLiteArchive(settings.state_dir / "archive.sqlite")


@dataclass
class ArchiveWriter:
    """Writes the articles handed to it from a thread of its own (see the module docstring)."""

    settings: Settings
    waiting: deque[Archived] = field(default_factory=lambda: deque(maxlen=BACKLOG))
    skipped: int = 0
    down_since: float | None = None
    _archive: Archive | None = None
    _purged: float = 0.0
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None
    _writing: int = 0  # articles taken for the write under way
    _enabled: bool | None = None

    def add(self, article: Archived) -> None:
        if not self._archiving():
            return
        with self._wake:
            if len(self.waiting) == self.waiting.maxlen:
                self.skipped += 1
            self.waiting.append(article)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="archive", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _archiving(self) -> bool:
        """Whether the settings name an archive; the first time not, said once."""
        if self._enabled is None:
            self._enabled = archiving(self.settings)
            if self.settings.archive_days > 0 and not self._enabled:
                log.info("articles are not archived: Redis is the store and MONITOR_ARCHIVE_URL "
                         "(PostgreSQL) is not set")  # fmt: skip
        return self._enabled

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until nothing waits (tests, and a clean stop): whether it came to that."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while (self.waiting or self._writing) and time.monotonic() < deadline:
                self._wake.wait(0.05)
            return not (self.waiting or self._writing)

    def close(self, timeout: float = 2.0) -> None:
        """Write what waits (for at most ``timeout`` seconds), then let the archive go."""
        if self.flush(timeout):
            with self._wake:
                self._drop_connection()

    def _run(self) -> None:
        batch: list[Archived] = []
        while True:
            with self._wake:
                while not batch and not self.waiting:
                    self._wake.wait()
                while self.waiting and len(batch) < WRITE_AT_ONCE:
                    batch.append(self.waiting.popleft())
                self._writing = len(batch)
            if self._write(batch):
                batch = []
                with self._wake:
                    self._writing = 0
                    self._wake.notify_all()
            else:  # kept, and written first once the archive is back
                time.sleep(RETRY_EVERY)

    def _write(self, batch: list[Archived]) -> bool:
        try:
            if self._archive is None:
                self._archive = open_archive(self.settings)
            if self._archive is None:  # not archiving: add() lets nothing in
                return True
            self._archive.put_all(batch)
            now = time.time()
            if now - self._purged >= PURGE_EVERY:
                self._purged = now
                self._archive.purge(now - self.settings.archive_days * 86400)
        except Exception as exc:  # whatever the archive's driver raised: logged once, retried
            if self.down_since is None:
                self.down_since = time.time()
                log.warning("the archive cannot be written (%s); alerts go on, articles wait "
                            "for it (up to %d)", _one_line(exc), BACKLOG)  # fmt: skip
            self._drop_connection()
            return False
        if self.down_since is not None:
            log.warning("the archive is back after %.0f s; %d articles were skipped meanwhile",
                        time.time() - self.down_since, self.skipped)  # fmt: skip
            self.down_since, self.skipped = None, 0
        return True

    def _drop_connection(self) -> None:
        if self._archive is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close too
                self._archive.close()
            self._archive = None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
