"""Cooldown, digests and templates, end to end in one process (``run_cycle``) against a real
Redis and a loopback webhook: what is sent at once, what waits, and what the message says."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from monitor.alerts.delivery import deliver_alert
from monitor.alerts.digest import flush_digests, period_end
from monitor.context import Context
from monitor.pipeline import run_cycle
from monitor.settings import Settings
from tests.support.feeds import rss
from tests.support.files import SEED, SEED_TITLE
from tests.support.servers import SiteServer, WebhookSink

TWO_DAYS = 2 * 86400


@pytest.fixture
def make_context(
    tmp_path: Path, redis_url: str, contexts: Callable[[Settings, str], Context]
) -> Callable[[str], Context]:
    settings = Settings(
        redis_url=redis_url,
        state_dir=tmp_path / "state",
        allow_private_networks=True,  # the test site is on loopback
        timezone="Asia/Riyadh",
        # The copies of the seed stand for distinct stories, not near-duplicates.
        near_duplicate_distance=-1,
    )
    return lambda rules: contexts(settings, rules)


def publish(site: SiteServer, count: int) -> tuple[str, list[str]]:
    links = [site.route(f"/story-{i}.html", SEED.read_bytes()) for i in range(count)]
    feed = site.route(
        "/feed.xml",
        rss(
            [
                {"title": SEED_TITLE, "link": link, "pubDate": "Tue, 24 Nov 2026 10:00:00 GMT"}
                for link in links
            ]
        ),
        content_type="application/rss+xml",
    )
    return feed, links


def rules(feed: str, hook: str, extra: str) -> str:
    return f"""
feeds:
  - url: {feed}
entities:
  musk: ["Musk", "ماسك"]
  putin: ["Putin", "بوتين"]
channels:
  hook: ["{hook}"]
rules:
{extra}"""


def titles(webhook: WebhookSink) -> list[str]:
    return [post["json"]["title"] for post in webhook.received]


def test_cooldown_sends_the_first_and_holds_the_rest_for_the_digest(
    make_context: Callable[[str], Context], site: SiteServer, webhook: WebhookSink
) -> None:
    feed, links = publish(site, 3)
    ctx = make_context(
        rules(
            feed,
            webhook.apprise_url(),
            "  - name: cool\n    entities: {all: [musk, putin]}\n    cooldown: 30m\n"
            "    notify: [hook]\n",
        )
    )
    run_cycle(ctx)
    assert len(webhook.received) == 1  # one alert for the first article; two held
    for digest_id in flush_digests(ctx, now=time.time() + TWO_DAYS):
        deliver_alert(ctx, digest_id)
    assert len(webhook.received) == 2
    digest = webhook.received[1]["json"]
    assert digest["title"] == "[cool] digest: 2 articles"
    first_link = next(link for link in links if link in webhook.received[0]["json"]["message"])
    held = [link for link in links if link != first_link]
    assert all(digest["message"].count(link) == 1 for link in held)
    assert first_link not in digest["message"]
    assert flush_digests(ctx, now=time.time() + 2 * TWO_DAYS) == []  # nothing twice


def test_a_digest_rule_sends_nothing_at_once_and_everything_once(
    make_context: Callable[[str], Context], site: SiteServer, webhook: WebhookSink
) -> None:
    feed, links = publish(site, 3)
    ctx = make_context(
        rules(
            feed,
            webhook.apprise_url(),
            "  - name: daily\n    entities: {any: [musk]}\n    digest: daily\n    notify: [hook]\n",
        )
    )
    run_cycle(ctx)
    assert webhook.received == []
    assert flush_digests(ctx, now=time.time() + 60) == []  # the day is not over
    for digest_id in flush_digests(ctx, now=time.time() + TWO_DAYS):
        deliver_alert(ctx, digest_id)
    (digest,) = [post["json"] for post in webhook.received]
    assert digest["title"] == "[daily] digest: 3 articles"
    assert all(digest["message"].count(link) == 1 for link in links)
    assert "ماسك" in digest["message"] or SEED_TITLE in digest["message"]


def test_arabic_arrives_intact_in_the_webhook_json_with_local_time(
    make_context: Callable[[str], Context], site: SiteServer, webhook: WebhookSink
) -> None:
    feed, links = publish(site, 1)
    ctx = make_context(
        rules(
            feed,
            webhook.apprise_url(),
            "  - name: mp\n    entities: {all: [musk, putin]}\n    notify: [hook]\n",
        )
    )
    run_cycle(ctx)
    (post,) = webhook.received
    payload = post["json"]
    assert payload["title"] == f"[mp] {SEED_TITLE}"
    assert "ماسك" in payload["message"] and "بوتين" in payload["message"]
    assert links[0] in payload["message"]
    assert "13:00" in payload["message"]  # 10:00 UTC shown in Asia/Riyadh (UTC+3)


def test_a_rule_template_renders_in_a_sandbox(
    make_context: Callable[[str], Context], site: SiteServer, webhook: WebhookSink
) -> None:
    feed, _ = publish(site, 2)
    ctx = make_context(
        rules(
            feed,
            webhook.apprise_url(),
            "  - name: custom\n    entities: {all: [musk, putin]}\n    notify: [hook]\n"
            "    templates: {text: 'ALERT {{ rule }}: {{ title }}'}\n"
            "  - name: sneaky\n    entities: {all: [musk, putin]}\n    notify: [hook]\n"
            "    templates: {text: \"{{ ''.__class__.__mro__[1].__subclasses__() }}\"}\n",
        )
    )
    run_cycle(ctx)
    bodies = [post["json"]["message"] for post in webhook.received]
    assert f"ALERT custom: {SEED_TITLE}" in bodies
    sneaky = [b for b in bodies if "subclasses" in b or "<class" in b]
    assert sneaky == []  # the sandbox refused it; the default template was used instead
    assert len(bodies) == 4  # both rules, both articles


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@pytest.mark.parametrize(
    ("now", "period", "zone", "end"),
    [
        # 01:30 in Riyadh (UTC+3): the analyst's day ends at their midnight, 21:00 UTC.
        ("2026-11-24T22:30:00+00:00", 86400, "Asia/Riyadh", "2026-11-25T21:00:00+00:00"),
        ("2026-11-24T22:30:00+00:00", 86400, "UTC", "2026-11-25T00:00:00+00:00"),
        # 15:40 in Kolkata (UTC+5:30): the hour ends at 16:00 there, 10:30 UTC.
        ("2026-11-24T10:10:00+00:00", 3600, "Asia/Kolkata", "2026-11-24T10:30:00+00:00"),
        # New York in summer (UTC-4): midnight there is 04:00 UTC.
        ("2026-07-01T03:00:00+00:00", 86400, "America/New_York", "2026-07-01T04:00:00+00:00"),
    ],
)
def test_digest_periods_end_on_the_analysts_clock(
    now: str, period: float, zone: str, end: str
) -> None:
    assert period_end(_epoch(now), period, zone) == _epoch(end)
