"""Polling: conditional GET, compression, the schedule (interval, jitter, backoff, publisher
hints), feed health and its failing report, and the per-host limit, against loopback
publishers."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from monitor.context import Context
from monitor.errors import ServerError
from monitor.ingest.polling import due_feeds, poll_feed, poll_feeds
from monitor.ingest.schedule import SCHEDULE, Hints, batches, max_age, next_delay
from monitor.settings import Settings
from tests.support.feeds import rss
from tests.support.publisher import Publisher
from tests.support.servers import WebhookSink

LAST_MODIFIED = "Tue, 24 Nov 2026 10:00:00 GMT"


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    with Publisher() as server:
        yield server


@pytest.fixture
def make_context(
    tmp_path: Path, redis_url: str, contexts: Callable[[Settings, str], Context]
) -> Callable[..., Context]:
    def make(feeds: list[str], every: str = "1m", **settings: Any) -> Context:
        lines = "".join(f"  - url: {url}\n    every: {every}\n" for url in feeds)
        values: dict[str, Any] = {
            "redis_url": redis_url,
            "state_dir": tmp_path / "state",
            "allow_private_networks": True,  # the publishers are on loopback
            "total_timeout": 5.0,
            **settings,
        }
        rules = (
            f"feeds:\n{lines}entities:\n  musk: [Musk]\nchannels:\n  desk: ['json://127.0.0.1:9/x']\n"
            "rules:\n  - {name: musk, entities: {any: [musk]}, notify: [desk]}\n"
        )
        return contexts(Settings(**values), rules)

    return make


def items(n: int, base: str = "http://127.0.0.1/a") -> str:
    return rss([{"title": f"t{i}", "link": f"{base}{i}"} for i in range(n)])


def slot_delay(ctx: Context, url: str) -> float:
    """Seconds from the feed's last poll to its next one in the schedule."""
    health = ctx.store.get(f"feed:{url}")
    assert health is not None
    last_attempt = datetime.fromisoformat(health["last_attempt"]).timestamp()
    return ctx.store.scheduled(SCHEDULE)[url] - last_attempt


# ------------------------------------------------------------------ conditional GET, encoding


def test_unchanged_feed_costs_a_304_and_no_new_entries(
    publisher: Publisher, make_context: Any
) -> None:
    url = publisher.serve("/feed.xml", items(3), etag='"v1"', last_modified=LAST_MODIFIED)
    ctx = make_context([url])
    assert len(poll_feed(ctx, url)) == 3
    assert poll_feed(ctx, url) == []
    sent = publisher.last_headers("/feed.xml")
    assert sent["If-None-Match"] == '"v1"' and sent["If-Modified-Since"] == LAST_MODIFIED
    assert publisher.not_modified == 1
    health = ctx.store.get(f"feed:{url}")
    assert health is not None
    assert health["last_status"] == "not modified" and health["last_http_status"] == 304
    assert health["items_seen"] == 3 and health["etag"] == '"v1"'


