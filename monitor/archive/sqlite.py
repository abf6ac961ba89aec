"""The archive in SQLite, beside the embedded default's state (``monitor.archive``)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from monitor.archive import Archive, Archived

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (id TEXT PRIMARY KEY, seen REAL NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS articles_seen ON articles (seen);
"""
READ_AT_ONCE = 1000


class SQLiteArchive(Archive):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def put_all(self, articles: list[Archived]) -> None:
        rows = [(a.id, a.seen, a.packed()) for a in articles]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO articles VALUES (?, ?, ?)", rows)

    def get(self, ident: str) -> Archived | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, seen, body FROM articles WHERE id = ?", (ident,)
            ).fetchone()
        return None if row is None else Archived.unpacked(*row)

    def rows_since(self, start: float) -> Iterator[tuple[str, float, bytes]]:
        after: tuple[float, str] = (start, "")
        while True:  # in pages, by (seen, id): no read holds the database long
            with self._lock:
                rows = self._db.execute(
                    "SELECT id, seen, body FROM articles WHERE (seen, id) > (?, ?) "
                    "ORDER BY seen, id LIMIT ?",
                    (after[0], after[1], READ_AT_ONCE),
                ).fetchall()
            yield from rows
            if len(rows) < READ_AT_ONCE:
                return
            after = (rows[-1][1], rows[-1][0])

    def newest_rows(self, start: float, limit: int) -> list[tuple[str, float, bytes]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, seen, body FROM articles WHERE seen >= ? ORDER BY seen DESC, id DESC "
                "LIMIT ?",
                (start, limit),
            ).fetchall()
        return rows[::-1]

    def purge(self, before: float) -> int:
        with self._lock, self._db:
            return self._db.execute("DELETE FROM articles WHERE seen < ?", (before,)).rowcount

    def close(self) -> None:
        self._db.close()
