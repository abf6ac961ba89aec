"""All state behind one small interface, with Redis and embedded SQLite implementations.

The pipeline only ever needs a key-value store of JSON documents with expiry and one atomic
operation, ``claim``: set a key only if it is absent (Redis ``SET NX EX``, SQLite ``INSERT OR
IGNORE`` in one transaction). Every "exactly once" in the monitor is a claim: an article seen,
a feed's polling slot, an alert being sent.

Besides documents, a key may hold a set of strings whose members expire one by one
(``add_member``, ``members``): an index that many workers add to at once without losing an
addition, as a read-modify-write of one document would. A set's key is only ever used as a set.

A key may also hold a schedule: members each with a time (``schedule``, ``unschedule``,
``scheduled``), from which ``take_due`` atomically takes the members whose time has come and
pushes them a lease ahead, so that two takers never get the same member and a member taken by a
process that then died comes due again. Its cost follows the members taken, not the schedule's
size (a Redis sorted set; an indexed table in SQLite). Members do not expire.

And a key may hold slots: at most a given number of tokens out at once, each given back by its
holder or, should the holder die, gone by itself after a while (``trade_slots``). They bound
the requests in flight to one host among every process sharing the store.

Keys in use: ``seen:<article key>``, ``entry:<article id>``, ``alert:<alert id>``,
``sending:<alert id>``, ``slot:rates``, ``feed:<feed url>``, the schedule ``poll-schedule`` of
feed URLs by next poll and its mark ``poll-schedule:feeds`` (see ``monitor.ingest.schedule``),
the slots ``host-slots:<host>`` (see ``monitor.fetch.slots``), the indexes ``index:alerts``,
``index:held`` and ``index:digest-open`` (see ``monitor.alerts.ledger``);
for near-duplicates (see ``monitor.text.neardup``) the sets ``near:<quarter>:<value>``, the
claims ``near-first:<article key>`` and the lock ``near-lock``.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, cast

import redis

from monitor.errors import StoreError
from monitor.settings import Settings

JSON = dict[str, Any]
PURGE_EVERY = 300.0  # seconds between two sweeps of expired rows in SQLite
SQL_VARIABLES = 500  # keys per query, well under SQLite's limit on bound parameters


class Store(Protocol):
    """The state interface the whole pipeline uses; see the module docstring."""

    def claim(self, key: str, ttl: float, value: JSON | None = None) -> bool:
        """Set ``key`` (to ``value``) for ``ttl`` seconds only if absent; True if we set it."""
        ...

    def claim_all(self, values: Mapping[str, JSON], ttl: float) -> set[str]:
        """``claim`` of each key of ``values``, all in one round trip: the keys we set."""
        ...

    def get(self, key: str) -> JSON | None: ...

    def get_all(self, keys: Iterable[str]) -> dict[str, JSON]:
        """The live documents at ``keys``, in one round trip (absent keys left out)."""
        ...

    def put(self, key: str, value: JSON, ttl: float | None = None) -> None: ...

    def put_all(self, values: Mapping[str, JSON], ttl: float | None = None) -> None:
        """``put`` of each key of ``values``, in one round trip."""
        ...

    def delete(self, key: str) -> None: ...

    def keys(self, prefix: str) -> list[str]:
        """Every live key that starts with ``prefix`` (for listings, not for hot paths)."""
        ...

    def add_member(self, key: str, member: str, ttl: float) -> None:
        """Add ``member`` to the set at ``key`` for ``ttl`` seconds (each member expires on its
        own; adding it again keeps the later expiry)."""
        ...

    def members(self, keys: Iterable[str]) -> set[str]:
        """The live members of the sets at ``keys``, all together (one round trip to Redis)."""
        ...

    def schedule(self, key: str, times: Mapping[str, float], *, only_new: bool = False) -> None:
        """Set the time (epoch seconds) of each member of the schedule at ``key``; with
        ``only_new``, members already there keep theirs."""
        ...

    def unschedule(self, key: str, members: Iterable[str]) -> None:
        """Remove ``members`` from the schedule at ``key``."""
        ...

    def scheduled(self, key: str) -> dict[str, float]:
        """Every member of the schedule at ``key`` with its time (reads it all: not for hot
        paths)."""
        ...

    def take_due(self, key: str, now: float, limit: int, lease: float) -> list[str]:
        """The ``limit`` earliest members of the schedule at ``key`` whose time is ``now`` or
        earlier (in no particular order), each moved to ``now + lease`` in the same atomic
        step."""
        ...

    def trade_slots(
        self,
        returned: Mapping[str, Iterable[str]],
        wanted: Mapping[str, Sequence[str]],
        limit: int,
        hold: float,
    ) -> dict[str, list[str]]:
        """Give back the tokens ``returned`` (by key), then take, of the tokens ``wanted`` at
        each key, the first ones that fit under ``limit`` out at once, each held for ``hold``
        seconds unless given back sooner; all in one atomic step. The tokens taken, by key."""
        ...

    def ping(self) -> None:
        """Raise if the store cannot be reached."""
        ...

    def close(self) -> None: ...


# Taking and pushing in one script makes it one atomic step: no other client runs in between.
_TAKE_DUE = """
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do
    redis.call('ZADD', KEYS[1], 'XX', ARGV[3], member)
