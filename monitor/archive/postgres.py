"""The archive in PostgreSQL (``MONITOR_ARCHIVE_URL``), for a distributed deployment
(``monitor.archive``). Short timeouts: an archive that does not answer is down, and the writer
tries again later."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg

from monitor.archive import Archive, Archived

SCHEMA = """
CREATE TABLE IF NOT EXISTS monitor_articles (
    id text PRIMARY KEY, seen double precision NOT NULL, body bytea NOT NULL);
CREATE INDEX IF NOT EXISTS monitor_articles_seen ON monitor_articles (seen);
"""
CONNECT_TIMEOUT = 3  # seconds
STATEMENT_TIMEOUT_MS = 10_000
READ_AT_ONCE = 1000


class PostgresArchive(Archive):
    def __init__(self, url: str) -> None:
        self._db = psycopg.connect(
            url, connect_timeout=CONNECT_TIMEOUT, autocommit=True,
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        )  # fmt: skip
        self._db.execute(SCHEMA)

    def put_all(self, articles: list[Archived]) -> None:
        rows = [(a.id, a.seen, a.packed()) for a in articles]
        with self._db.transaction(), self._db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO monitor_articles (id, seen, body) VALUES (%s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET seen = excluded.seen, body = excluded.body",
                rows,
            )

    def get(self, ident: str) -> Archived | None:
        row = self._db.execute(
            "SELECT id, seen, body FROM monitor_articles WHERE id = %s", (ident,)
        ).fetchone()
        return None if row is None else Archived.unpacked(row[0], row[1], bytes(row[2]))

    def rows_since(self, start: float) -> Iterator[tuple[str, float, bytes]]:
        after: tuple[float, str] = (start, "")
        while True:  # in pages, by (seen, id): no statement runs long
            rows = self._db.execute(
                "SELECT id, seen, body FROM monitor_articles WHERE (seen, id) > (%s, %s) "
                "ORDER BY seen, id LIMIT %s",
                (after[0], after[1], READ_AT_ONCE),
            ).fetchall()
            for ident, seen, body in rows:
                yield ident, seen, bytes(body)
            if len(rows) < READ_AT_ONCE:
                return
            after = (rows[-1][1], rows[-1][0])

    def newest_rows(self, start: float, limit: int) -> list[tuple[str, float, bytes]]:
        rows = self._db.execute(
            "SELECT id, seen, body FROM monitor_articles WHERE seen >= %s "
            "ORDER BY seen DESC, id DESC LIMIT %s",
            (start, limit),
        ).fetchall()
        return [(ident, seen, bytes(body)) for ident, seen, body in reversed(rows)]

    def purge(self, before: float) -> int:
        return self._db.execute("DELETE FROM monitor_articles WHERE seen < %s", (before,)).rowcount

    def close(self) -> None:
        self._db.close()
