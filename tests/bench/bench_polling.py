"""Polling at scale through the real Celery worker and Redis, against loopback publishers that
answer each request after 100 ms, as distant ones would.

    .venv/bin/python tests/bench/bench_polling.py            # 1,000 feeds, 20 mixed cycles

1,000 feeds on 50 hosts (127.0.0.2 to 127.0.0.51, 20 feeds each, with ETag and Last-Modified).
The first cycle starts with the worker (no feed has been polled); each later one is forced by
making every feed due in the poll schedule once the previous cycle ended. A cycle ends when every feed's
health record shows an attempt after it began. Printed: the cold cycle, a cycle where nothing changed (all
304), then mixed cycles (10% with a new item, 5% slow (+1 s), 5% failing), with requests/s,
bytes saved by conditional GET, and the worker's resident memory (main process and children)
after each cycle; then the naive baseline: 100 of the feeds fetched one after the other with
no conditional GET. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import urllib3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.ingest.schedule import SCHEDULE  # noqa: E402
from monitor.settings import Settings  # noqa: E402
from tests.support.feeds import rss  # noqa: E402
from tests.support.publisher import Publisher  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.worker import CeleryWorker  # noqa: E402

NS = "monitor:"
ARTICLE = "<html><body><article><h1>Weather</h1><p>" + "Rain today. " * 60 + "</p></article>"


def feed_body(host: str, port: int, feed: int, version: int) -> str:
    items = [
        {"title": f"story {feed}-{v}", "link": f"http://{host}:{port}/a/{feed}-{v}.html"}
        for v in range(version, version + 10)
    ]
    return rss(items, title=f"feed {feed}")


def report_state(db: Any, feeds: int) -> None:
    """What the state costs in Redis: in all and per feed, then by kind of key (a sample of each
    measured with MEMORY USAGE), so its growth with feeds and items can be told apart."""
    used = db.info("memory")["used_memory"] - db.info("memory")["used_memory_startup"]
    kinds: dict[str, list[bytes]] = {}
    for key in db.scan_iter(count=1000):
        kind = key.decode().removeprefix(NS).split(":", 1)[0]
        kinds.setdefault(kind, []).append(key)
    print(f"Redis: {used / 1e6:.1f} MB for {feeds} feeds, {used / feeds:.0f} bytes a feed")
    for kind, keys in sorted(kinds.items(), key=lambda item: -len(item[1])):
        sample = keys[:200]
        each = sum(db.memory_usage(k) or 0 for k in sample) / len(sample)
        print(f"  {kind:<16} {len(keys):7d} keys, about {each:6.0f} bytes each")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, in MB."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS"))
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--feeds-per-host", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--cycle-timeout", type=float, default=60.0)
    defaults = Settings.model_fields
    parser.add_argument("--threads", type=int, default=defaults["poll_threads"].default)
    parser.add_argument("--batch", type=int, default=defaults["poll_batch"].default)
    parser.add_argument("--per-host", type=int, default=defaults["per_host_concurrency"].default)
    args = parser.parse_args()
    rng = random.Random(7)  # noqa: S311  (a reproducible mix)

    publishers = [Publisher(f"127.0.0.{2 + h}", latency=args.latency) for h in range(args.hosts)]
    feeds: list[tuple[Publisher, str, int]] = []
    for p in publishers:
        for _ in range(args.feeds_per_host):
            n = len(feeds)
            feeds.append((p, f"/feed/{n}.xml", n))
    versions = dict.fromkeys(range(len(feeds)), 0)

    def publish(index: int, **extra: object) -> str:
        p, path, n = feeds[index]
        for v in range(versions[index], versions[index] + 10):
            p.serve(f"/a/{n}-{v}.html", ARTICLE, content_type="text/html; charset=utf-8")
        return p.serve(
            path,
            feed_body(p.host, p.port, n, versions[index]),
            etag=f'"{n}-{versions[index]}"',
            last_modified="Tue, 24 Nov 2026 10:00:00 GMT",
            **extra,
        )

    urls = [publish(i) for i in range(len(feeds))]
    tmp = Path(tempfile.mkdtemp(prefix="bench-polling-"))
    rules = tmp / "rules.yaml"
    rules.write_text(
        "feeds:\n"
        + "".join(f"  - url: {u}\n    every: 1h\n" for u in urls)
        + "entities:\n  nobody: [Jane Nobody]\nchannels:\n  desk: ['json://127.0.0.1:9/x']\n"
        "rules:\n  - {name: never, entities: {any: [nobody]}, notify: [desk]}\n",
        encoding="utf-8",
    )
    redis_server = RedisServer()
    db = redis_server.client()
    env = {
        "REDIS_URL": redis_server.url,
        "MONITOR_RULES": str(rules),
        "MONITOR_STATE_DIR": str(tmp / "state"),
        "MONITOR_BEAT_INTERVAL": "0.2",
        "MONITOR_ALLOWED_NETWORKS": "127.0.0.0/8",  # the publishers are on loopback
        "MONITOR_POLL_THREADS": str(args.threads),
        "MONITOR_POLL_BATCH": str(args.batch),
        "MONITOR_PER_HOST_CONCURRENCY": str(args.per_host),
    }
    keys = [f"{NS}feed:{u}" for u in urls]

    def cycle(label: str, start: float | None = None) -> None:
        """Wait until every feed was polled after ``start``; without one, force a cycle now
        (the previous cycle has ended: each poll writes the feed's next time before its
        record)."""
        if start is None:
            for p in publishers:
                p.reset_counts()
            start = time.time()
            db.zadd(NS + SCHEDULE, dict.fromkeys(urls, 0))
        began = datetime.fromtimestamp(start, UTC).isoformat()
        while True:
            records = db.mget(keys)
            done = sum(
                1 for r in records if r is not None and json.loads(r)["last_attempt"] >= began
            )
            if done == len(urls):
                break
            if time.time() - start > args.cycle_timeout:
                late = [u for u, r in zip(urls, records, strict=True)
                        if r is None or json.loads(r)["last_attempt"] < began]  # fmt: skip
                raise SystemExit(
                    f"{label}: {done} of {len(urls)} feeds polled after {args.cycle_timeout:.0f} s"
                    f"; not polled, e.g. {late[:3]}; next polls: {[db.zscore(NS + SCHEDULE, u) for u in late[:3]]}"
                    f"; records: {[db.get(NS + 'feed:' + u) for u in late[:3]]}; log: {tmp}"
                )
            time.sleep(0.02)
        elapsed = time.time() - start
        requests = sum(len(p.requests) for p in publishers)
        sent = sum(p.bytes_sent for p in publishers)
        full = sum(p.bytes_full for p in publishers)
        saved = 1 - sent / full if full else 0.0
        print(
            f"{label:<22} {elapsed:6.2f} s  {requests / elapsed:7.0f} req/s  "
            f"{requests:5d} requests  bytes saved {saved:6.1%}  "
            f"worker RSS {rss_mb(worker.process.pid):6.0f} MB",
            flush=True,
        )

    # A poll worker, as deployed (README: roles for containers): extraction has its own
    # workers, so the articles the polls queue wait in Redis and do not compete here.
    command = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--beat"]
    command += ["--queues", "poll", "--concurrency", "2", "--loglevel", "INFO"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    worker = CeleryWorker(env, tmp / "worker.log", command=command)
    try:
        # The first cycle is the worker's own: no feed has a slot yet, so all are due at once.
        started = time.time()
        worker.wait_ready()
        cycle("first cycle (cold)", started)
        cycle("nothing changed (304)")
        for c in range(args.cycles):
            for i in range(len(feeds)):
                roll = rng.random()
                if roll < 0.10:
                    versions[i] += 1
                    publish(i)
                elif roll < 0.15:
                    publish(i, delay=1.0)
                elif roll < 0.20:
                    publish(i, status=500)
                else:
                    publish(i)
            cycle(f"mixed {c + 1}")
        worker.stop()
        report_state(db, len(urls))

        for i in range(len(feeds)):
            publish(i)
        pool = urllib3.PoolManager(maxsize=1)
        start = time.perf_counter()
        for url in urls[:100]:
            pool.request("GET", url)
        naive = time.perf_counter() - start
        print(
            f"naive baseline: 100 feeds sequential, no conditional GET: {naive:.2f} s "
            f"({100 / naive:.1f} req/s; 1,000 feeds would take about {naive * 10:.0f} s)"
        )
    finally:
        worker.stop()
        redis_server.stop()
        for p in publishers:
            p.stop()


if __name__ == "__main__":
    main()
