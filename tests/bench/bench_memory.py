"""Resident memory of a CPU worker (prefork, 2 children) and an I/O worker (16 threads, with
beat) after 20 articles, all on loopback with a private Redis: the figures behind the resource
requests in deploy/k8s.

    python tests/bench/bench_memory.py
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support.feeds import rss  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.servers import SiteServer, WebhookSink  # noqa: E402
from tests.support.worker import CeleryWorker  # noqa: E402


def rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0
    return next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")), 0
    )


def tree(pid):
    kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid] + [p for k in kids for p in tree(int(k))]


tmp = Path(tempfile.mkdtemp())
with RedisServer() as redis, SiteServer() as site, WebhookSink() as hook:
    seed = (ROOT / "monitor" / "demo" / "articles" / "ar-musk-putin.html").read_bytes()
    links = [site.route(f"/s{i}.html", seed) for i in range(20)]
    feed = site.route(
        "/feed.xml",
        rss([{"title": f"t{i}", "link": link} for i, link in enumerate(links)]),
        content_type="application/rss+xml",
    )
    rules = tmp / "rules.yaml"
    rules.write_text(
        f"feeds:\n  - url: {feed}\n    every: 1s\nentities:\n  musk: [ماسك]\nchannels:\n  h: ['{hook.apprise_url()}']\nrules:\n  - name: m\n    entities: {{any: [musk]}}\n    notify: [h]\n",
        encoding="utf-8",
    )
    env = {
        "REDIS_URL": redis.url,
        "MONITOR_RULES": str(rules),
        "MONITOR_STATE_DIR": str(tmp / "s"),
        "MONITOR_BEAT_INTERVAL": "0.5",
        "MONITOR_ALLOW_PRIVATE_NETWORKS": "1",
        # Every article is the seed, so each would be a near-duplicate of the first and alert
        # under its key: one alert, where the figures need twenty.
        "MONITOR_NEAR_DUPLICATE_DISTANCE": "-1",
    }
    cpu = CeleryWorker(
        env,
        tmp / "cpu.log",
        command=[
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks",
            "worker",
            "-Q",
            "extract",
            "-c",
            "2",
        ],
    )
    io = CeleryWorker(
        env,
        tmp / "io.log",
        command=[
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks",
            "worker",
            "-Q",
            "poll,deliver",
            "--pool",
            "threads",
            "-c",
            "16",
            "--beat",
        ],
    )
    cpu.wait_ready()
    io.wait_ready()
    hook.wait_for(20, timeout=120)
    time.sleep(2)
    for name, w in (("cpu (prefork, 2 children)", cpu), ("io (16 threads, with beat)", io)):
        pids = tree(w.process.pid)
        print(
            name,
            "RSS MiB per process:",
            [round(rss_kb(p) / 1024) for p in pids],
            "total",
            round(sum(rss_kb(p) for p in pids) / 1024),
        )
    cpu.stop()
    io.stop()
