"""Polling at scale through the real Celery worker and Redis, against loopback publishers that
answer each request after 100 ms, as distant ones would; then the freshness of alerts.

    .venv/bin/python tests/bench/bench_polling.py                    # 1,000 and 10,000 feeds
    .venv/bin/python tests/bench/bench_polling.py --sizes 1000,10000,100000
    .venv/bin/python tests/bench/bench_polling.py --sizes 1000 --cycles 3 --freshness 0
    .venv/bin/python tests/bench/bench_polling.py --env MONITOR_POLL_LEASE=600 --per-host 8

Not part of the test run; it prints figures and asserts nothing. All traffic stays on loopback.

Publishers. ``--hosts`` (200) loopback addresses, 127.0.0.2 on, each an HTTP/1.1 server in this
process answering after ``--latency`` (0.1 s), with ETag and Last-Modified (a conditional GET of
an unchanged feed gets a 304). The feeds of a size are spread evenly over the hosts (feed n on
host n mod hosts, at /feed/n.xml), each with ``--items`` (10) items; every article is served by
one page registered for the prefix /a/. The rules file names the feeds in a text feed list
(one URL a line, ``every: 1h``), which loads in a fraction of a second at 100,000 feeds.

Sizes. For each of ``--sizes`` (1000,10000), with a fresh Redis and a fresh poll worker (as
deployed in compose.yaml and k8s: ``celery worker --beat --queues poll,deliver --pool threads``,
``--concurrency`` of ``--threads`` (16); the articles the polls queue wait in Redis, since
extraction has workers of its own), ``--cycles`` (10) cycles:

1. cold: the worker's first turn, no feed polled before (every item is new);
2. nothing changed: every feed answers 304;
3. mixed: 1% of the feeds carry a new item, 1% answer 1 s late, 1% fail with HTTP 500,
   picked at random ("mixed (N each new/slow/500)"; the others answer 304);
4. and on, nothing-changed and mixed in turn (the slow and failing feeds of a mixed cycle are
   well again in the next).

A feed's Last-Modified changes with its ETag whenever it changes: the publisher answers 304
when If-Modified-Since matches, whatever If-None-Match says.

A cycle after the first is forced by setting every feed's time in the poll schedule
(``monitor:poll-schedule``) to 0 once the previous one ended. It ends when every feed's health
record (``monitor:feed:<url>``) shows an attempt after it began and every item its polls found
new is queued for extraction: the ``extract`` list in Redis (nothing consumes it) holds as many
articles as the feeds have carried so far or, when a poll failed, stood still for 3 s (the
cycle then ends when it last grew). So a cycle's time, CPU and memory include queuing what it
found, and none of it spills into the next cycle. The check is kept cheap, so
it does not weigh on what is measured: the publishers say which feeds were requested (no
Redis), and only those are read, once at least the latency after their request, in MGETs of at
most 1,000 keys, once a second while feeds are still being requested and every 50 ms once all
were; a feed found done is not read again. If no feed was requested for 2 s, every feed not yet
done is read once a second (a poll that fails before reaching the publisher). So a cycle reads
about one record per feed.

Printed for each cycle: seconds, polls a second, CPU milliseconds per poll, the requests the
publishers saw and how many got a 304, and the worker's resident memory.

* **CPU ms per poll**: the kernel's accounting (``/proc/PID/stat``, utime + stime, in clock
  ticks of ``os.sysconf('SC_CLK_TCK')``) of the worker's whole process tree (main process,
  pool children, embedded beat; for children that exited, their parent's cutime + cstime) plus
  the Redis server's, sampled before and after the cycle, divided by the feeds polled. Shown
  split: worker + Redis. Redis's time in MGET (``INFO commandstats``; the worker does not use
  MGET, the completion check does) is subtracted and shown as "check"; what the check costs
  Redis beyond the command itself (reading the request, writing the reply) stays counted, and
  is small at one read per feed. The ZADD that forces a cycle is sent before the first sample.
  The cold cycle is counted from the worker's "ready", so its start-up (imports) is left out;
  its seconds run from the worker's start. This process (the publishers and the check) shares
  the machine's CPU and is not counted.
* **RSS**: resident memory of the worker's process tree after the cycle, in MB.

After the cycles of a size: Redis memory in all and per feed, by kind of key (the articles the
polls queued wait there too); the worker's RSS after the last cycle against the first, in %;
and a summary line. The first size also times the naive baseline: 100 feeds fetched one after
the other without conditional GET.

At the end, a table over sizes: cold cycle s; the first nothing-changed cycle s; polls/s and
CPU ms/poll over the cycles after the cold one; that CPU figure against the first size's;
Redis bytes per feed; the RSS change. Then the floors, shown against the figures (never
asserted): CPU per poll at 100,000 feeds at most 1.25 times that at 1,000; the 100,000-feed
nothing-changed cycle within 400 s; RSS flat within 5% over the cycles.

Freshness (``--freshness SIZE``, 10000; 0 skips it), in the same run: SIZE feeds at
``every: 1m``; the poll worker above (``--queues poll,deliver``, with beat) and an extraction
worker (``--queues extract --concurrency 2``), at the settings' defaults but for the
options given (beat ticks every 5 s, as in production); a rule that fires on a keyword only new
items carry (in their title and page), notifying a webhook on loopback (json://). The feeds
start empty, so the cold turn queues nothing to extract and no backlog delays the new items.
Once the cold turn has polled every feed, new items appear at ``--freshness-rate`` (1) a
second for ``--freshness-seconds`` (300), each on a feed picked at random (its ETag and
Last-Modified change). For each, the time from its appearance at the publisher to its alert at
the webhook; printed: p50 and p95 (nearest rank; an alert that never came counts as infinitely
late), the max, how many arrived of how many were published (waiting at most two intervals and
30 s after the last), and any alerted twice. Floor: p95 at most the interval plus 10 s (70 s).
Near-duplicate detection is off there (MONITOR_NEAR_DUPLICATE_DISTANCE=-1): the new items'
pages are alike and would be folded into one alert.

Options (defaults in brackets):

* ``--sizes`` [1000,10000], ``--cycles`` [10], ``--hosts`` [200], ``--items`` [10],
  ``--latency`` [0.1 s]; ``--threads`` [16]: the poll worker's pool of threads;
  ``--cycle-timeout`` [0: 120 s + 0.03 s a feed]: a cycle not ended by then is reported with
  what the late feeds' records say, and the run goes on with the next size;
* ``--freshness`` [10000], ``--freshness-seconds`` [300], ``--freshness-rate`` [1 a second];
* settings, passed to the workers as environment variables: ``--poll-concurrency``,
  ``--batch`` and ``--per-host`` set MONITOR_POLL_CONCURRENCY, MONITOR_POLL_BATCH and
  MONITOR_PER_HOST_CONCURRENCY [the settings' own defaults]; ``--env KEY=VALUE``
  (repeatable) sets any other, e.g.
  ``--env MONITOR_POLL_LEASE=600``, and wins over the options.

Each size's worker log is kept in the folder printed before its cycles.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

import urllib3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.ingest.schedule import SCHEDULE  # noqa: E402
from monitor.settings import Settings  # noqa: E402
from tests.support.publisher import Publisher  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.servers import WebhookSink  # noqa: E402
from tests.support.worker import CeleryWorker  # noqa: E402

Redis = Any  # redis-py's client; its methods' types are too loose to help here

NS = "monitor:"
FIRST_HOST = 2  # 127.0.0.2: the publishers' first address; never beyond 127.0.0.254
MAX_HOSTS = 253
HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
ARTICLE = "<html><body><article><h1>Weather</h1><p>" + "Rain today. " * 60 + "</p></article>"
KEYWORD = "Quetzalcoatlus"  # only the freshness run's new items carry it
FRESH_ARTICLE = (
    f"<html><body><article><h1>{KEYWORD} found</h1><p>"
    + f"A {KEYWORD} fossil was found near the river. " * 20
    + "</p></article>"
)
FRESH_EVERY = 60.0  # the freshness run's feeds: every: 1m
FRESH_LINK = re.compile(r"/fresh/(\d+)\.html")
LAST_MODIFIED_BASE = 1_795_514_400  # Tue, 24 Nov 2026 10:00:00 GMT
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
CHECK_CHUNK = 1000  # keys per MGET of the completion check
EXTRACT_QUEUE = "extract"  # where the poll worker queues each new article (tasks.app)
QUEUE_SETTLED = 3.0  # seconds the extract queue stands still before a cycle is over
CHECK_EVERY, CHECK_TAIL, CHECK_STALLED = 1.0, 0.05, 2.0  # seconds; see the module docstring
# Options that set a setting of the worker: option name → Settings field.
SETTING_OPTIONS = {
    "poll_concurrency": "poll_concurrency",
    "batch": "poll_batch",
    "per_host": "per_host_concurrency",
}


# --------------------------------------------------------------------------- processes


def tree(pid: int) -> list[int]:
    """A process and its descendants (those alive now)."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def cpu_ticks(pid: int) -> int:
    """CPU time of a process tree in clock ticks: utime + stime of every process in it, and
    cutime + cstime (children that exited and were waited for)."""
    total = 0
    for current in tree(pid):
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # fields from the 3rd (state) on
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime: fields 14-17
    return total


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, in MB."""
    total = 0
    for current in tree(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS"))
        except (OSError, StopIteration):
            continue
    return total / 1024


# --------------------------------------------------------------------------- publishers


def http_date(stamp: int) -> str:
    return formatdate(LAST_MODIFIED_BASE + stamp, usegmt=True)


class Farm:
    """``size`` feeds on loopback publishers (see the module docstring), their versions, and
    which feeds were requested since the last ``reset``."""

    def __init__(self, hosts: int, size: int, latency: float, items: int) -> None:
        self.publishers = [
            Publisher(f"127.0.0.{FIRST_HOST + h}", latency=latency, poll_interval=0.5)
            for h in range(min(hosts, size))
        ]
        for p in self.publishers:
            p.serve_prefix("/a/", ARTICLE, content_type=HTML)
            p.serve_prefix("/fresh/", FRESH_ARTICLE, content_type=HTML)
        self.items = items
        self.versions = [0] * size
        self.stamps = [0] * size  # each change of a feed gets a Last-Modified of its own
        self.fresh: dict[int, list[int]] = {}  # feed → its fresh items, newest first
        self._stamp = 0
        self.urls = [self.publish(n) for n in range(size)]
        self._read = [0] * len(self.publishers)

    def publisher(self, feed: int) -> Publisher:
        return self.publishers[feed % len(self.publishers)]

    def publish(self, feed: int, **extra: Any) -> str:
        """Serve the feed as it is now (``Page`` fields in ``extra``: delay, status)."""
        p = self.publisher(feed)
        base = f"http://{p.host}:{p.port}"
        version = self.versions[feed]
        fresh = self.fresh.get(feed, [])[:10]
        items = [
            f"<item><title>{KEYWORD} story {k}</title><link>{base}/fresh/{k}.html</link>"
            f"<guid>{base}/fresh/{k}.html</guid></item>"
            for k in fresh
        ] + [
            f"<item><title>story {feed}-{v}</title><link>{base}/a/{feed}-{v}.html</link></item>"
            for v in range(version + self.items - 1, version - 1, -1)
        ]
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>feed {feed}</title><link>{base}/</link><description>bench</description>"
            f"{''.join(items)}</channel></rss>"
        )
        return p.serve(
            f"/feed/{feed}.xml",
            body,
            content_type=RSS,
            etag=f'"{feed}-{version}-{len(fresh)}"',
            last_modified=http_date(self.stamps[feed]),
            **extra,
        )

    def _changed(self, feed: int) -> None:
        self._stamp += 1
        self.stamps[feed] = self._stamp

    def new_item(self, feed: int) -> None:
        self.versions[feed] += 1
        self._changed(feed)
        self.publish(feed)

    def add_fresh(self, feed: int, number: int) -> None:
        self.fresh.setdefault(feed, []).insert(0, number)
        self._changed(feed)
        self.publish(feed)

    def articles(self) -> int:
        """The items the feeds have carried so far (the fresh ones aside): each is queued for
        extraction once, when a poll first finds it."""
        return len(self.urls) * self.items + sum(self.versions)

    def reset(self) -> None:
        for p in self.publishers:
            p.reset_counts()
        self._read = [0] * len(self.publishers)

    def feed_requests(self) -> list[tuple[int, float]]:
        """The feeds requested since the last call (or ``reset``), with when."""
        found: list[tuple[int, float]] = []
        for h, p in enumerate(self.publishers):
            new = p.since(self._read[h])
            self._read[h] += len(new)
            found += [(int(path[6:-4]), at) for path, at in new if path.startswith("/feed/")]
        return found

    def counts(self) -> tuple[int, int]:
        """Requests and 304s since the last ``reset``."""
        return sum(len(p.requests) for p in self.publishers), sum(
            p.not_modified for p in self.publishers
        )

    def stop(self) -> None:
        # All at once: each waits for its server loop's next turn (poll_interval).
        with ThreadPoolExecutor(64) as pool:
            list(pool.map(Publisher.stop, self.publishers))


# --------------------------------------------------------------------------- measuring


class CycleTimeout(Exception):
    """A cycle that did not end within the time allowed."""


@dataclass(frozen=True)
class Sample:
    worker: int  # clock ticks of the worker's tree
    redis: int  # clock ticks of redis-server
    check_usec: int  # Redis's time in MGET so far (the completion check's)


def sample(worker_pid: int, redis_pid: int, db: Redis) -> Sample:
    mget = db.info("commandstats").get("cmdstat_mget", {})
    return Sample(cpu_ticks(worker_pid), cpu_ticks(redis_pid), int(mget.get("usec", 0)))


class Completion:
    """Waits until every feed was polled after a moment, reading Redis as little as it can
    (see the module docstring)."""

    def __init__(self, farm: Farm, db: Redis, latency: float, timeout: float) -> None:
        self.farm, self.db, self.latency, self.timeout = farm, db, latency, timeout

    def wait(self, label: str, start: float, log: Path, queued: int | None = None) -> float:
        """Seconds from ``start`` (time.time()) until every feed's record shows an attempt
        after it and, with ``queued``, the extract queue holds that many articles;
        ``CycleTimeout`` after ``timeout`` seconds."""
        urls = self.farm.urls
        pending = set(range(len(urls)))
        requested: dict[int, float] = {}  # pending feeds the publishers saw, and when
        began = last_request = last_check = last_full = time.monotonic()
        seen_any = False
        while pending:
            time.sleep(0.02)
            now = time.monotonic()
            for feed, at in self.farm.feed_requests():
                if feed in pending:
                    requested.setdefault(feed, at)
                last_request, seen_any = now, True
            # Nothing requested for a while: read every feed not yet done (once the worker has
            # had time to begin: a cold start at 100,000 feeds takes seconds to queue them).
            stalled = now - last_request >= CHECK_STALLED and (seen_any or now - began >= 10)
            if stalled and now - last_full >= CHECK_EVERY:
                self._check(sorted(pending), start, pending, requested)
                last_full = last_check = now
            elif now - last_check >= (
                CHECK_TAIL if len(requested) == len(pending) else CHECK_EVERY
            ):
                ready = [f for f, at in requested.items() if now - at >= self.latency]
                self._check(ready, start, pending, requested)
                last_check = now
            if pending and time.time() - start > self.timeout:
                self._give_up(label, start, pending, log)
        return (self._queued(queued) if queued is not None else time.time()) - start

    def _queued(self, queued: int) -> float:
        """When the extract queue reached ``queued`` articles, or last grew before it stood
        still for ``QUEUE_SETTLED`` seconds (a feed that failed queued nothing)."""
        length, grew = self.db.llen(EXTRACT_QUEUE), time.time()
        while length < queued and time.time() - grew < QUEUE_SETTLED:
            time.sleep(CHECK_TAIL)
            now = self.db.llen(EXTRACT_QUEUE)
            if now != length:
                length, grew = now, time.time()
        return grew

    def _check(
        self, feeds: list[int], start: float, pending: set[int], requested: dict[int, float]
    ) -> None:
        for i in range(0, len(feeds), CHECK_CHUNK):
            chunk = feeds[i : i + CHECK_CHUNK]
            records = self.db.mget([f"{NS}feed:{self.farm.urls[f]}" for f in chunk])
            for feed, record in zip(chunk, records, strict=True):
                if record is not None and _attempted_after(record, start):
                    pending.discard(feed)
                    requested.pop(feed, None)

    def _give_up(self, label: str, start: float, pending: set[int], log: Path) -> None:
        late = [self.farm.urls[f] for f in sorted(pending)[:3]]
        raise CycleTimeout(
            f"{label}: {len(self.farm.urls) - len(pending)} of {len(self.farm.urls)} feeds "
            f"polled after {time.time() - start:.0f} s; not polled, e.g. {late}; next polls: "
            f"{[self.db.zscore(NS + SCHEDULE, u) for u in late]}; records: "
            f"{[self.db.get(NS + 'feed:' + u) for u in late]}; worker log: {log}"
        )


def _attempted_after(record: bytes, start: float) -> bool:
    attempt = json.loads(record).get("last_attempt")
    return attempt is not None and datetime.fromisoformat(attempt).timestamp() >= start


@dataclass(frozen=True)
class Cycle:
    label: str
    kind: str  # cold, unchanged or mixed
    seconds: float
    polls: int
    worker_ms: float
    redis_ms: float
    check_ms: float
    rss: float
    requests: int
    not_modified: int

    @property
    def cpu_ms(self) -> float:
        return self.worker_ms + self.redis_ms

    def line(self, number: int) -> str:
        polls = self.polls or 1
        return (
            f"  {number:2d} {self.label:<31} {self.seconds:8.2f} s "
            f"{self.polls / self.seconds:7.0f} polls/s  CPU {self.cpu_ms / polls:6.2f} ms/poll "
            f"(worker {self.worker_ms / polls:5.2f} + Redis {self.redis_ms / polls:5.2f}; "
            f"check {self.check_ms:5.0f} ms)  "
            f"{self.requests:6d} requests, {self.not_modified:6d} 304  RSS {self.rss:5.0f} MB"
        )


@dataclass
class SizeFigures:
    size: int
    cycles: list[Cycle] = field(default_factory=list)
    bytes_per_feed: float | None = None
    ended: bool = True  # False when a cycle did not end

    @property
    def warm(self) -> list[Cycle]:
        return [c for c in self.cycles if c.kind != "cold"]

    @property
    def cold_s(self) -> float | None:
        return next((c.seconds for c in self.cycles if c.kind == "cold"), None)

    @property
    def unchanged_s(self) -> float | None:
        return next((c.seconds for c in self.cycles if c.kind == "unchanged"), None)

    @property
    def polls_per_s(self) -> float | None:
        warm = self.warm
        return sum(c.polls for c in warm) / sum(c.seconds for c in warm) if warm else None

    @property
    def cpu_per_poll(self) -> float | None:
        warm = self.warm
        return sum(c.cpu_ms for c in warm) / sum(c.polls for c in warm) if warm else None

    @property
    def rss_change(self) -> float | None:
        if len(self.cycles) < 2 or not self.cycles[0].rss:
            return None
        return (self.cycles[-1].rss - self.cycles[0].rss) / self.cycles[0].rss


def report_state(db: Redis, feeds: int) -> float:
    """What the state costs in Redis: in all and per feed, then by kind of key (a sample of each
    measured with MEMORY USAGE), so its growth with feeds and items can be told apart. Returns
    the bytes per feed."""
    used = int(db.info("memory")["used_memory"]) - int(db.info("memory")["used_memory_startup"])
    kinds: dict[str, list[bytes]] = {}
    for key in db.scan_iter(count=1000):
        kind = key.decode().removeprefix(NS).split(":", 1)[0]
        kinds.setdefault(kind, []).append(key)
    print(f"Redis: {used / 1e6:.1f} MB for {feeds} feeds, {used / feeds:.0f} bytes a feed")
    for kind, keys in sorted(kinds.items(), key=lambda item: -len(item[1])):
        sample = keys[:200]
        each = sum(db.memory_usage(k) or 0 for k in sample) / len(sample)
        print(f"  {kind:<32} {len(keys):7d} keys, about {each:9.0f} bytes each")
    return used / feeds


# --------------------------------------------------------------------------- runs


def worker_env(
    args: argparse.Namespace, redis_url: str, rules: Path, state: Path
) -> dict[str, str]:
    env = {
        "REDIS_URL": redis_url,
        "MONITOR_RULES": str(rules),
        "MONITOR_STATE_DIR": str(state),
        "MONITOR_ALLOWED_NETWORKS": "127.0.0.0/8",  # the publishers are on loopback
    }
    for option, name in SETTING_OPTIONS.items():
        value = getattr(args, option, None)
        if value is not None:
            env[f"MONITOR_{name.upper()}"] = str(value)
    return env


def settings_shown(env: dict[str, str]) -> str:
    return " ".join(
        f"{k}={v}" for k, v in sorted(env.items()) if k.startswith("MONITOR_") and "/" not in v
    )


def celery(queues: str, name: str, concurrency: int, *, beat: bool, threads: bool) -> list[str]:
    command = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-n", f"{name}@%h"]
    command += ["--queues", queues, "--concurrency", str(concurrency), "--loglevel", "INFO"]
    command += ["--pool", "threads"] if threads else []
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return command + (["--beat"] if beat else [])


def write_rules(folder: Path, urls: list[str], every: str, hook: str, rule: str) -> Path:
    (folder / "feeds.txt").write_text("".join(u + "\n" for u in urls), encoding="utf-8")
    rules = folder / "rules.yaml"
    rules.write_text(
        f"feed_lists:\n  - {{path: feeds.txt, every: {every}}}\n"
        f"entities:\n  nobody: [Jane Nobody]\nchannels:\n  desk: ['{hook}']\nrules:\n  - {rule}\n",
        encoding="utf-8",
    )
    return rules


def cycle_timeout(args: argparse.Namespace, size: int) -> float:
    return float(args.cycle_timeout) or 120.0 + 0.03 * size


def run_size(args: argparse.Namespace, size: int, baseline: bool) -> SizeFigures:
    """The cycles of one size (see the module docstring)."""
    figures = SizeFigures(size)
    made = time.perf_counter()
    farm = Farm(args.hosts, size, args.latency, args.items)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-polling-{size}-"))
    write_rules(
        tmp, farm.urls, "1h", "json://127.0.0.1:9/x",
        "{name: never, entities: {any: [nobody]}, notify: [desk]}",
    )  # fmt: skip
    setup = time.perf_counter() - made
    redis_server = RedisServer()
    try:
        return _cycles(args, figures, farm, redis_server, tmp, baseline, setup)
    finally:
        redis_server.stop()
        farm.stop()


def _cycles(
    args: argparse.Namespace,
    figures: SizeFigures,
    farm: Farm,
    redis_server: RedisServer,
    tmp: Path,
    baseline: bool,
    setup: float,
) -> SizeFigures:
    size = figures.size
    rng = random.Random(7)  # noqa: S311  (a reproducible mix)
    rules = tmp / "rules.yaml"
    db = redis_server.client()
    redis_pid = int(db.info("server")["process_id"])
    env = worker_env(args, redis_server.url, rules, tmp / "state")
    env["MONITOR_BEAT_INTERVAL"] = "0.2"
    env.update(args.env)
    print(
        f"\n== {size} feeds on {len(farm.publishers)} hosts, {args.items} items each "
        f"(publishers and rules made in {setup:.1f} s; log in {tmp})\n"
        f"   {settings_shown(env)}",
        flush=True,
    )
    log = tmp / "worker.log"
    completion = Completion(farm, db, args.latency, cycle_timeout(args, size))
    farm.reset()
    started = time.time()
    worker = CeleryWorker(
        env, log, command=celery("poll,deliver", "io", args.threads, beat=True, threads=True)
    )
    troubled: list[int] = []  # the slow and failing feeds of the last mixed cycle
    try:
        worker.wait_ready()
        before = sample(worker.process.pid, redis_pid, db)
        for number in range(1, args.cycles + 1):
            kind = "cold" if number == 1 else ("unchanged" if number % 2 == 0 else "mixed")
            label = {"cold": "cold", "unchanged": "nothing changed (304)"}.get(kind, "")
            for feed in troubled:  # well again
                farm.publish(feed)
            troubled = []
            if kind == "mixed":
                share = max(1, round(size * 0.01))
                chosen = rng.sample(range(size), 3 * share)
                for feed in chosen[:share]:
                    farm.new_item(feed)
                for feed in chosen[share : 2 * share]:
                    farm.publish(feed, delay=1.0)
                for feed in chosen[2 * share :]:
                    farm.publish(feed, status=500)
                troubled = chosen[share:]
                label = f"mixed ({share} each new/slow/500)"
            if kind != "cold":
                farm.reset()
                started = time.time()
                db.zadd(NS + SCHEDULE, dict.fromkeys(farm.urls, 0))
                before = sample(worker.process.pid, redis_pid, db)
            seconds = completion.wait(label, started, log, queued=farm.articles())
            after = sample(worker.process.pid, redis_pid, db)
            check_ms = (after.check_usec - before.check_usec) / 1000
            requests, not_modified = farm.counts()
            figures.cycles.append(
                Cycle(
                    label,
                    kind,
                    seconds,
                    size,
                    worker_ms=(after.worker - before.worker) * 1000 / CLOCK_TICK,
                    redis_ms=max(0.0, (after.redis - before.redis) * 1000 / CLOCK_TICK - check_ms),
                    check_ms=check_ms,
                    rss=rss_mb(worker.process.pid),
                    requests=requests,
                    not_modified=not_modified,
                )
            )
            print(figures.cycles[-1].line(number), flush=True)
    except CycleTimeout as exc:
        figures.ended = False
        print(f"  cycle did not end: {exc}", flush=True)
    finally:
        worker.stop()
    figures.bytes_per_feed = report_state(db, size)
    change = figures.rss_change
    print(
        f"size {size}: cold {_f(figures.cold_s, '.1f')} s, nothing changed "
        f"{_f(figures.unchanged_s, '.1f')} s, after the cold cycle {_f(figures.polls_per_s, '.0f')}"
        f" polls/s at {_f(figures.cpu_per_poll, '.2f')} CPU ms a poll, RSS first to last "
        f"{_f(None if change is None else 100 * change, '+.1f')} %"
        + ("" if figures.ended else f" (stopped after {len(figures.cycles)} cycles)"),
        flush=True,
    )
    if baseline and figures.ended:
        for feed in troubled:
            farm.publish(feed)
        naive_baseline(farm.urls[:100])
    return figures


def naive_baseline(urls: list[str]) -> None:
    pool = urllib3.PoolManager(maxsize=1)
    start = time.perf_counter()
    for url in urls:
        pool.request("GET", url)
    naive = time.perf_counter() - start
    print(
        f"naive baseline: {len(urls)} feeds one after the other, no conditional GET: {naive:.2f} s "
        f"({len(urls) / naive:.1f} req/s)",
        flush=True,
    )


def run_freshness(args: argparse.Namespace, size: int) -> float | None:
    """New items at a steady rate on feeds polled every minute, through polling, extraction
    and delivery to a webhook; returns the p95 of their latency (see the module docstring)."""
    rng = random.Random(11)  # noqa: S311  (reproducible picks)
    farm = Farm(args.hosts, size, args.latency, 0)
    webhook = WebhookSink()
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-freshness-{size}-"))
    rules = write_rules(
        tmp, farm.urls, "1m", webhook.apprise_url(),
        f"{{name: fresh, keywords: {{any: [{KEYWORD}]}}, notify: [desk]}}",
    )  # fmt: skip
    redis_server = RedisServer()
    db = redis_server.client()
    env = worker_env(args, redis_server.url, rules, tmp / "state")
    env["MONITOR_NEAR_DUPLICATE_DISTANCE"] = "-1"  # the new items' pages are alike
    env.update(args.env)
    total = round(args.freshness_seconds * args.freshness_rate)
    print(
        f"\n== freshness: {size} feeds on {len(farm.publishers)} hosts at every: 1m; {total} new "
        f"items, {args.freshness_rate:g} a second (logs in {tmp})\n   {settings_shown(env)}",
        flush=True,
    )
    workers: list[CeleryWorker] = []
    try:
        farm.reset()
        started = time.time()
        poll = celery("poll,deliver", "io", args.threads, beat=True, threads=True)
        extract = celery("extract", "cpu", 2, beat=False, threads=False)
        workers.append(CeleryWorker(env, tmp / "poll.log", command=poll))
        workers.append(CeleryWorker(env, tmp / "extract.log", command=extract))
        for worker in workers:
            worker.wait_ready()
        completion = Completion(farm, db, args.latency, cycle_timeout(args, size))
        cold = completion.wait("cold", started, tmp / "poll.log")
        print(f"cold turn: every feed polled in {cold:.1f} s; publishing", flush=True)
        published: dict[int, float] = {}
        begin = time.monotonic()
        for number in range(total):
            time.sleep(max(0.0, begin + number / args.freshness_rate - time.monotonic()))
            farm.add_fresh(rng.randrange(size), number)
            published[number] = time.monotonic()
        deadline = time.monotonic() + 2 * FRESH_EVERY + 30
        arrived: dict[int, float] = {}
        repeated = 0
        while time.monotonic() < deadline:
            arrived, repeated = _alerts(webhook)
            if len(arrived) >= total:
                break
            time.sleep(0.5)
        arrived, repeated = _alerts(webhook)
    except CycleTimeout as exc:
        print(f"freshness: the cold turn did not end: {exc}", flush=True)
        return None
    finally:
        for worker in workers:
            worker.stop()
        redis_server.stop()
        webhook.stop()
        farm.stop()
    waits = sorted(arrived[n] - published[n] for n in arrived if n in published)
    # An item whose alert never came counts as later than any: it weighs on the percentiles.
    every = waits + [math.inf] * (total - len(waits))
    p50, p95 = percentile(every, 50), percentile(every, 95)
    print(
        f"freshness: {len(waits)} of {total} alerts arrived; appearance to alert p50 "
        f"{p50:.1f} s, p95 {p95:.1f} s, max {_f(waits[-1] if waits else None, '.1f')} s; "
        f"{repeated} alerted more than once",
        flush=True,
    )
    return p95


def percentile(values: list[float], percent: float) -> float:
    """The nearest-rank percentile of sorted ``values`` (inf when they are empty)."""
    if not values:
        return math.inf
    return values[max(0, math.ceil(percent / 100 * len(values)) - 1)]


def _alerts(webhook: WebhookSink) -> tuple[dict[int, float], int]:
    """The first alert for each new item (by its number) and when it came; how many came
    again."""
    first: dict[int, float] = {}
    repeated = 0
    for post in list(webhook.received):
        found = FRESH_LINK.search(post["body"].decode("utf-8", "replace").replace("\\/", "/"))
        if found is None:
            continue
        number = int(found.group(1))
        if number in first:
            repeated += 1
        else:
            first[number] = post["at"]
    return first, repeated


# --------------------------------------------------------------------------- the summary


def _f(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def summary(all_sizes: list[SizeFigures], p95: float | None) -> None:
    print(
        "\nsize     cold s  unchanged s  polls/s  CPU ms/poll  x first  Redis B/feed  RSS change %"
    )
    first = next((s.cpu_per_poll for s in all_sizes if s.cpu_per_poll), None)
    for s in all_sizes:
        ratio = s.cpu_per_poll / first if s.cpu_per_poll and first else None
        change = None if s.rss_change is None else 100 * s.rss_change
        print(
            f"{s.size:<8} {_f(s.cold_s, '6.1f'):>6}  {_f(s.unchanged_s, '11.1f'):>11}  "
            f"{_f(s.polls_per_s, '7.0f'):>7}  {_f(s.cpu_per_poll, '11.2f'):>11}  "
            f"{_f(ratio, '7.2f'):>7}  {_f(s.bytes_per_feed, '12.0f'):>12}  "
            f"{_f(change, '+12.1f'):>12}" + ("" if s.ended else "  (a cycle did not end)")
        )
    print("floors (shown, not asserted):")
    by_size = {s.size: s for s in all_sizes}
    low, high = by_size.get(1000, all_sizes[0]), by_size.get(100_000, all_sizes[-1])
    if high is not low and low.cpu_per_poll and high.cpu_per_poll:
        ratio = high.cpu_per_poll / low.cpu_per_poll
        print(
            f"  CPU ms/poll at {high.size} / at {low.size}: {ratio:.2f} (floor: at most 1.25 "
            f"at 100000 / 1000){_meets(ratio <= 1.25)}"
        )
    if high.unchanged_s is not None:
        print(
            f"  nothing-changed cycle at {high.size}: {high.unchanged_s:.1f} s (floor: at most 400"
            f" s at 100000){_meets(high.unchanged_s <= 400)}"
        )
    for s in all_sizes:
        if s.rss_change is not None:
            flat = abs(s.rss_change) <= 0.05
            print(
                f"  RSS over the {len(s.cycles)} cycles at {s.size}: {100 * s.rss_change:+.1f} % "
                f"(floor: within 5 %){_meets(flat)}"
            )
    if p95 is not None:
        limit = FRESH_EVERY + 10
        print(f"  freshness p95: {p95:.1f} s (floor: at most {limit:.0f} s){_meets(p95 <= limit)}")


def _meets(ok: bool) -> str:
    return ": meets it" if ok else ": MISSES it"


# --------------------------------------------------------------------------- options


def _sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("feed counts, comma-separated: 1000,10000")
    return sizes


def _assignment(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError("KEY=VALUE, e.g. MONITOR_POLL_CONCURRENCY=400")
    return key, value


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=_sizes, default=[1000, 10000], help="feeds, e.g. 1000,10000,100000"
    )
    parser.add_argument(
        "--cycles", type=int, default=10, help="cycles per size, the cold one included"
    )
    parser.add_argument(
        "--hosts", type=int, default=200, help=f"publishers, 127.0.0.2 on (at most {MAX_HOSTS})"
    )
    parser.add_argument("--items", type=int, default=10, help="items in each feed")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds before each answer")
    parser.add_argument(
        "--threads", type=int, default=16, help="the poll worker's pool of threads (as deployed)"
    )
    parser.add_argument(
        "--cycle-timeout", type=float, default=0.0, help="seconds; 0: 120 + 0.03 a feed"
    )
    parser.add_argument(
        "--freshness", type=int, default=10000, help="feeds of the freshness run; 0 skips it"
    )
    parser.add_argument(
        "--freshness-seconds", type=float, default=300.0, help="how long new items appear"
    )
    parser.add_argument("--freshness-rate", type=float, default=1.0, help="new items a second")
    parser.add_argument(
        "--env",
        type=_assignment,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for the workers (repeatable); wins over the options",
    )
    fields = Settings.model_fields
    for option, name in SETTING_OPTIONS.items():
        if name in fields:  # a setting since removed is no longer offered
            parser.add_argument(
                f"--{option.replace('_', '-')}", type=int, default=fields[name].default,
                help=f"MONITOR_{name.upper()} (default: the setting's)",
            )  # fmt: skip
    args = parser.parse_args()
    if not 1 <= args.hosts <= MAX_HOSTS:
        parser.error(f"--hosts: 1 to {MAX_HOSTS} (127.0.0.2 to 127.0.0.254)")
    if args.cycles < 1 or args.items < 1 or args.freshness_rate <= 0:
        parser.error("--cycles, --items and --freshness-rate must be positive")
    args.env = dict(args.env)
    return args


def main() -> None:
    args = options()
    figures: list[SizeFigures] = []
    for i, size in enumerate(args.sizes):
        figures.append(run_size(args, size, baseline=i == 0))
    p95 = run_freshness(args, args.freshness) if args.freshness > 0 else None
    summary(figures, p95)


if __name__ == "__main__":
    main()
