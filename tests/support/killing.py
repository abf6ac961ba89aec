"""The kill scenario: deliveries in flight through the real worker, the worker's process group
killed with SIGKILL, a new worker started; then what each sink received is counted per
(rule, article, target). Used by tests/test_kill.py (one kill) and tests/bench/bench_kill.py.

A kill that lands after a target accepted an alert and before the store recorded it makes the
alert go out again (see ``monitor.alerts.delivery``). Right after each kill, with every worker
dead, the store is frozen: the alerts a sink already has while the store says ``pending`` are
the ones caught in that window, and each must be the only reason for a repeat on the wire. Every
repeat carries its first copy's idempotency key (``monitor.alerts.send``), so a receiver that
honours the key shows it once: as the analyst sees it, each alert arrives exactly once when
every (rule, article, target) arrived under one key and one key only.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from monitor.store import RedisStore
from tests.support.alerting import RULES_FIRED, rules_yaml, serve_articles
from tests.support.mail import SmtpSink
from tests.support.servers import SiteServer, WebhookSink, _ThreadedHTTP, _WebhookHandler
from tests.support.worker import CeleryWorker


class _SlowHandler(_WebhookHandler):
    """Answers each POST after a delay, and accepts it only if the client is still there,
    as a target that commits when it answers does: a sender killed mid-request sent nothing."""

    def do_POST(self) -> None:
        sink = cast(SlowWebhook, self.server.owner)
        body = self.read_body()
        with sink._lock:
            sink.in_flight += 1
        try:
            time.sleep(sink.delay)
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable and self.connection.recv(1, socket.MSG_PEEK) == b"":
                with sink._lock:
                    sink.abandoned += 1
                return
            status = sink._record(self.path, dict(self.headers.items()), body)
            self.send_plain(status, b"ok")
        finally:
            with sink._lock:
                sink.in_flight -= 1


class SlowWebhook(WebhookSink):
    """A webhook sink whose answers take ``delay`` seconds, so deliveries are in flight."""

    def __init__(self, delay: float) -> None:
        self.received = []
        self.failed = []
        self.down = False
        self._fail_count = 0
        self._fail_status = 500
        self.delay = delay
        self.in_flight = 0
        self.abandoned = 0
        _ThreadedHTTP.__init__(self, _SlowHandler)


@dataclass
class KillFigures:
    expected: int
    sent: int  # messages the sinks received, repeats included
    repeats: int  # messages received again under a key already received
    duplicates: int  # extra keys for one (rule, article, target): repeats a key cannot undo
    lost: int
    kills: int
    abandoned: int
    in_window: int  # alerts a kill caught after the target accepted, before the store recorded


def caught_in_window(redis_url: str, smtp: SmtpSink, webhook: WebhookSink) -> set[str]:
    """Alerts a sink has while the (frozen, all workers dead) store still says pending."""
    got = received(smtp, webhook)
    store = RedisStore(redis_url)
    try:
        records = [store.get(key) for key in store.keys("alert:")]
    finally:
        store.close()
    kinds = {0: "mail", 1: "hook"}
    return {
        r["id"]
        for r in records
        if r is not None
        and r["status"] == "pending"
        and got.get(f"{kinds[r['target']]} [{r['rule']}] {r['title']}")
    }


def received(smtp: SmtpSink, webhook: WebhookSink) -> dict[str, Counter[str]]:
    """For each (rule, article, target) received, how often each idempotency key came."""
    got: dict[str, Counter[str]] = defaultdict(Counter)
    for m in smtp.messages:
        got[f"mail {m['Subject']}"][str(m["Message-ID"])] += 1
    for p in webhook.received:
        got[f"hook {p['json']['title']}"][p["headers"].get("Idempotency-Key", "")] += 1
    return got


def count_received(smtp: SmtpSink, webhook: WebhookSink) -> int:
    return sum(sum(keys.values()) for keys in received(smtp, webhook).values())


def run_kill_scenario(
    tmp_path: Path,
    redis_url: str,
    site: SiteServer,
    smtp: SmtpSink,
    webhook: SlowWebhook,
    *,
    articles: int = 6,
    kills: int = 1,
    settle: float = 90.0,
) -> KillFigures:
    serve_articles(site, articles)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        rules_yaml([site.url("/feed.xml")], [smtp.apprise_url(), webhook.apprise_url()]),
        encoding="utf-8",
    )
    env = {
        "REDIS_URL": redis_url,
        "MONITOR_RULES": str(rules),
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_BEAT_INTERVAL": "0.5",
        "MONITOR_ALLOW_PRIVATE_NETWORKS": "1",
        "MONITOR_NEAR_DUPLICATE_DISTANCE": "-1",  # the copies of the seed are distinct stories
        # A killed worker's lease and its lost message must not hold alerts for minutes here.
        "MONITOR_DELIVERY_LEASE": str(webhook.delay + 5),
        "MONITOR_DELIVERY_STALE_AFTER": "4",
    }
    expected = articles * len(RULES_FIRED) * 2
    survived = 0
    in_window: set[str] = set()  # an alert still pending at the next kill is counted once
    for round_ in range(kills + 1):
        worker = CeleryWorker(env, tmp_path / f"worker-{round_}.log", concurrency=4)
        worker.wait_ready()
        if round_ == kills:
            deadline = time.monotonic() + settle
            while count_received(smtp, webhook) < expected:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            time.sleep(2.0)  # room for anything sent twice to arrive
            worker.stop()
            break
        # Kill while deliveries are in flight, before everything went out.
        deadline = time.monotonic() + 60
        while not (webhook.in_flight > 0 and len(webhook.received) >= round_ + 1):
            if time.monotonic() > deadline:
                raise AssertionError(f"no delivery in flight:\n{worker.log()}")
            time.sleep(0.05)
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait()
        worker.stop()
        survived += 1
        time.sleep(webhook.delay + 0.5)  # the cut-off requests' handlers finish deciding
        in_window |= caught_in_window(redis_url, smtp, webhook)
    got = received(smtp, webhook)
    return KillFigures(
        expected=expected,
        sent=count_received(smtp, webhook),
        repeats=sum(n - 1 for keys in got.values() for n in keys.values()),
        duplicates=sum(len(keys) - 1 for keys in got.values()),
        lost=expected - len(got),
        kills=survived,
        abandoned=webhook.abandoned,
        in_window=len(in_window),
    )
