"""What alerts carry out of the worker: a rule's template that loops without end or builds a
gigabyte gives way to the default template; a link that holds Markdown stays one link in chat;
a token in a channel URL's host part never reaches a log line."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import apprise
import pytest

from monitor.alerts.secrets import hidden, secrets_of
from monitor.context import Context
from monitor.pipeline import run_cycle
from tests.hostile.checks import RSS_TYPE
from tests.support.feeds import rss
from tests.support.files import SEED, SEED_TITLE
from tests.support.servers import SiteServer, WebhookSink


def rules_with(feed: str, target: str, extra: str = "") -> str:
    return (
        f"feeds:\n  - url: {feed}\n"
        "entities:\n  musk: [ماسك]\n  putin: [بوتين]\n"
        f"channels:\n  desk: ['{target}']\n"
        "rules:\n  - name: musk-putin\n    entities: {all: [musk, putin]}\n"
        f"    notify: [desk]\n{extra}"
    )


@pytest.mark.parametrize(
    ("template", "why"),
    [
        (
            "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
            "{% endfor %}{% endfor %}{% endfor %}{{ title }}",
            "rendering took more than 1 s",
        ),
        ("{{ title * 10**9 }}", "a value past 100,000 characters or items"),
        (
            '{% set ns = namespace(s="ab") %}{% for i in range(60) %}'
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
            "a value past 100,000 characters",
        ),
    ],
    ids=["nested-loops", "title-times-a-billion", "doubling"],
)
def test_a_template_past_its_bounds_gives_way_to_the_default(
    open_contexts: Callable[..., Context],
    site: SiteServer,
    webhook: WebhookSink,
    caplog: pytest.LogCaptureFixture,
    template: str,
    why: str,
) -> None:
    story = site.route("/story.html", SEED.read_bytes())
    feed = site.route(
        "/feed.xml", rss([{"title": SEED_TITLE, "link": story}]), content_type=RSS_TYPE
    )
    extra = f"    templates:\n      text: '{template}'\n"
    ctx = open_contexts(rules_with(feed, webhook.apprise_url(), extra))
    with caplog.at_level(logging.WARNING, logger="monitor"):
        assert run_cycle(ctx).alerts == {"sent": 1}
    (post,) = webhook.wait_for(1)
    assert post["json"]["message"].startswith("Rule: musk-putin (matched:")
    assert len(post["body"]) < 10_000
    failed = [r.getMessage() for r in caplog.records if "template failed" in r.getMessage()]
    assert len(failed) == 1 and why in failed[0] and "the default is used" in failed[0]


def test_markdown_in_a_link_stays_one_link_in_chat(
    open_contexts: Callable[..., Context], site: SiteServer, webhook: WebhookSink
) -> None:
    site.route("/story.html", SEED.read_bytes())
    link = site.url("/story.html?x=1)[log in here](https://phish.example/login")
    feed = site.route("/feed.xml", rss([{"title": "t", "link": link}]), content_type=RSS_TYPE)
    mattermost = f"mmost://127.0.0.1:{webhook.port}/abcdefghijklmnopqrstuvwxyz"
    ctx = open_contexts(
        rules_with(feed, mattermost.replace("abcdefghijklmnopqrstuvwxyz", "${HOOK}"))
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOOK", "abcdefghijklmnopqrstuvwxyz")
        assert run_cycle(ctx).alerts == {"sent": 1}
    (post,) = webhook.wait_for(1)
    text = post["json"]["text"]
    links = re.findall(r"\]\(([^)]*)\)", text)
    assert len(links) == 1, text
    assert "phish.example" in links[0] and "%5Blog%20in%20here%5D" in links[0]
    assert "[log in here]" not in text


def test_a_token_in_the_host_part_never_reaches_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """apprise logs every URL it loads, at DEBUG; a Telegram bot token is its host part."""
    token = "123456789:AAHdefghijklmnopqrstuvwxyz0123456789ab"  # noqa: S105  (made up)
    url = f"tgram://{token}/-1001234"
    with caplog.at_level(logging.DEBUG), hidden(secrets_of(url, [])):
        assert apprise.Apprise.instantiate(url) is not None
    assert any("Telegram" in r.getMessage() for r in caplog.records)
    assert "AAHdefghij" not in caplog.text and "0123456789ab" not in caplog.text
