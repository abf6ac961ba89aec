"""The worker's threads share two malloc arenas (``tasks.signals``): with one arena a thread,
its resident memory crept up poll after poll while the memory in use stayed flat."""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import pytest

from tests.support.feeds import rss
from tests.support.servers import SiteServer
from tests.support.worker import CeleryWorker

FEEDS, THREADS = 16, 8
HEAP = 64 << 20  # glibc's HEAP_MAX_SIZE on 64-bit: every arena but the main one is such a heap

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or sys.maxsize < 2**32, reason="glibc's arenas, 64-bit"
)


def arena_heaps(pid: int) -> int:
    """The malloc arenas of a process besides the main one: anonymous mappings that start on a
    64 MiB boundary and, with the reserved rest that follows, span 64 MiB."""
    maps = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split()
        start, end = (int(x, 16) for x in fields[0].split("-"))
        maps.append((start, end, fields[1], len(fields) > 5))
    heaps = 0
    for (start, end, perms, named), following in zip(maps, [*maps[1:], None], strict=True):
        if named or perms != "rw-p" or start % HEAP:
            continue
        reserved_end = following[1] if following and following[:1] == (end,) else end
        heaps += reserved_end - start == HEAP
    return heaps


def test_the_workers_threads_share_two_malloc_arenas(
    tmp_path: Path, redis_url: str, site: SiteServer
) -> None:
    urls = [
        site.route(
            f"/{i}.xml",
            rss([{"title": "t", "link": site.url(f"/{i}.html")}]),  # new: logged at INFO
            content_type="application/rss+xml",
            delay=0.5,
        )
        for i in range(FEEDS)
    ]
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "feeds:\n" + "".join(f"  - {{url: '{u}', every: 1h}}\n" for u in urls) + "rules: []\n",
        encoding="utf-8",
    )
    env = {
        "REDIS_URL": redis_url,
        "MONITOR_RULES": str(rules),
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_BEAT_INTERVAL": "0.5",
        "MONITOR_POLL_BATCH": "1",  # a task a feed: the threads poll at once
    }
    command = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "threads"]
    command += ["--concurrency", str(THREADS), "--queues", "poll", "--beat", "--loglevel", "INFO"]
    with CeleryWorker(env, tmp_path / "worker.log", command=command) as worker:
        deadline = time.monotonic() + 60
        while worker.log().count("feed polled:") < FEEDS:
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.1)
        heaps = arena_heaps(worker.process.pid)
    assert heaps == 1  # two arenas: the main one and one the threads share