def test_a_changed_feed_is_read_again_and_its_new_validators_kept(
    publisher: Publisher, make_context: Any
) -> None:
    url = publisher.serve("/feed.xml", items(2), etag='"v1"')
    ctx = make_context([url])
    poll_feed(ctx, url)
    publisher.serve("/feed.xml", items(3), etag='"v2"')
    assert len(poll_feed(ctx, url)) == 1
    poll_feed(ctx, url)
    assert publisher.last_headers("/feed.xml")["If-None-Match"] == '"v2"'
    assert publisher.not_modified == 1


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_compressed_feeds_are_read(
    publisher: Publisher, make_context: Any, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    url = publisher.serve("/feed.xml", items(4), compress=True)
    ctx = make_context([url])
    if encoding == "gzip":
        ctx.client.accept_encoding = "gzip"
    assert len(poll_feed(ctx, url)) == 4
    accepted = publisher.last_headers("/feed.xml")["Accept-Encoding"]
    assert encoding in accepted and ("br" in accepted) == (encoding == "br")
    assert publisher.bytes_sent < publisher.bytes_full


# ------------------------------------------------------------------ schedule


def test_success_waits_every_with_jitter() -> None:
    rng = random.Random(1)  # noqa: S311  (seeded jitter)
    delays = [next_delay(300, 0, Hints(), 21600, rng) for _ in range(200)]
    assert all(270 <= d <= 330 for d in delays)
    assert max(delays) - min(delays) > 30, "no jitter"


@pytest.mark.parametrize(
    ("hints", "low", "high"),
    [
        (Hints(max_age=1800), 1620, 1980),  # asked to come back later: honoured
        (Hints(ttl=60), 270, 330),  # asked to come back sooner than every: ignored
        (Hints(max_age=10**7), 19440, 23760),  # asked for months: capped
        (Hints(retry_after=900, ttl=3600), 3240, 3960),  # the longest hint wins
    ],
)
def test_publisher_hints_within_bounds(hints: Hints, low: float, high: float) -> None:
    assert low <= next_delay(300, 0, hints, 21600) <= high


def test_errors_back_off_exponentially_capped_and_honour_retry_after() -> None:
    rng = random.Random(2)  # noqa: S311  (seeded jitter)
    first, second, third = (next_delay(60, n, Hints(), 21600, rng) for n in (1, 2, 3))
    assert 108 <= first <= 132 and 216 <= second <= 264 and 432 <= third <= 528
    assert 19440 <= next_delay(60, 30, Hints(), 21600, rng) <= 23760
    assert 540 <= next_delay(60, 1, Hints(retry_after=600), 21600, rng) <= 660


def test_max_age_parsing() -> None:
    assert max_age("public, max-age=600") == 600
    assert max_age('s-maxage="120", no-transform') == 120
    assert max_age("no-cache") is None


def test_batches_take_every_feed_once_with_hosts_in_turns() -> None:
    urls = [f"http://h{h}.example/{i}" for h in range(10) for i in range(h + 1)]
    found = batches(urls, size=12)
    assert sorted(u for b in found for u in b) == sorted(urls)
    assert [len(b) for b in found] == [12, 12, 12, 12, 7]
    # The first batch holds one feed of each of the ten hosts before a second of any.
    assert len({u.split("/")[2] for u in found[0][:10]}) == 10


def test_retry_after_on_503_sets_the_next_poll_and_success_resets(
    publisher: Publisher, make_context: Any
) -> None:
    url = publisher.serve("/feed.xml", "busy", status=503, headers={"Retry-After": "1200"})
    ctx = make_context([url])
    for expected_errors in (1, 2):
        with pytest.raises(ServerError):
            poll_feed(ctx, url)
        health = ctx.store.get(f"feed:{url}")
        assert health is not None and health["consecutive_errors"] == expected_errors
        assert health["last_http_status"] == 503
    assert 1080 <= slot_delay(ctx, url) <= 1320
    publisher.serve("/feed.xml", items(1))
    poll_feed(ctx, url)
    health = ctx.store.get(f"feed:{url}")
    assert health is not None and health["consecutive_errors"] == 0
    assert health["last_error"] is None and health["next_poll"] > health["last_attempt"]
    assert 54 <= slot_delay(ctx, url) <= 66


def test_rss_ttl_and_max_age_lengthen_the_interval(publisher: Publisher, make_context: Any) -> None:
    ttl_feed = publisher.serve("/ttl.xml", items(1).replace("<channel>", "<channel><ttl>30</ttl>"))
    cached = publisher.serve("/cached.xml", items(1), headers={"Cache-Control": "max-age=600"})
    ctx = make_context([ttl_feed, cached])
    poll_feed(ctx, ttl_feed)
    poll_feed(ctx, cached)
    assert 1620 <= slot_delay(ctx, ttl_feed) <= 1980
    assert 540 <= slot_delay(ctx, cached) <= 660


def test_due_feeds_claims_each_slot_once(publisher: Publisher, make_context: Any) -> None:
    urls = [publisher.serve(f"/{i}.xml", items(1)) for i in range(3)]
    ctx = make_context(urls)
    assert sorted(due_feeds(ctx)) == sorted(urls)
    assert due_feeds(ctx) == []


def feeds_rules(urls: list[str], every: str = "1h") -> str:
    return "feeds:\n" + "".join(f"  - url: {url}\n    every: {every}\n" for url in urls)


def change_rules(ctx: Context, urls: list[str]) -> None:
    """Rewrite the context's rules file with these feeds, as ops would while it runs."""
    path = ctx.rules_source.path
    before = path.stat().st_mtime_ns
    path.write_text(feeds_rules(urls), encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))  # a new mtime even within a tick


