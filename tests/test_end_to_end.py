"""Feed → article → rules → alert through the real Celery worker, on Redis and on the embedded
default: each fired rule's alert arrives once at each target, and later polls send nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.feeds import rss
from tests.support.files import SEED, SEED_TITLE
from tests.support.mail import SmtpSink, text_parts
from tests.support.servers import SiteServer, WebhookSink
from tests.support.worker import CeleryWorker

EXPECTED_RULES = {"musk-putin", "starlink", "big-money"}


def write_rules(path: Path, feed_url: str, targets: list[str], every: str = "1s") -> Path:
    channel = ", ".join(json.dumps(t) for t in targets)
    path.write_text(
        f"""
feeds:
  - url: {feed_url}
    every: {every}
entities:
  musk: ["Elon Musk", "Musk", "إيلون ماسك", "ماسك"]
  putin: ["Vladimir Putin", "Putin", "بوتين"]
  starlink: ["Starlink", "ستارلينك"]
  nobody: ["Jane Nobody", "جين نوبودي"]
channels:
  desk: [{channel}]
rules:
  - name: musk-putin
    entities: {{all: [musk, putin]}}
    notify: [desk]
  - name: starlink
    entities: {{any: [starlink]}}
    notify: [desk]
  - name: big-money
    money: {{min: 50000000, currency: EUR}}
    notify: [desk]
  - name: never
    entities: {{any: [nobody]}}
    notify: [desk]
""",
        encoding="utf-8",
    )
    return path


def serve_seed(site: SiteServer) -> str:
    article = site.route("/news/musk-putin.html", SEED.read_bytes())
    return site.route(
        "/feed.xml",
        rss(
            [
                {
                    "title": SEED_TITLE,
                    "link": article,
                    "guid": article,
                    "pubDate": "Tue, 24 Nov 2026 10:00:00 GMT",
                }
            ],
            title="أخبار العرب والعالم",
        ),
        content_type="application/rss+xml",
    )


@pytest.fixture(params=["redis", "embedded"])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    env = {
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_BEAT_INTERVAL": "0.5",
        "MONITOR_ALLOW_PRIVATE_NETWORKS": "1",  # the test site is on loopback
    }
    if request.param == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    return env


def test_each_alert_arrives_once_per_target_and_repolls_send_nothing(
    backend_env: dict[str, str],
    tmp_path: Path,
    site: SiteServer,
    smtp: SmtpSink,
    webhook: WebhookSink,
) -> None:
    feed = serve_seed(site)
    rules = write_rules(tmp_path / "rules.yaml", feed, [smtp.apprise_url(), webhook.apprise_url()])
    env = {**backend_env, "MONITOR_RULES": str(rules)}

    with CeleryWorker(env, tmp_path / "worker.log") as worker:
        mails = smtp.wait_for(len(EXPECTED_RULES), timeout=60)
        posts = webhook.wait_for(len(EXPECTED_RULES), timeout=60)
        polls = site.hits("/feed.xml")
        deadline = time.monotonic() + 30
        while site.hits("/feed.xml") < polls + 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert site.hits("/feed.xml") >= polls + 3, worker.log()
        time.sleep(1.0)  # time for anything a re-poll wrongly queued to arrive
        log = worker.log()

    assert len(smtp.messages) == len(EXPECTED_RULES), [m["Subject"] for m in smtp.messages]
    assert len(webhook.received) == len(EXPECTED_RULES)
    assert site.hits("/news/musk-putin.html") == 1, "the article was fetched more than once"

    subjects = {str(m["Subject"]) for m in mails}
    assert {s.split("]")[0].strip("[") for s in subjects} == EXPECTED_RULES
    assert all(SEED_TITLE in s for s in subjects)
    by_rule = {str(m["Subject"]).split("]")[0].strip("["): m for m in mails}
    plain, html = text_parts(by_rule["musk-putin"])
    assert html is not None
    assert "/news/musk-putin.html" in html
    assert "<mark>ماسك</mark>" in html or "<mark>إيلون ماسك</mark>" in html
    assert 'dir="auto"' in html
    assert "بوتين" in plain
    money_plain, _ = text_parts(by_rule["big-money"])
    assert "70 مليون يورو" in money_plain

    payloads = {p["json"]["title"].split("]")[0].strip("["): p["json"] for p in posts}
    assert set(payloads) == EXPECTED_RULES
    assert "/news/musk-putin.html" in payloads["starlink"]["message"]
    assert (
        "⟦Starlink⟧" in payloads["starlink"]["message"]
        or "⟦ستارلينك⟧" in payloads["starlink"]["message"]
    )
    assert "Traceback" not in log, log
