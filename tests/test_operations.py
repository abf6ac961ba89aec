"""Running it as a service: metrics after a real run, JSON logs with ids, health probes, and a
SIGTERM in the middle of a batch that loses nothing."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.support.feeds import rss
from tests.support.files import ROOT, SEED
from tests.support.servers import SiteServer, WebhookSink, free_port
from tests.support.worker import CeleryWorker


def write_rules(path: Path, feed: str, target: str) -> Path:
    path.write_text(
        f"""
feeds:
  - url: {feed}
    every: 1s
entities:
  musk: ["Musk", "ماسك"]
  putin: ["Putin", "بوتين"]
  starlink: ["Starlink", "ستارلينك"]
channels:
  hook: ["{target}"]
rules:
  - name: musk-putin
    entities: {{all: [musk, putin]}}
    notify: [hook]
  - name: starlink
    entities: {{any: [starlink]}}
    notify: [hook]
""",
        encoding="utf-8",
    )
    return path


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_what_a_real_run_did_and_logs_carry_ids(
    tmp_path: Path, redis_url: str, site: SiteServer, webhook: WebhookSink
) -> None:
    article = site.route("/a.html", SEED.read_bytes())
    gone = site.url("/gone.html")  # 404: processed from the feed's summary
    feed = site.route(
        "/feed.xml",
        rss(
            [
                {"title": "t", "link": article},
                {
                    "title": "ماسك وبوتين",
                    "link": gone,
                    "description": "قال ماسك إنه تحدث مع بوتين.",
                },
            ]
        ),
        content_type="application/rss+xml",
    )
    port = free_port()
    env = {
        "REDIS_URL": redis_url,
        "MONITOR_RULES": str(write_rules(tmp_path / "rules.yaml", feed, webhook.apprise_url())),
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_BEAT_INTERVAL": "0.5",
        "MONITOR_METRICS_PORT": str(port),
        "MONITOR_METRICS_ADDRESS": "127.0.0.1",
    }
    with CeleryWorker(env, tmp_path / "worker.log") as worker:
        webhook.wait_for(3, timeout=60)  # musk-putin ×2, starlink ×1
        time.sleep(1.0)  # the last task's duration is recorded after it returns
        samples = scrape(port)
        log = worker.log()

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("monitor_articles_processed_total", body="page") == 1
    assert value("monitor_articles_processed_total", body="feed") == 1
    assert value("monitor_extraction_failures_total") == 1
    assert value("monitor_rule_fires_total", rule="musk-putin") == 2
    assert value("monitor_rule_fires_total", rule="starlink") == 1
    assert value("monitor_task_duration_seconds_count", task="monitor.process_article") == 2
    assert value("monitor_queue_latency_seconds_count", queue="extract") == 2
    assert value("monitor_queue_latency_seconds_count", queue="deliver") >= 3
    assert value("monitor_alerts_total", outcome="sent") == 3
    assert value("monitor_feeds_polled_total", status="ok") >= 1
    assert value("monitor_feeds_polled_total", status="error") == 0

    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    processed = [e for e in events if e["message"].startswith("article processed")]
    assert len(processed) == 2
    assert all(
        e["task"] == "monitor.process_article" and len(e["article"]) == 20 for e in processed
    )
    assert any("ماسك" in e["message"] or e.get("level") for e in events)


def monitor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "REDIS_"))}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=ROOT,
        env={**full, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_health_says_what_is_wrong(tmp_path: Path, redis_url: str) -> None:
    rules = tmp_path / "rules.yaml"
    valid = (
        "entities: {musk: [Musk]}\nchannels: {desk: ['json://127.0.0.1:9/x']}\n"
        "rules:\n  - {name: r, entities: {any: [musk]}, notify: [desk]}\n"
    )
    rules.write_text(valid, encoding="utf-8")
    env = {"REDIS_URL": redis_url, "MONITOR_RULES": str(rules), "MONITOR_STATE_DIR": str(tmp_path)}
    client = redis.Redis.from_url(redis_url)

    never = monitor("health", env=env)
    assert never.returncode == 1 and "beat: no tick recorded yet" in never.stderr
    assert monitor("health", "--no-beat", env=env).returncode == 0

    client.set("monitor:beat:last_tick", json.dumps({"at": time.time()}))
    assert monitor("health", env=env).stdout.strip() == "ok"
    client.set("monitor:beat:last_tick", json.dumps({"at": time.time() - 600}))
    stale = monitor("health", env=env)
    assert stale.returncode == 1
    assert re.search(r"beat: last tick 6\d\d s ago \(limit 60 s\)", stale.stderr), stale.stderr

    rules.write_text("rules: [", encoding="utf-8")
    broken = monitor("health", "--no-beat", env=env)
    assert (
        broken.returncode == 1
        and f"rules: {rules}:" in broken.stderr
        and "not valid YAML" in broken.stderr
    )

    rules.write_text(valid, encoding="utf-8")
    down = monitor(
        "health", "--no-beat", env={**env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    )
    assert down.returncode == 1 and "broker: Redis does not answer" in down.stderr
    assert len(down.stderr.splitlines()) == 1, down.stderr  # not once more for the store


@pytest.mark.parametrize("to_group", [False, True], ids=["main-process", "process-group"])
def test_sigterm_mid_batch_loses_nothing_and_repeats_nothing(
    tmp_path: Path, redis_url: str, site: SiteServer, webhook: WebhookSink, to_group: bool
) -> None:
    pages = 6
    links = [site.route(f"/story-{i}.html", SEED.read_bytes(), delay=1.5) for i in range(pages)]
    feed = site.route(
        "/feed.xml",
        rss([{"title": f"story {i}", "link": link} for i, link in enumerate(links)]),
        content_type="application/rss+xml",
    )
    rules = write_rules(tmp_path / "rules.yaml", feed, webhook.apprise_url())
    env = {
        "REDIS_URL": redis_url,
        "MONITOR_RULES": str(rules),
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_BEAT_INTERVAL": "0.5",
        "MONITOR_NEAR_DUPLICATE_DISTANCE": "-1",  # the copies of the seed are distinct stories
    }
    first = CeleryWorker(env, tmp_path / "first.log", concurrency=2)
    first.wait_ready()
    deadline = time.monotonic() + 60
    while sum(site.hits(f"/story-{i}.html") for i in range(pages)) < 2:
        assert time.monotonic() < deadline, first.log()
        time.sleep(0.05)
    # Pages are being fetched: tasks in flight. Docker and Kubernetes signal the main process;
    # systemd (KillMode=control-group) and `timeout` signal every process of the group.
    if to_group:
        os.killpg(first.process.pid, signal.SIGTERM)
    else:
        os.kill(first.process.pid, signal.SIGTERM)
    first.process.wait(timeout=60)  # a hung shutdown fails here
    first.stop()
    assert "Warm shutdown" in first.log() or "Soft shutdown" in first.log(), first.log()
    sent_before_restart = len(webhook.received)
    assert sent_before_restart < 2 * pages, "the batch finished before the signal: no test"

    with CeleryWorker(env, tmp_path / "second.log", concurrency=2):
        webhook.wait_for(2 * pages, timeout=90)  # musk-putin and starlink for every story
        time.sleep(2.0)  # anything sent twice would arrive by now
    per_alert = Counter(
        (post["json"]["title"].split("]")[0], link)
        for post in webhook.received
        for link in links
        if link in post["json"]["message"]
    )
    assert len(per_alert) == 2 * pages, per_alert
    assert set(per_alert.values()) == {1}, per_alert


def test_monitor_run_stops_when_its_whole_process_group_gets_sigterm(tmp_path: Path) -> None:
    """Idle pool children wait on the pool's queue under its lock; killed there, they would
    leave the main process waiting for that lock for ever."""
    rules = write_rules(
        tmp_path / "rules.yaml", "http://127.0.0.1:9/feed.xml", "json://127.0.0.1:9"
    )
    env = {"MONITOR_RULES": str(rules), "MONITOR_STATE_DIR": str(tmp_path / "state")}
    command = [sys.executable, "-m", "monitor", "run", "--concurrency", "2"]
    run = CeleryWorker(env, tmp_path / "run.log", command=command)
    try:
        run.wait_ready()
        deadline = time.monotonic() + 60
        while "feed failed" not in run.log():  # a poll ran (the feed is down): the pool works
            assert time.monotonic() < deadline, run.log()
            time.sleep(0.1)
        time.sleep(1.0)  # the children are idle again, waiting for work
        os.killpg(run.process.pid, signal.SIGTERM)
        returncode = run.process.wait(timeout=60)  # a hung shutdown fails here
    finally:
        run.stop()
    assert returncode == 0, run.log()
    assert "Warm shutdown" in run.log(), run.log()


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({}, "news-monitor: no rules file: set MONITOR_RULES"),
        (
            {"MONITOR_RULES": "{rules}", "MONITOR_TOTAL_TIMEOUT": "soon"},
            "news-monitor: MONITOR_TOTAL_TIMEOUT='soon': expected a number",
        ),
        ({"MONITOR_RULES": "{missing}"}, "news-monitor: {missing}:1:1: cannot read the file"),
    ],
    ids=["no-rules", "bad-setting", "missing-rules"],
)
def test_a_worker_that_cannot_work_says_why_and_does_not_start(
    tmp_path: Path, env: dict[str, str], said: str
) -> None:
    """It used to report ready, then log a traceback for every message it took."""
    rules = write_rules(
        tmp_path / "rules.yaml", "http://127.0.0.1:9/feed.xml", "json://127.0.0.1:9/x"
    )
    names = {"rules": str(rules), "missing": str(tmp_path / "nowhere.yaml")}
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "REDIS_"))}
    full |= {k: v.format(**names) for k, v in env.items()}
    full["MONITOR_STATE_DIR"] = str(tmp_path / "state")
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-Q", "poll", "-c", "1"],
        cwd=ROOT, env=full, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(said.format(**names)), done.stderr[-2000:]
    assert "ready." not in done.stderr + done.stdout


def test_an_idle_worker_says_nothing_at_info(
    tmp_path: Path, redis_url: str, site: SiteServer, webhook: WebhookSink
) -> None:
    """Ticks every half second and a feed that has not changed: nothing to say. It used to say
    every tick was received and succeeded, about 50 lines a minute at the default tick."""
    article = site.route("/a.html", SEED.read_bytes())
    feed = site.route(
        "/feed.xml", rss([{"title": "t", "link": article}]), content_type="application/rss+xml"
    )
    env = {
        "REDIS_URL": redis_url,
        "MONITOR_RULES": str(write_rules(tmp_path / "rules.yaml", feed, webhook.apprise_url())),
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_BEAT_INTERVAL": "0.5",
        "MONITOR_LOG_JSON": "true",
    }
    with CeleryWorker(env, tmp_path / "worker.log") as worker:
        webhook.wait_for(2, timeout=60)  # the article processed and its alerts sent
        time.sleep(2.0)
        mark = len(worker.log())
        polls = site.hits("/feed.xml")
        time.sleep(4.0)
        idle = worker.log()[mark:]
    assert site.hits("/feed.xml") > polls  # it kept polling all along
    said = [json.loads(line) for line in idle.splitlines() if line.startswith("{")]
    assert [e["message"] for e in said if e["level"] == "INFO"] == []
