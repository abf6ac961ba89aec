"""The cost of one beat tick (``due_feeds``) and of the per-poll feed lookup as the number of
feeds grows, on a private loopback redis-server (or the embedded SQLite store), against the
code before the schedule index, kept here as the baseline.

    .venv/bin/python tests/bench/bench_schedule.py                      # 1,000 / 10,000 / 50,000
    .venv/bin/python tests/bench/bench_schedule.py --backend sqlite --feeds 1000 10000

For each size, feeds spread over 50 hosts with ``every: 1h``, all recently polled: a tick where
none is due, then one where 1% is due, each timed as wall time, this process's CPU and (Redis)
the server's CPU, the median of ``--ticks``. The baseline ticks claim a ``slot:<url>`` per feed
(the old ``due_feeds``); the new ones take from the schedule. Also timed: the first tick of
the new code (the schedule made from the rules: a rules change or a lost store costs this
once) and a feed's lookup by URL on the poll path. Figures are printed, nothing is asserted;
not part of the test run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.context import Context, now_iso, open_context  # noqa: E402
from monitor.ingest.polling import due_feeds  # noqa: E402
from monitor.ingest.schedule import SCHEDULE, feed_table  # noqa: E402
from monitor.settings import Settings  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

HOSTS = 50
EVERY = 3600.0
OLD_LEASE = 300.0


# ------------------------------------------------------------------ the code before, as baseline


def old_due_feeds(ctx: Context) -> list[str]:
    """``due_feeds`` before the schedule: one claim of ``slot:<url>`` per feed per tick."""
    return [
        feed.url
        for feed in ctx.rules.feeds
        if ctx.store.claim(
            f"slot:{feed.url}", max(OLD_LEASE, feed.every.total_seconds()), {"at": now_iso()}
        )
    ]


def old_every(ctx: Context, url: str) -> float:
    """The poll path's lookup of a feed's interval before: a scan of the rules' feeds."""
    for feed in ctx.rules.feeds:
        if feed.url == url:
            return feed.every.total_seconds()
    return 300.0


def old_make_due(ctx: Context, urls: list[str]) -> None:
    for url in urls:
        ctx.store.delete(f"slot:{url}")  # an expired slot is a due feed


def new_make_due(ctx: Context, urls: list[str]) -> None:
    ctx.store.schedule(SCHEDULE, dict.fromkeys(urls, time.time() - 1))


def new_all_polled(ctx: Context, urls: list[str]) -> None:
    """What the polls of every feed leave: each feed's next time an interval ahead."""
    ctx.store.schedule(SCHEDULE, dict.fromkeys(urls, time.time() + EVERY))


# ------------------------------------------------------------------ measuring


@dataclass(frozen=True)
class Cost:
    wall: float
    cpu: float
    server_cpu: float | None
    feeds: int

    def __str__(self) -> str:
        server = "" if self.server_cpu is None else f"  server CPU {self.server_cpu * 1000:9.2f} ms"
        return (
            f"{self.wall * 1000:9.2f} ms wall  CPU {self.cpu * 1000:9.2f} ms{server}"
            f"  ({self.feeds} due)"
        )


