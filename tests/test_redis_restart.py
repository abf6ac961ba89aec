"""Redis restarted in the middle of a batch (as compose runs it: AOF, appendfsync everysec):
the worker reconnects, and every alert arrives once, none missing."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from tests.support.feeds import rss
from tests.support.files import SEED
from tests.support.redis_server import RedisServer
from tests.support.servers import SiteServer, WebhookSink
from tests.support.worker import CeleryWorker

STORIES = 6


def test_a_redis_restart_mid_batch_loses_and_repeats_nothing(
    tmp_path: Path, site: SiteServer, webhook: WebhookSink
) -> None:
    links = [site.route(f"/s{i}.html", SEED.read_bytes(), delay=0.7) for i in range(STORIES)]
    feed = site.route(
        "/feed.xml",
        rss([{"title": f"story {i}", "link": link} for i, link in enumerate(links)]),
        content_type="application/rss+xml",
    )
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        f"feeds:\n  - url: {feed}\n    every: 1s\nentities:\n  musk: [ماسك]\n"
        f"channels:\n  hook: ['{webhook.apprise_url()}']\n"
        "rules:\n  - name: musk\n    entities: {any: [musk]}\n    notify: [hook]\n",
        encoding="utf-8",
    )
    with RedisServer(appendonly=True) as redis_server:
        env = {
            "REDIS_URL": redis_server.url,
            "MONITOR_RULES": str(rules),
            "MONITOR_STATE_DIR": str(tmp_path / "state"),
            "MONITOR_BEAT_INTERVAL": "0.5",
            "MONITOR_NEAR_DUPLICATE_DISTANCE": "-1",  # the copies of the seed are distinct stories
            # Messages lost with the restart come back by the poll that re-queues articles left
            # unprocessed and the sweep that re-queues overdue alerts; in production after
            # minutes, here after seconds.
            "MONITOR_REQUEUE_AFTER": "8",
            "MONITOR_DELIVERY_STALE_AFTER": "6",
            # A delivery cut off by the restart keeps its lease until it expires.
            "MONITOR_DELIVERY_LEASE": "10",
        }
        with CeleryWorker(env, tmp_path / "worker.log", concurrency=2) as worker:
            deadline = time.monotonic() + 60
            while sum(site.hits(f"/s{i}.html") for i in range(STORIES)) < 2:
                assert time.monotonic() < deadline, worker.log()
                time.sleep(0.05)
            time.sleep(1.2)  # appendfsync everysec: let the queued messages reach the disk
            redis_server.restart()  # pages are being fetched, messages wait in the queue
            assert len(webhook.received) < STORIES, "the batch finished before the restart"
            webhook.wait_for(STORIES, timeout=120)
            time.sleep(2.0)  # anything sent twice would arrive by now
            log = worker.log()
    per_story = Counter(
        link for post in webhook.received for link in links if link in post["json"]["message"]
    )
    assert per_story == dict.fromkeys(links, 1), log[-3000:]
    assert "Connection to broker lost" in log  # the restart did reach the worker