end
return due
"""

# Slots: expired tokens dropped, then as many taken as fit. The server's clock, so that
# machines whose clocks differ agree on when a token expires.
_TRADE_SLOTS = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local limit, hold = tonumber(ARGV[1]), tonumber(ARGV[2])
for key, tokens in pairs(cjson.decode(ARGV[3])) do
    for _, token in ipairs(tokens) do
        redis.call('ZREM', key, token)
    end
end
local taken = {}
for key, tokens in pairs(cjson.decode(ARGV[4])) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    local room = math.min(#tokens, limit - redis.call('ZCARD', key))
    for i = 1, room do
        redis.call('ZADD', key, now + hold, tokens[i])
    end
    if room > 0 then
        redis.call('PEXPIRE', key, math.ceil(hold * 1000))
    end
    table.insert(taken, key)
    table.insert(taken, math.max(room, 0))
end
return taken
"""


class RedisStore:
    """State in Redis, shared by every worker that talks to the same server."""

    def __init__(self, url: str, namespace: str = "monitor:") -> None:
        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._ns = namespace
        self._take_due = self._redis.register_script(_TAKE_DUE)
        self._trade_slots = self._redis.register_script(_TRADE_SLOTS)

    def claim(self, key: str, ttl: float, value: JSON | None = None) -> bool:
        payload = json.dumps(value or {}, ensure_ascii=False)
        return bool(self._redis.set(self._ns + key, payload, nx=True, px=int(ttl * 1000)))

    def claim_all(self, values: Mapping[str, JSON], ttl: float) -> set[str]:
        keys = list(values)
        with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                payload = json.dumps(values[key], ensure_ascii=False)
                pipe.set(self._ns + key, payload, nx=True, px=int(ttl * 1000))
            done = pipe.execute()
        return {key for key, was_set in zip(keys, done, strict=True) if was_set}

    def get(self, key: str) -> JSON | None:
        raw = self._redis.get(self._ns + key)
        return json.loads(str(raw)) if raw is not None else None

    def get_all(self, keys: Iterable[str]) -> dict[str, JSON]:
        wanted = list(keys)
        found: dict[str, JSON] = {}
        for at in range(0, len(wanted), SQL_VARIABLES):
            part = wanted[at : at + SQL_VARIABLES]
            raws = cast(list[Any], self._redis.mget([self._ns + key for key in part]))
            found.update(
                (key, json.loads(str(raw))) for key, raw in zip(part, raws, strict=True) if raw
            )
        return found

    def put(self, key: str, value: JSON, ttl: float | None = None) -> None:
        payload = json.dumps(value, ensure_ascii=False)
        self._redis.set(self._ns + key, payload, px=int(ttl * 1000) if ttl else None)

    def put_all(self, values: Mapping[str, JSON], ttl: float | None = None) -> None:
        with self._redis.pipeline(transaction=False) as pipe:
            for key, value in values.items():
                payload = json.dumps(value, ensure_ascii=False)
                pipe.set(self._ns + key, payload, px=int(ttl * 1000) if ttl else None)
            pipe.execute()

    def delete(self, key: str) -> None:
        self._redis.delete(self._ns + key)

    def keys(self, prefix: str) -> list[str]:
        pattern = self._ns + prefix.replace("*", r"\*") + "*"
        return sorted(str(k)[len(self._ns) :] for k in self._redis.scan_iter(pattern, count=500))

    def add_member(self, key: str, member: str, ttl: float) -> None:
        # A sorted set scored by expiry; the key itself lives as long as its last member.
        now, name, lifetime = time.time(), self._ns + key, math.ceil(ttl * 1000)
        with self._redis.pipeline() as pipe:
            pipe.zadd(name, {member: now + ttl}, gt=True)
            pipe.zremrangebyscore(name, "-inf", now)
            pipe.pexpire(name, lifetime, nx=True)
            pipe.pexpire(name, lifetime, gt=True)
            pipe.execute()

    def members(self, keys: Iterable[str]) -> set[str]:
        now = time.time()
        with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zrangebyscore(self._ns + key, f"({now}", "+inf")
            found = pipe.execute()
        return {str(member) for live in found for member in live}

    def schedule(self, key: str, times: Mapping[str, float], *, only_new: bool = False) -> None:
        items = list(times.items())
        with self._redis.pipeline(transaction=False) as pipe:
            for at in range(0, len(items), SQL_VARIABLES):
                pipe.zadd(self._ns + key, dict(items[at : at + SQL_VARIABLES]), nx=only_new)
            pipe.execute()

    def unschedule(self, key: str, members: Iterable[str]) -> None:
        wanted = list(members)
        with self._redis.pipeline(transaction=False) as pipe:
            for at in range(0, len(wanted), SQL_VARIABLES):
                pipe.zrem(self._ns + key, *wanted[at : at + SQL_VARIABLES])
            pipe.execute()

    def scheduled(self, key: str) -> dict[str, float]:
        found = self._redis.zrange(self._ns + key, 0, -1, withscores=True)
        pairs = cast(list[tuple[str, float]], found)  # withscores: (member, score) pairs
        return {str(member): float(when) for member, when in pairs}

    def take_due(self, key: str, now: float, limit: int, lease: float) -> list[str]:
        taken = self._take_due(keys=[self._ns + key], args=[repr(now), limit, repr(now + lease)])
        return [str(member) for member in taken]

    def trade_slots(
        self,
        returned: Mapping[str, Iterable[str]],
        wanted: Mapping[str, Sequence[str]],
        limit: int,
        hold: float,
    ) -> dict[str, list[str]]:
        back = {self._ns + key: list(tokens) for key, tokens in returned.items()}
        asked = {self._ns + key: list(tokens) for key, tokens in wanted.items()}
        keys = [*back, *asked]
        counts = self._trade_slots(
            keys=keys, args=[limit, repr(hold), json.dumps(back), json.dumps(asked)]
        )
        room = dict(zip(counts[::2], counts[1::2], strict=True))
        return {key: list(tokens[: int(room[self._ns + key])]) for key, tokens in wanted.items()}

    def ping(self) -> None:
        self._redis.ping()

    def close(self) -> None:
        self._redis.close()


