"""Shared pieces of the alert-delivery tests: a rules file, a feed of seed articles, a context."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from monitor.settings import Settings
from tests.support.feeds import rss
from tests.support.files import ROOT, SEED, SEED_TITLE
from tests.support.servers import SiteServer


def rules_yaml(feeds: list[str], targets: list[str], rule_extra: str = "") -> str:
    """Two rules that fire on the seed article (musk-putin and big-money), both to ``desk``."""
    feed_lines = "".join(f"  - url: {url}\n    every: 1s\n" for url in feeds)
    channel = ", ".join(json.dumps(t) for t in targets)
    return f"""
feeds:
{feed_lines}
entities:
  musk: ["Elon Musk", "Musk", "إيلون ماسك", "ماسك"]
  putin: ["Vladimir Putin", "Putin", "بوتين"]
channels:
  desk: [{channel}]
rules:
  - name: musk-putin
    entities: {{all: [musk, putin]}}
    notify: [desk]
{rule_extra}
  - name: big-money
    money: {{min: 50000000, currency: EUR}}
    notify: [desk]
"""


RULES_FIRED = ("big-money", "musk-putin")


def serve_articles(site: SiteServer, count: int, feed_path: str = "/feed.xml") -> list[str]:
    """``count`` copies of the seed article under their own URLs, and a feed listing them;
    returns the article URLs."""
    links = [
        site.route(f"/news/{i}.html", SEED.read_bytes()) if i else site.url("/news/0.html")
        for i in range(count)
    ]
    site.route("/news/0.html", SEED.read_bytes())
    items = [
        {"title": f"{SEED_TITLE} ({i})", "link": link, "guid": link,
         "pubDate": "Tue, 24 Nov 2026 10:00:00 GMT"}
        for i, link in enumerate(links)
    ]  # fmt: skip
    site.route(feed_path, rss(items, title="أخبار"), content_type="application/rss+xml")
    return links


def settings_for(backend: str, tmp_path: Path, redis_url: str | None, **extra: object) -> Settings:
    return Settings(
        redis_url=redis_url if backend == "redis" else None,
        state_dir=tmp_path / "state",
        total_timeout=5.0,
        allow_private_networks=True,  # the test site is on loopback
        # The copies of the seed stand for distinct stories: not near-duplicates of each other.
        near_duplicate_distance=-1,
        **extra,  # type: ignore[arg-type]
    )


def run_monitor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The ``monitor`` command as a user runs it."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "REDIS_"))}
    full_env["MONITOR_ALLOW_PRIVATE_NETWORKS"] = "1"  # the test site is on loopback
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
