"""Two workers on one Redis share the polling: no feed polled twice in one turn, and the feeds
of a batch lost with a killed worker polled again once their lease ends. (The lease must
exceed the longest a poll waits in the queue: here a few seconds; 5 minutes by default.)"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from itertools import pairwise
from pathlib import Path

from tests.support.feeds import rss
from tests.support.servers import SiteServer
from tests.support.worker import CeleryWorker

EVERY, LEASE, ANSWER_AFTER = 3.0, 6.0, 0.5
TASK = re.compile(r"Task monitor\.poll_feeds\[([0-9a-f-]+)\] (received|succeeded)")


def poll_tasks(worker: CeleryWorker) -> dict[str, str]:
    """The poll tasks a worker took, by id: "received" until it finished them."""
    tasks: dict[str, str] = {}
    for line in worker.log().splitlines():
        if line.startswith("{") and (found := TASK.search(json.loads(line)["message"])):
            tasks[found[1]] = found[2]
    return tasks


def wait_until(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_workers_poll_each_feed_once_a_turn_and_a_killed_one_loses_no_feed(
    tmp_path: Path, redis_url: str, site: SiteServer
) -> None:
    paths = [f"/{i}.xml" for i in range(12)]
    feed = rss([{"title": "t", "link": site.url("/a.html")}])
    urls = [
        site.route(path, feed, content_type="application/rss+xml", delay=ANSWER_AFTER)
        for path in paths
    ]
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "feeds:\n"
        + "".join(f"  - {{url: '{u}', every: {EVERY:g}s}}\n" for u in urls)
        + "rules: []\n",
        encoding="utf-8",
    )
    env = {
        "REDIS_URL": redis_url,
        "MONITOR_RULES": str(rules),
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_BEAT_INTERVAL": "0.5",
        "MONITOR_POLL_LEASE": str(LEASE),
        "MONITOR_POLL_BATCH": "1",  # a task a feed: both workers get some
        "MONITOR_LOG_JSON": "true",
        "MONITOR_LOG_LEVEL": "DEBUG",  # the lines for each task taken and finished
    }
    with (
        CeleryWorker(env, tmp_path / "a.log", concurrency=1) as first,
        CeleryWorker(env, tmp_path / "b.log", concurrency=1, beat=False) as second,
    ):
        time.sleep(4 * EVERY)
        assert poll_tasks(first) and poll_tasks(second)  # both took their share
        # Killed while it holds a poll, as a crash or an eviction would.
        wait_until(lambda: "received" in poll_tasks(second).values(), timeout=30)
        os.killpg(second.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        time.sleep(EVERY + LEASE + 2 * ANSWER_AFTER + 1)
    for path in paths:
        arrived = site.arrivals(path)
        # Never twice in one turn: the next poll waits its interval, less the 10 % jitter.
        assert all(later - earlier >= 0.9 * EVERY - 0.2 for earlier, later in pairwise(arrived)), (
            path
        )
        # None lost: each was polled after the lease of a batch that died with the worker.
        assert max(arrived) > killed + ANSWER_AFTER, path