class SqliteStore:
    """State in one SQLite file, shared by the processes of one machine.

    WAL mode lets readers and one writer work at once; every claim is one ``BEGIN IMMEDIATE``
    transaction, so two processes cannot both claim a key. A connection is opened per process
    and thread, because SQLite connections must not cross a fork.

    The file holds what was sent: losing it means sending it all again. So it is never made
    anew where one was (``<file>.created``, written beside it, remembers that there was one):
    an emptied, missing or damaged file, or a full disk, is a ``StoreError`` saying what
    happened and what to do, never a fresh start.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.created = path.with_name(path.name + ".created")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._purged_at = 0.0
        if self.created.exists() and (not path.exists() or path.stat().st_size == 0):
            since = self.created.read_text(encoding="utf-8").strip() or "before"
            raise StoreError(
                f"the state database is {'empty' if path.exists() else 'missing'}, but this "
                f"state folder has had one since {since}: starting afresh would send every "
                f"alert again. Restore {path.name} from a backup, or delete {self.created} to "
                "start afresh anyway",
                subject=str(path),
            )
        with self._sql():
            db = self._connect()
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS kv "
                "(key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL)"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS sets (key TEXT NOT NULL, member TEXT NOT NULL, "
                "expires REAL NOT NULL, PRIMARY KEY (key, member)) WITHOUT ROWID"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS schedule (key TEXT NOT NULL, member TEXT NOT NULL, "
                "due REAL NOT NULL, PRIMARY KEY (key, member)) WITHOUT ROWID"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS slots (key TEXT NOT NULL, token TEXT NOT NULL, "
                "expires REAL NOT NULL, PRIMARY KEY (key, token)) WITHOUT ROWID"
            )
            # take_due reads the earliest times of one schedule: this index makes that a range.
            db.execute("CREATE INDEX IF NOT EXISTS schedule_due ON schedule (key, due)")
            db.execute("SELECT count(*) FROM kv WHERE key < ''").fetchone()  # reads the index
        if not self.created.exists():
            self.created.write_text(time.strftime("%Y-%m-%d %H:%M:%S %Z\n"), encoding="utf-8")

    @contextmanager
    def _sql(self) -> Iterator[None]:
        """SQLite's errors as ``StoreError``, each with what to do about it."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if "full" in text:
                advice = "free some space on its disk; the worker goes on once it can write"
            elif isinstance(exc, sqlite3.OperationalError) and "locked" in text:
                advice = "another process holds it too long; it is tried again"
            else:
                advice = ("it is damaged: restore it from a backup, or move it away to start "
                          "afresh (alerts already sent may then be sent again)")  # fmt: skip
            raise StoreError(f"{text}: {advice}", subject=str(self.path)) from None

    def _connect(self) -> sqlite3.Connection:
        pid = os.getpid()
        if getattr(self._local, "pid", None) != pid:
            self._local.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._local.db.execute("PRAGMA busy_timeout=30000")
            self._local.pid = pid
        db: sqlite3.Connection = self._local.db
        return db

    def claim(self, key: str, ttl: float, value: JSON | None = None) -> bool:
        return bool(self.claim_all({key: value or {}}, ttl))

    def claim_all(self, values: Mapping[str, JSON], ttl: float) -> set[str]:
        now = time.time()
        claimed: set[str] = set()
        with self._sql(), self._transaction() as db:
            if now - self._purged_at > PURGE_EVERY:
                # Redis expires keys itself; here expired rows go in bulk now and then.
                db.execute("DELETE FROM kv WHERE expires <= ?", (now,))
                db.execute("DELETE FROM sets WHERE expires <= ?", (now,))
                self._purged_at = now
            for key, value in values.items():
                db.execute("DELETE FROM kv WHERE key = ? AND expires <= ?", (key, now))
                inserted = db.execute(
                    "INSERT OR IGNORE INTO kv VALUES (?, ?, ?)",
                    (key, json.dumps(value, ensure_ascii=False), now + ttl),
                ).rowcount
                if inserted == 1:
                    claimed.add(key)
        return claimed

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once so no other process writes in between (and one
        commit for many rows, where each statement on its own would be a commit)."""
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # a full disk may have ended it already
                db.execute("ROLLBACK")
            raise

    def get(self, key: str) -> JSON | None:
        with self._sql():
            row = (
                self._connect()
                .execute(
                    "SELECT value FROM kv WHERE key = ? AND (expires IS NULL OR expires > ?)",
                    (key, time.time()),
                )
                .fetchone()
            )
        return json.loads(row[0]) if row else None

    def get_all(self, keys: Iterable[str]) -> dict[str, JSON]:
        wanted = list(keys)
        found: dict[str, JSON] = {}
        with self._sql():
            db = self._connect()
            for at in range(0, len(wanted), SQL_VARIABLES):
                part = wanted[at : at + SQL_VARIABLES]
                marks = ", ".join("?" * len(part))
                rows = db.execute(
                    f"SELECT key, value FROM kv WHERE key IN ({marks}) "  # noqa: S608  (marks only)
                    "AND (expires IS NULL OR expires > ?)",
                    (*part, time.time()),
                )
                found.update((key, json.loads(value)) for key, value in rows)
        return found

    def put(self, key: str, value: JSON, ttl: float | None = None) -> None:
        self.put_all({key: value}, ttl)

    def put_all(self, values: Mapping[str, JSON], ttl: float | None = None) -> None:
        expires = time.time() + ttl if ttl else None
        with self._sql(), self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO kv VALUES (?, ?, ?)",
                (
                    (key, json.dumps(value, ensure_ascii=False), expires)
                    for key, value in values.items()
                ),
            )

    def delete(self, key: str) -> None:
        with self._sql():
            db = self._connect()
            for table in ("kv", "sets", "schedule"):
                db.execute(f"DELETE FROM {table} WHERE key = ?", (key,))  # noqa: S608  (a fixed name)

    def keys(self, prefix: str) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._sql():
            rows = self._connect().execute(
                "SELECT key FROM kv WHERE key LIKE ?1 ESCAPE '\\' "
                "AND (expires IS NULL OR expires > ?2) "
                "UNION SELECT key FROM sets WHERE key LIKE ?1 ESCAPE '\\' AND expires > ?2 "
                "UNION SELECT key FROM schedule WHERE key LIKE ?1 ESCAPE '\\' "
                "ORDER BY key",
                (escaped + "%", time.time()),
            )
            return [r[0] for r in rows]

    def add_member(self, key: str, member: str, ttl: float) -> None:
        with self._sql():
            self._connect().execute(
                "INSERT INTO sets VALUES (?, ?, ?) ON CONFLICT (key, member) "
                "DO UPDATE SET expires = max(expires, excluded.expires)",
                (key, member, time.time() + ttl),
            )

    def members(self, keys: Iterable[str]) -> set[str]:
        db, now, wanted = self._connect(), time.time(), list(keys)
        found: set[str] = set()
        with self._sql():
            for at in range(0, len(wanted), SQL_VARIABLES):
                chunk = wanted[at : at + SQL_VARIABLES]
                placeholders = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT member FROM sets WHERE expires > ? AND key IN ({placeholders})",  # noqa: S608  (only placeholders go in)
                    (now, *chunk),
                )
                found.update(r[0] for r in rows)
        return found

    def schedule(self, key: str, times: Mapping[str, float], *, only_new: bool = False) -> None:
        on_conflict = "NOTHING" if only_new else "UPDATE SET due = excluded.due"
        with self._sql(), self._transaction() as db:
            db.executemany(
                f"INSERT INTO schedule VALUES (?, ?, ?) ON CONFLICT (key, member) DO {on_conflict}",  # noqa: S608  (one of two fixed clauses)
                ((key, member, when) for member, when in times.items()),
            )

    def unschedule(self, key: str, members: Iterable[str]) -> None:
        with self._sql(), self._transaction() as db:
            db.executemany(
                "DELETE FROM schedule WHERE key = ? AND member = ?",
                ((key, member) for member in members),
            )

    def scheduled(self, key: str) -> dict[str, float]:
        with self._sql():
            rows = self._connect().execute("SELECT member, due FROM schedule WHERE key = ?", (key,))
            return {member: float(due) for member, due in rows}

    def take_due(self, key: str, now: float, limit: int, lease: float) -> list[str]:
        # One statement is one transaction: two processes never take the same member.
        with self._sql():
            rows = self._connect().execute(
                "UPDATE schedule SET due = ?1 WHERE key = ?2 AND member IN (SELECT member "
                "FROM schedule WHERE key = ?2 AND due <= ?3 ORDER BY due LIMIT ?4) "
                "RETURNING member",
                (now + lease, key, now, limit),
            )
            return [member for (member,) in rows]

    def trade_slots(
        self,
        returned: Mapping[str, Iterable[str]],
        wanted: Mapping[str, Sequence[str]],
        limit: int,
        hold: float,
    ) -> dict[str, list[str]]:
        now = time.time()
        taken: dict[str, list[str]] = {}
        with self._sql(), self._transaction() as db:
            db.executemany(
                "DELETE FROM slots WHERE key = ? AND token = ?",
                ((key, token) for key, tokens in returned.items() for token in tokens),
            )
            for key, tokens in wanted.items():
                db.execute("DELETE FROM slots WHERE key = ? AND expires <= ?", (key, now))
                (out,) = db.execute("SELECT count(*) FROM slots WHERE key = ?", (key,)).fetchone()
                taken[key] = list(tokens[: max(0, limit - out)])
                db.executemany(
                    "INSERT INTO slots VALUES (?, ?, ?)",
                    ((key, token, now + hold) for token in taken[key]),
                )
        return taken

    def ping(self) -> None:
        with self._sql():
            self._connect().execute("SELECT 1").fetchone()

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
            self._local.pid = None


def open_store(settings: Settings) -> Store:
    """Redis when ``REDIS_URL`` is set, otherwise SQLite in the state directory."""
    if settings.redis_url:
        return RedisStore(settings.redis_url)
    return SqliteStore(settings.state_dir / "state.db")
