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
    items: list[dict[str, str]] = []

    def publish(name: str) -> None:
        link = site.route(f"/{name}.html", page(PARAGRAPHS[name]))
        items.append({"title": name, "link": link, "guid": link})
        site.route("/feed.xml", rss(items), content_type="application/rss+xml")

    publish("one")
    feed = site.url("/feed.xml")
    rules = tmp_path / "rules.yaml"
    write(rules, rules_text(feed, webhook.apprise_url(), FIRST))
    env = {
        "REDIS_URL": redis_url,
        "MONITOR_RULES": str(rules),
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_BEAT_INTERVAL": "0.5",
    }
    with CeleryWorker(env, tmp_path / "worker.log") as worker:
        webhook.wait_for(1, timeout=60)
        assert fired(webhook) == [("putin-ar", "one")]

        write(rules, rules_text(feed, webhook.apprise_url(), SECOND))
        publish("two")  # French, with "Moscou": only the new rule fires
        webhook.wait_for(2, timeout=60)
        assert fired(webhook) == [("putin-any", "two"), ("putin-ar", "one")]

        write(rules, rules_text(feed, webhook.apprise_url(), BROKEN))
        publish("three")
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