def test_a_polled_feed_is_not_due_until_its_next_time(
    publisher: Publisher, open_contexts: Callable[..., Context]
) -> None:
    url = publisher.serve("/feed.xml", items(1))
    ctx = open_contexts(feeds_rules([url]))
    assert due_feeds(ctx) == [url]
    poll_feed(ctx, url)
    assert due_feeds(ctx) == []
    assert 3240 <= slot_delay(ctx, url) <= 3960


def test_a_taken_feed_whose_poll_is_lost_is_due_again_after_its_lease(
    open_contexts: Callable[..., Context],
) -> None:
    short, long = "http://127.0.0.1:9/short.xml", "http://127.0.0.1:9/long.xml"
    ctx = open_contexts(
        f"feeds:\n  - {{url: {short}, every: 1s}}\n  - {{url: {long}, every: 1h}}\n",
        poll_lease=1.2,
    )
    assert sorted(due_feeds(ctx)) == sorted([short, long])
    assert due_feeds(ctx) == []
    time.sleep(1.3)
    # A feed polled less often than the lease keeps its own interval as its lease.
    assert due_feeds(ctx) == [short]
    assert ctx.store.scheduled(SCHEDULE)[long] > time.time() + 3500


def test_the_schedule_follows_feeds_added_to_and_removed_from_the_rules(
    publisher: Publisher, open_contexts: Callable[..., Context]
) -> None:
    kept, removed, added = (publisher.serve(f"/{name}.xml", items(1)) for name in "kra")
    ctx = open_contexts(feeds_rules([kept, removed]))
    assert sorted(due_feeds(ctx)) == sorted([kept, removed])
    change_rules(ctx, [kept, added])
    assert due_feeds(ctx) == [added]
    assert sorted(ctx.store.scheduled(SCHEDULE)) == sorted([kept, added])
    poll_feed(ctx, removed)  # a poll already queued when it was removed
    assert removed not in ctx.store.scheduled(SCHEDULE)


def test_a_feed_removed_by_another_process_leaves_the_schedule_when_due(
    open_contexts: Callable[..., Context],
) -> None:
    url = "http://127.0.0.1:9/feed.xml"
    ctx = open_contexts(feeds_rules([url]))
    due_feeds(ctx)
    ctx.store.schedule(SCHEDULE, {"http://127.0.0.1:9/gone.xml": time.time()})
    assert due_feeds(ctx) == []
    assert list(ctx.store.scheduled(SCHEDULE)) == [url]


def test_a_schedule_lost_with_the_store_is_made_again_with_every_feed_due(
    open_contexts: Callable[..., Context],
) -> None:
    urls = [f"http://127.0.0.1:9/{i}.xml" for i in range(3)]
    ctx = open_contexts(feeds_rules(urls))
    assert len(due_feeds(ctx)) == 3
    for key in ctx.store.keys(SCHEDULE):  # as a Redis without persistence, restarted
        ctx.store.delete(key)
    assert sorted(due_feeds(ctx)) == sorted(urls)


def test_a_restart_does_not_make_every_feed_due(open_contexts: Callable[..., Context]) -> None:
    urls = [f"http://127.0.0.1:9/{i}.xml" for i in range(3)]
    first = open_contexts(feeds_rules(urls))
    assert len(due_feeds(first)) == 3
    first.close()
    assert due_feeds(open_contexts(feeds_rules(urls))) == []


# ------------------------------------------------------------------ concurrency


def test_per_host_limit_holds_while_hosts_are_polled_at_once(make_context: Any) -> None:
    with Publisher("127.0.0.1", latency=0.2) as one, Publisher("127.0.0.2", latency=0.2) as two:
        urls = [one.serve(f"/{i}.xml", items(1)) for i in range(8)]
        urls += [two.serve(f"/{i}.xml", items(1)) for i in range(8)]
        ctx = make_context(urls, per_host_concurrency=2, poll_concurrency=16)
        assert len(poll_feeds(ctx, urls).articles) == 1  # the 16 feeds carry the same links
        assert one.max_in_flight == 2 and two.max_in_flight == 2


