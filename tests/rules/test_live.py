"""Live edits of the rules file reach the running worker without a restart; an edit that does
not validate is refused, logged, and the previous rules keep firing."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.support.feeds import rss
from tests.support.servers import SiteServer, WebhookSink
from tests.support.worker import CeleryWorker

PARAGRAPHS = {
    "one": "قال مصدر مطلع إن بوتين ناقش مع مستشاريه خطط الطاقة للعام المقبل في اجتماع مطول.",
    "two": "Le président Poutine a reçu hier à Moscou une délégation chargée des contrats gaziers.",
    "three": "قالت الوزارة إن بوتين سيزور المنطقة الشهر المقبل لبحث اتفاقات جديدة للطاقة.",
}


def page(text: str) -> str:
    body = "".join(f"<p>{text} {i}</p>" for i in range(6))
    return f"<html><head><title>t</title></head><body><article>{body}</article></body></html>"


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    stamp = time.time_ns()  # a visibly newer mtime, whatever the clock grain
    os.utime(path, ns=(stamp, stamp))


def rules_text(feed: str, hook: str, rules: str, entities: str = "") -> str:
    return f"""
feeds:
  - url: {feed}
    every: 1s
entities:
  putin: ["بوتين", "Poutine", "Putin"]{entities}
channels:
  hook: [{json.dumps(hook)}]
rules:
{rules}"""


FIRST = "  - name: putin-ar\n    query: '@putin AND NOT Moscou'\n    notify: [hook]\n"
SECOND = FIRST + "  - name: putin-any\n    entities: {any: [putin]}\n    notify: [hook]\n"
BROKEN = SECOND + "  - name: broken\n    query: '@putin AND (gas'\n    notify: [hook]\n"


class Newsroom:
    """A loopback feed the test publishes paragraphs to, one article each."""

    def __init__(self, site: SiteServer) -> None:
        self.site = site
        self.items: list[dict[str, str]] = []
        self.feed = site.url("/feed.xml")

    def publish(self, name: str) -> None:
        link = self.site.route(f"/{name}.html", page(PARAGRAPHS[name]))
        self.items.append({"title": name, "link": link, "guid": link})
        self.site.route("/feed.xml", rss(self.items), content_type="application/rss+xml")


def worker_env(tmp_path: Path, rules: Path, redis_url: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "MONITOR_RULES": str(rules),
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_BEAT_INTERVAL": "0.5",
    }


def fired(webhook: WebhookSink) -> list[tuple[str, str]]:
    """(rule, article path) of every alert received so far."""
    out = []
    for post in webhook.received:
        rule = post["json"]["title"].split("]")[0].strip("[")
        path = next(p for p in PARAGRAPHS if f"/{p}.html" in post["json"]["message"])
        out.append((rule, path))
    return sorted(out)


def test_edits_take_effect_and_a_bad_edit_keeps_the_old_rules(
    tmp_path: Path, site: SiteServer, webhook: WebhookSink, redis_url: str
) -> None:
    news = Newsroom(site)
    news.publish("one")
    rules = tmp_path / "rules.yaml"
    write(rules, rules_text(news.feed, webhook.apprise_url(), FIRST))
    with CeleryWorker(worker_env(tmp_path, rules, redis_url), tmp_path / "worker.log") as worker:
        webhook.wait_for(1, timeout=60)
        assert fired(webhook) == [("putin-ar", "one")]

        write(rules, rules_text(news.feed, webhook.apprise_url(), SECOND))
        news.publish("two")  # French, with "Moscou": only the new rule fires
        webhook.wait_for(2, timeout=60)
        assert fired(webhook) == [("putin-any", "two"), ("putin-ar", "one")]

        write(rules, rules_text(news.feed, webhook.apprise_url(), BROKEN))
        news.publish("three")
        webhook.wait_for(4, timeout=60)
        time.sleep(1.0)  # time for anything a wrong rule set would send
        log = worker.log()

    assert fired(webhook) == [
        ("putin-any", "three"),
        ("putin-any", "two"),
        ("putin-ar", "one"),
        ("putin-ar", "three"),
    ]
    assert "rules edit refused, previous rules stay active" in log
    assert "rules.yaml:17:24: query of rule 'broken': unbalanced parenthesis" in log


DEEP = SECOND + (
    "  - name: deep\n    query: '" + "(" * 300 + "@putin" + ")" * 300 + "'\n    notify: [hook]\n"
)


def test_an_edit_that_recurses_is_refused_and_the_old_rules_keep_firing(
    tmp_path: Path, site: SiteServer, webhook: WebhookSink, redis_url: str
) -> None:
    """A query nested 300 deep raised RecursionError, not a RulesError: the edit was not
    refused, and every task failed until the file was fixed."""
    news = Newsroom(site)
    news.publish("one")
    rules = tmp_path / "rules.yaml"
    write(rules, rules_text(news.feed, webhook.apprise_url(), SECOND))
    with CeleryWorker(worker_env(tmp_path, rules, redis_url), tmp_path / "worker.log") as worker:
        webhook.wait_for(2, timeout=60)
        write(rules, rules_text(news.feed, webhook.apprise_url(), DEEP))
        news.publish("three")
        webhook.wait_for(4, timeout=60)
        time.sleep(1.0)
        log = worker.log()
    assert fired(webhook) == [
        ("putin-any", "one"),
        ("putin-any", "three"),
        ("putin-ar", "one"),
        ("putin-ar", "three"),
    ]
    assert "rules edit refused, previous rules stay active" in log
    assert "query of rule 'deep': parentheses and NOTs nested more than 40 deep" in log
    assert "RecursionError" not in log
