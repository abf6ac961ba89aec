"""WebSub: discovery, subscription with intent verified, renewal, unsubscription, signed pushes,
the safety poll and the fall back to polling, against a hub of the tests' own and the receiver
as deployed (``monitor serve``), on a real Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import urllib3

from monitor.context import Context
from monitor.fetch import Fetched
from monitor.ingest.feeds import FeedDocument, canonical_url
from monitor.ingest.polling import due_feeds, poll_feeds
from monitor.ingest.schedule import SCHEDULE
from monitor.ingest.websub import Subscription, discovered, link_header, load, maintain
from monitor.settings import Settings
from tests.support.files import ROOT
from tests.support.hub import WebSubHub, sign
from tests.support.receiver import ReceiverProcess
from tests.support.redis_server import RedisServer
from tests.support.servers import SiteServer, WebhookSink
from tests.support.worker import CeleryWorker

RSS = "application/rss+xml"
RULES = """
entities:
  musk: ["Musk", "ماسك"]
channels:
  desk: ['json://127.0.0.1:9/x']
rules:
  - {name: musk, entities: {any: [musk]}, notify: [desk]}
"""

ARTICLE = "Elon Musk said on Monday that the company would build a new factory. " * 8
OTHER_ARTICLE = "Regulators in Brussels opened an inquiry into Musk's social network. " * 8


def hub_feed(hub: str | None, topic: str, links: list[str], dates: Sequence[str] = ()) -> str:
    """An RSS feed naming its hub and itself (atom:link), one item per link (dated by
    ``dates``, RFC 822, when given)."""
    named = f'<atom:link rel="hub" href="{escape(hub)}"/>' if hub else ""
    items = "".join(
        f"<item><title>Musk {i}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        + (f"<pubDate>{dates[i]}</pubDate>" if i < len(dates) else "")
        + "</item>"
        for i, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>'
        f'{named}<atom:link rel="self" href="{escape(topic)}"/>{items}</channel></rss>'
    )


@pytest.fixture
def hub() -> Iterator[WebSubHub]:
    with WebSubHub() as running:
        yield running


@pytest.fixture
def store_url(request: pytest.FixtureRequest) -> str | None:
    """Redis's URL; None on the embedded default (parametrized "embedded")."""
    if getattr(request, "param", "redis") == "embedded":
        return None
    return str(request.getfixturevalue("redis_url"))


BOTH_BACKENDS = pytest.mark.parametrize("store_url", ["redis", "embedded"], indirect=True)