class Backend:
    """A fresh store per size: a private redis-server flushed, or a new SQLite file."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.redis = RedisServer() if kind == "redis" else None

    def settings(self, state_dir: Path) -> Settings:
        if self.redis is not None:
            self.redis.flush()
        return Settings(redis_url=self.redis.url if self.redis else None, state_dir=state_dir)

    def server_cpu(self) -> float | None:
        if self.redis is None:
            return None
        with self.redis.client() as client:
            cpu = client.info("cpu")
        return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()


def measure(backend: Backend, tick: Callable[[], list[str]]) -> Cost:
    server_before = backend.server_cpu()
    cpu, wall = time.process_time(), time.perf_counter()
    due = tick()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    server_after = backend.server_cpu()
    server = None if server_before is None or server_after is None else server_after - server_before
    return Cost(wall, cpu, server, len(due))


def median_cost(costs: list[Cost]) -> Cost:
    servers = [c.server_cpu for c in costs if c.server_cpu is not None]
    return Cost(
        statistics.median(c.wall for c in costs),
        statistics.median(c.cpu for c in costs),
        statistics.median(servers) if servers else None,
        costs[0].feeds,
    )


def ticks(
    backend: Backend,
    tick: Callable[[], list[str]],
    before_each: Callable[[], None],
    count: int,
) -> Cost:
    costs = []
    for _ in range(count):
        before_each()
        costs.append(measure(backend, tick))
    return median_cost(costs)


@contextmanager
def context_with_feeds(backend: Backend, count: int) -> Iterator[tuple[Context, list[str]]]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-schedule-"))
    urls = [f"http://feeds{i % HOSTS}.example/{i}.xml" for i in range(count)]
    rules = tmp / "rules.yaml"
    rules.write_text(
        "feeds:\n" + "".join(f"  - url: {url}\n    every: 1h\n" for url in urls), encoding="utf-8"
    )
    ctx = open_context(backend.settings(tmp / "state"), rules)
    try:
        yield ctx, urls
    finally:
        ctx.close()


def ratio(old: Cost, new: Cost) -> str:
    return f"{old.wall / new.wall:8.0f}x wall, {old.cpu / max(new.cpu, 1e-9):6.0f}x CPU"


def lookup_cost(lookup: Callable[[str], float], urls: list[str]) -> float:
    """Seconds per lookup, over the last 100 feeds (the old scan's worst case)."""
    sample = urls[-100:]
    start = time.perf_counter()
    for url in sample:
        lookup(url)
    return (time.perf_counter() - start) / len(sample)


def bench_size(backend: Backend, count: int, repeat: int) -> None:
    with context_with_feeds(backend, count) as (ctx, urls):
        some = urls[::100]  # 1% due
        old_due_feeds(ctx)  # the first tick claims every slot: all feeds recently polled
        old_idle = ticks(backend, lambda: old_due_feeds(ctx), lambda: None, repeat)
        old_some = ticks(
            backend, lambda: old_due_feeds(ctx), lambda: old_make_due(ctx, some), repeat
        )

        first = measure(backend, lambda: due_feeds(ctx))  # reconcile: every feed due at once
        new_all_polled(ctx, urls)
        new_idle = ticks(backend, lambda: due_feeds(ctx), lambda: None, repeat)
        new_some = ticks(backend, lambda: due_feeds(ctx), lambda: new_make_due(ctx, some), repeat)

        table = feed_table(ctx.rules)
        old_lookup = lookup_cost(lambda url: old_every(ctx, url), urls)
        new_lookup = lookup_cost(lambda url: feed_table(ctx.rules).every(url), urls)
        assert table.every(urls[-1]) == old_every(ctx, urls[-1])

    print(f"{count:,} feeds ({backend.kind})", flush=True)
    print(f"  none due   before {old_idle}")
    print(f"             after  {new_idle}   {ratio(old_idle, new_idle)}")
    print(f"  1% due     before {old_some}")
    print(f"             after  {new_some}   {ratio(old_some, new_some)}")
    print(f"  first tick after a rules change (all due)  {first}")
    print(
        f"  feed lookup per poll  before {old_lookup * 1e6:9.1f} µs  after "
        f"{new_lookup * 1e6:6.2f} µs  {old_lookup / new_lookup:8.0f}x",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["redis", "sqlite"], default="redis")
    parser.add_argument("--feeds", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    parser.add_argument("--ticks", type=int, default=3, help="ticks per figure (the median)")
    args = parser.parse_args()
    backend = Backend(args.backend)
    try:
        for count in args.feeds:
            bench_size(backend, count, args.ticks)
    finally:
        backend.stop()


if __name__ == "__main__":
    main()