def test_the_per_host_limit_holds_across_processes_sharing_the_store(
    open_contexts: Callable[..., Context],
) -> None:
    # Two poll tasks at once, each with its own client, as two worker processes: together
    # they keep to the host's limit, on Redis and on the embedded default alike.
    with Publisher("127.0.0.1", latency=0.3) as host:
        urls = [host.serve(f"/{i}.xml", items(1)) for i in range(12)]
        rules = feeds_rules(urls)
        tasks = [open_contexts(rules, per_host_concurrency=3) for _ in range(2)]
        with ThreadPoolExecutor(2) as pool:
            polled = list(pool.map(poll_feeds, tasks, [urls[:6], urls[6:]]))
        assert [p.failed for p in polled] == [[], []]
        assert len(host.arrivals) == 12
        assert host.max_in_flight == 3


def test_hundreds_of_requests_in_flight_in_one_thread(make_context: Any) -> None:
    with Publisher("127.0.0.1", latency=1.0) as host:
        urls = [host.serve(f"/{i}.xml", items(1)) for i in range(300)]
        ctx = make_context(urls, per_host_concurrency=300, poll_concurrency=250)
        polled = poll_feeds(ctx, urls)
        assert polled.failed == [] and len(host.arrivals) == 300
        assert host.max_in_flight == 250  # as many as allowed, and no more


def test_the_requests_in_flight_are_bounded_across_the_threads_of_a_process(
    make_context: Any,
) -> None:
    # Poll tasks in threads of one worker share its one core: together they keep to
    # MONITOR_POLL_CONCURRENCY, so no response waits past its deadline to be read.
    with Publisher("127.0.0.1", latency=0.5) as host:
        urls = [host.serve(f"/{i}.xml", items(1)) for i in range(120)]
        ctx = make_context(urls, per_host_concurrency=200, poll_concurrency=40)
        with ThreadPoolExecutor(3) as pool:
            polled = list(pool.map(partial(poll_feeds, ctx), [urls[:40], urls[40:80], urls[80:]]))
        assert [p.failed for p in polled] == [[], [], []]
        assert len(host.arrivals) == 120 and host.max_in_flight == 40


def test_a_busy_host_does_not_hold_up_the_others(make_context: Any) -> None:
    # One host's feeds listed before the other's, fewer requests at once than feeds: they must
    # not all wait on the first host's limit while the second host has work.
    with Publisher("127.0.0.1", latency=0.2) as one, Publisher("127.0.0.2", latency=0.2) as two:
        urls = [one.serve(f"/{i}.xml", items(1)) for i in range(8)]
        urls += [two.serve(f"/{i}.xml", items(1)) for i in range(8)]
        ctx = make_context(urls, per_host_concurrency=2, poll_concurrency=4)
        poll_feeds(ctx, urls)
        assert len(one.arrivals) == len(two.arrivals) == 8
        # The second host's first request came before the first host's third: both hosts
        # were polled from the start.
        assert two.arrivals[0] < one.arrivals[2]
        assert one.max_in_flight == 2 and two.max_in_flight == 2


def test_a_batch_survives_its_failing_feeds(publisher: Publisher, make_context: Any) -> None:
    good = publisher.serve("/good.xml", items(2))
    bad = publisher.serve("/bad.xml", "boom", status=500)
    html = publisher.serve("/page.xml", "<html><body>hi</body></html>", content_type="text/html")
    ctx = make_context([good, bad, html])
    polled = poll_feeds(ctx, [bad, good, html])
    assert (len(polled.articles), sorted(polled.failed)) == (2, sorted([bad, html]))
    for url in (bad, html):
        health = ctx.store.get(f"feed:{url}")
        assert health is not None and health["last_status"] == "error"


# ------------------------------------------------------------------ failing feeds


def test_a_feed_failing_too_long_is_reported_once_per_spell(
    publisher: Publisher,
    make_context: Any,
    webhook: WebhookSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = publisher.serve("/feed.xml", "down", status=500)
    ctx = make_context([url], feed_failing_after=0, ops_channel=webhook.apprise_url())
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            with pytest.raises(ServerError):
                poll_feed(ctx, url)
    reports = [r for r in caplog.records if r.getMessage().startswith("feed failing since")]
    assert len(reports) == 1 and url in reports[0].getMessage()
    assert len(webhook.wait_for(1)) == 1
    assert "HTTP 500" in webhook.received[0]["json"]["message"]
    publisher.serve("/feed.xml", items(1))
    poll_feed(ctx, url)
    publisher.serve("/feed.xml", "down", status=500)
    with pytest.raises(ServerError):
        poll_feed(ctx, url)
    assert len(webhook.wait_for(2)) == 2