@pytest.fixture
def receiver(tmp_path: Path, store_url: str | None) -> Iterator[ReceiverProcess]:
    rules = tmp_path / "rules.yaml"
    rules.write_text("feeds: []\n", encoding="utf-8")
    env = {"MONITOR_RULES": str(rules), "MONITOR_STATE_DIR": str(tmp_path / "state")}
    if store_url is not None:
        env["REDIS_URL"] = store_url
    process = ReceiverProcess(env, tmp_path / "receiver.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture
def websub_context(
    tmp_path: Path,
    store_url: str | None,
    receiver: ReceiverProcess,
    contexts: Callable[[Settings, str], Context],
) -> Callable[..., Context]:
    """A context on the receiver's store and rules file, its public URL the receiver's."""

    def make(rules: str, **changes: object) -> Context:
        base = {"redis_url": store_url, "state_dir": tmp_path / "state", "total_timeout": 5.0,
                "allow_private_networks": True, "public_url": receiver.base}  # fmt: skip
        settings = Settings(**{**base, **changes})  # type: ignore[arg-type]
        return contexts(settings, rules)

    return make


def hub_fed(
    websub_context: Callable[..., Context], site: SiteServer, hub: WebSubHub
) -> tuple[Context, str, str]:
    """A context whose rules list one feed (every 1m) naming ``hub``: the context, the feed's
    URL, its topic."""
    topic = site.url("/feed.xml")
    feed = site.route("/feed.xml", hub_feed(hub.url, topic, []), content_type=RSS)
    return websub_context(f"feeds:\n  - {{url: {feed}, every: 1m}}\n{RULES}"), feed, topic


def subscribed(ctx: Context, hub: WebSubHub, feed: str) -> Subscription:
    """Poll ``feed`` (which names ``hub``), ask the hub, wait for its verification."""
    poll_feeds(ctx, [feed])
    assert maintain(ctx) == 1
    hub.wait_for(lambda requests: any(r.verified for r in requests))
    sub = load(ctx, feed)
    assert sub is not None and sub.state == "active", sub
    return sub


def test_the_hub_and_topic_come_from_link_headers_first_then_the_feed() -> None:
    document = FeedDocument([], hub="http://hub.example/doc", topic="http://pub.example/self")
    plain = Fetched("http://pub.example/f", "http://pub.example/f", 200, {}, b"")
    assert discovered(plain, document) == ("http://hub.example/doc", "http://pub.example/self")
    headers = {"link": '<https://hub.example/h>; rel="hub", </feed.xml>; rel="self alternate"'}
    linked = Fetched("http://pub.example/f", "http://pub.example/f", 200, headers, b"")
    assert discovered(linked, document) == ("https://hub.example/h", "http://pub.example/feed.xml")
    assert discovered(plain, FeedDocument([])) is None
    assert discovered(plain, FeedDocument([], hub="http://h.example/")) == (
        "http://h.example/", "http://pub.example/f"  # no self link: the URL fetched
    )  # fmt: skip
    assert (
        link_header("<ftp://x/>; rel=hub, <http://y/>; rel=hub", "hub", "http://b/") == "http://y/"
    )
    assert link_header("<http://y/>; rel=next", "hub", "http://b/") is None


@BOTH_BACKENDS
def test_a_feed_naming_a_hub_is_subscribed_verified_renewed_and_left(
    websub_context: Callable[..., Context], site: SiteServer, hub: WebSubHub,
    receiver: ReceiverProcess, tmp_path: Path,
) -> None:  # fmt: skip
    hub.lease_seconds = 5
    topic = site.url("/feed.xml")
    feed = site.route("/feed.xml", hub_feed(hub.url, topic, [site.url("/a")]), content_type=RSS)
    ctx = websub_context(f"feeds:\n  - {{url: {feed}, every: 1m}}\n{RULES}")

    sub = subscribed(ctx, hub, feed)
    asked = hub.requests[0]
    assert asked.mode == "subscribe" and asked.topic == topic
    assert asked.callback == f"{receiver.base}/websub/{sub.callback}"
    assert asked.secret == sub.secret and len(sub.secret) >= 32
    assert asked.lease_seconds == str(int(ctx.settings.push_lease))
    assert 3 < sub.until - time.time() <= 5  # the lease the hub granted, not the one asked

    # Active: the feed is polled at the safety interval, not its every (1m).
    poll_feeds(ctx, [feed])
    next_poll = ctx.store.scheduled(SCHEDULE)[feed] - time.time()
    assert next_poll > 0.85 * ctx.settings.push_safety_poll

    # Renewed a fifth of the lease before its end.
    assert maintain(ctx) == 0  # not due yet
    time.sleep(max(0.0, sub.until - 1.0 - time.time()) + 0.1)
    assert maintain(ctx) == 1
    hub.wait_for(lambda requests: sum(bool(r.verified) for r in requests) == 2)
    renewed = load(ctx, feed)
    assert renewed is not None and renewed.state == "active" and renewed.until > sub.until
    assert renewed.callback == sub.callback

    # The feed leaves the rules: the hub is asked to end it, and verifies that too.
    (tmp_path / "rules.yaml").write_text(f"feeds: []\n{RULES}", encoding="utf-8")
    time.sleep(0.05)
    due_feeds(ctx)  # reconciles the schedule with the rules: the subscription is due
    assert maintain(ctx) == 1
    hub.wait_for(lambda requests: any(r.mode == "unsubscribe" and r.verified for r in requests))
    assert load(ctx, feed) is None and hub.subscribers(topic) == []


@BOTH_BACKENDS
def test_a_push_is_taken_only_with_a_valid_signature(
    websub_context: Callable[..., Context], site: SiteServer, hub: WebSubHub,
    receiver: ReceiverProcess,
) -> None:  # fmt: skip
    ctx, feed, topic = hub_fed(websub_context, site, hub)
    sub = subscribed(ctx, hub, feed)
    new = site.url("/news/pushed.html")
    body = hub_feed(hub.url, topic, [new]).encode()

    def sha1(secret: str, data: bytes) -> str:
        import hashlib
        import hmac

        return "sha1=" + hmac.new(secret.encode(), data, hashlib.sha1).hexdigest()

    refused = [
        lambda secret, data: "",  # none
        lambda secret, data: "sha256=" + "0" * 64,  # wrong
        lambda secret, data: sign("another secret", data),  # another subscription's
        sha1,  # valid, but too weak a hash
        lambda secret, data: sign(secret, data + b" "),  # of another body
    ]
    for signature in refused:
        assert hub.publish(topic, body, signature=signature) == [403]
    assert ctx.store.get(f"seen:{canonical_url(new)}") is None
    assert "refused" in receiver.log() and sub.secret not in receiver.log()

    assert hub.publish(topic, b"<html>not a feed</html>", "text/html") == [400]
    assert hub.publish(topic, body) == [202]
    seen = ctx.store.get(f"seen:{canonical_url(new)}")
    assert seen is not None and seen["state"] == "queued"
    assert hub.publish(topic, body) == [202]  # the same again: nothing new
    assert "pushed" in receiver.log()


def test_callbacks_we_never_gave_out_and_verifications_we_did_not_ask_for_are_404(
    websub_context: Callable[..., Context], site: SiteServer, hub: WebSubHub,
    receiver: ReceiverProcess,
) -> None:  # fmt: skip
    ctx, feed, topic = hub_fed(websub_context, site, hub)
    sub = subscribed(ctx, hub, feed)
    http = urllib3.PoolManager(retries=False)
    unknown = f"{receiver.base}/websub/{'A' * 22}"
    assert http.request("GET", unknown + "?hub.challenge=x&hub.mode=subscribe").status == 404
    assert http.request("POST", unknown, body=b"<rss/>").status == 404
    mine = f"{receiver.base}/websub/{sub.callback}"
    other_topic = http.request(
        "GET", mine, fields={"hub.mode": "subscribe", "hub.topic": topic + "?other",
                             "hub.challenge": "echo-me", "hub.lease_seconds": "60"},
    )  # fmt: skip
    assert other_topic.status == 404 and b"echo-me" not in other_topic.data
    unasked = http.request(  # we asked to subscribe, not to end it
        "GET", mine, fields={"hub.mode": "unsubscribe", "hub.topic": topic,
                             "hub.challenge": "echo-me"},
    )  # fmt: skip
    assert unasked.status == 404
    still = load(ctx, feed)
    assert still is not None and still.state == "active"


def test_a_hub_gone_or_denying_falls_back_to_polling_at_the_feed_s_interval(
    websub_context: Callable[..., Context], site: SiteServer, receiver: ReceiverProcess,
) -> None:  # fmt: skip
    with WebSubHub(lease_seconds=3) as hub:
        topic = site.url("/feed.xml")
        feed = site.route("/feed.xml", hub_feed(hub.url, topic, []), content_type=RSS)
        ctx = websub_context(f"feeds:\n  - {{url: {feed}, every: 1m}}\n{RULES}")
        sub = subscribed(ctx, hub, feed)
        poll_feeds(ctx, [feed])
        assert ctx.store.scheduled(SCHEDULE)[feed] - time.time() > 3600
    # The hub is gone when the renewal comes.
    time.sleep(max(0.0, sub.until - 0.6 - time.time()) + 0.1)
    assert maintain(ctx) == 1
    failed = load(ctx, feed)
    assert failed is not None and failed.state == "failed"
    assert "the hub refused the subscription" in failed.reason and "127.0.0.1" in failed.reason
    time.sleep(max(0.0, sub.until - time.time()) + 0.1)
    assert ctx.store.scheduled(SCHEDULE)[feed] <= time.time()  # due at once
    poll_feeds(ctx, [feed])
    assert 40 < ctx.store.scheduled(SCHEDULE)[feed] - time.time() < 70  # its every again

    # A hub that denies the subscription: failed, with the hub's reason.
    with WebSubHub() as denying:
        denying.deny.add(topic)
        site.route("/feed.xml", hub_feed(denying.url, topic, []), content_type=RSS)
        poll_feeds(ctx, [feed])  # another hub: subscribed to anew
        assert maintain(ctx) == 1
        denying.wait_for(lambda requests: len(requests) == 1)
        denied = load(ctx, feed)
        assert denied is not None and denied.state == "failed" and "denied" in denied.reason


def test_monitor_feeds_shows_each_feed_s_subscription(
    websub_context: Callable[..., Context], site: SiteServer, hub: WebSubHub,
    tmp_path: Path, redis_url: str,
) -> None:  # fmt: skip
    topic = site.url("/feed.xml")
    feed = site.route("/feed.xml", hub_feed(hub.url, topic, []), content_type=RSS)
    plain = site.route("/plain.xml", hub_feed(None, site.url("/plain.xml"), []), content_type=RSS)
    ctx = websub_context(f"feeds:\n  - {{url: {feed}, every: 1m}}\n  - {{url: {plain}}}\n{RULES}")
    sub = subscribed(ctx, hub, feed)
    poll_feeds(ctx, [plain])
    env = {"REDIS_URL": redis_url, "MONITOR_RULES": str(tmp_path / "rules.yaml"),
           "MONITOR_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}  # fmt: skip

    def feeds(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "monitor", "feeds", *args], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    lines = [json.loads(line) for line in feeds("--json").splitlines()]
    push = {line["url"]: line["push"] for line in lines}
    assert push[plain] is None
    assert push[feed]["state"] == "active" and push[feed]["hub"] == hub.url
    assert push[feed]["until"] is not None and sub.secret not in json.dumps(lines)
    table = feeds()
    assert "WebSub: 1 active" in table and "active until" in table


def test_a_pushed_item_alerts_in_seconds_and_once_though_the_poll_sees_it_too(
    tmp_path: Path, redis_url: str, site: SiteServer, hub: WebSubHub, webhook: WebhookSink,
    redis_server: RedisServer,
) -> None:  # fmt: skip
    topic = site.url("/feed.xml")
    first, pushed = site.url("/news/first.html"), site.url("/news/pushed.html")
    for link, text in ((first, ARTICLE), (pushed, OTHER_ARTICLE)):  # not near-duplicates
        site.route(link.removeprefix(site.base_url), f"<html><body><p>{text}</p></body></html>")
    feed = site.route("/feed.xml", hub_feed(hub.url, topic, [first]), content_type=RSS)
    rules = tmp_path / "rules.yaml"
    hook = json.dumps(webhook.apprise_url())
    rules.write_text(f"feeds:\n  - {{url: {feed}, every: 1h}}\n"
                     + RULES.replace("'json://127.0.0.1:9/x'", hook), encoding="utf-8")  # fmt: skip
    env = {"REDIS_URL": redis_url, "MONITOR_RULES": str(rules), "MONITOR_BEAT_INTERVAL": "0.5",
           "MONITOR_STATE_DIR": str(tmp_path / "state")}  # fmt: skip
    receiver = ReceiverProcess(env, tmp_path / "receiver.log")
    try:
        receiver.wait_ready()
        env["MONITOR_PUBLIC_URL"] = receiver.base
        with CeleryWorker(env, tmp_path / "worker.log") as worker:
            webhook.wait_for(1, timeout=60)  # the first item, polled
            hub.wait_for(lambda requests: any(r.verified for r in requests), timeout=60)
            polls = site.hits("/feed.xml")
            body = hub_feed(hub.url, topic, [pushed, first])
            site.route("/feed.xml", body, content_type=RSS)
            assert hub.publish(topic, body.encode()) == [202]
            alerts = webhook.wait_for(2, timeout=60)
            assert site.hits("/feed.xml") == polls  # it came by the push, not a poll
            assert "pushed.html" in json.dumps(alerts[1]["json"])

            db = redis_server.client()
            db.zadd("monitor:" + SCHEDULE, {feed: 0})  # the (safety) poll comes now
            deadline = time.monotonic() + 30
            while site.hits("/feed.xml") == polls and time.monotonic() < deadline:
                time.sleep(0.1)
            assert site.hits("/feed.xml") > polls, worker.log()
            assert hub.publish(topic, body.encode()) == [202]  # pushed again
            time.sleep(2.0)  # time for a repeated alert to arrive, were one sent
            log = worker.log()
    finally:
        receiver.stop()
    assert len(webhook.received) == 2, log
    assert site.hits("/news/pushed.html") == 1


def test_a_hub_on_a_private_address_is_refused_by_the_ssrf_guard(
    websub_context: Callable[..., Context], site: SiteServer,
) -> None:  # fmt: skip
    topic = site.url("/feed.xml")
    metadata = "http://169.254.169.254/hub"  # refused before any connection is tried
    feed = site.route("/feed.xml", hub_feed(metadata, topic, []), content_type=RSS)
    rules = f"feeds:\n  - {{url: {feed}, every: 1m}}\n{RULES}"
    ctx = websub_context(rules, allow_private_networks=False, allowed_networks="127.0.0.1/32")
    poll_feeds(ctx, [feed])
    assert maintain(ctx) == 1
    refused = load(ctx, feed)
    assert refused is not None and refused.state == "failed"
    assert "169.254.169.254" in refused.reason and "refused the subscription" in refused.reason


def test_items_a_poll_finds_that_the_hub_should_have_pushed_end_the_subscription(
    websub_context: Callable[..., Context], site: SiteServer, hub: WebSubHub,
) -> None:  # fmt: skip
    ctx, feed, topic = hub_fed(websub_context, site, hub)
    sub = subscribed(ctx, hub, feed)
    # As if verified an hour ago: an item of 30 minutes ago came after, and the hub never
    # pushed it; one of a minute ago may still be on its way.
    hour = 3600.0
    earlier = replace(sub, until=sub.until - hour)
    ctx.store.put(f"push:{feed}", asdict(earlier))

    def dated(minutes_ago: float) -> str:
        return format_datetime(datetime.now(UTC) - timedelta(minutes=minutes_ago))

    recent = hub_feed(hub.url, topic, [site.url("/news/recent.html")], [dated(1)])
    site.route("/feed.xml", recent, content_type=RSS)
    poll_feeds(ctx, [feed])
    still = load(ctx, feed)
    assert still is not None and still.state == "active"

    missed = hub_feed(hub.url, topic, [site.url("/news/missed.html")], [dated(30)])
    site.route("/feed.xml", missed, content_type=RSS)
    poll_feeds(ctx, [feed])
    ended = load(ctx, feed)
    assert ended is not None and ended.state == "failed"
    assert ended.reason == "the hub did not push 1 new item a poll found"
    assert ctx.store.scheduled(SCHEDULE)[feed] <= time.time()  # polled again at its own pace
