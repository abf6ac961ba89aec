"""One whole cycle in this process (``monitor poll --once``, what a small desk runs from cron)
against loopback publishers that answer each request after 100 ms, as distant ones would.

    .venv/bin/python tests/bench/bench_poll_once.py                 # 1,000 feeds on 50 hosts
    .venv/bin/python tests/bench/bench_poll_once.py --feeds-per-host 2 --baseline

Each feed carries 5 items, each linking to its own page: a cold cycle makes 6 requests per
feed. Printed per run: the cycle's wall time, requests/s and this process's CPU time per
request. With ``--baseline`` the same cycle runs first with one fetch at a time
(``MONITOR_POLL_CONCURRENCY=1``), as the cycle ran before it fetched many at once, for the ratio.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.context import open_context  # noqa: E402
from monitor.pipeline import run_cycle  # noqa: E402
from monitor.settings import Settings  # noqa: E402
from tests.support.feeds import rss  # noqa: E402
from tests.support.publisher import Publisher  # noqa: E402

ARTICLE = "<html><body><article><h1>Weather</h1><p>" + "Rain today. " * 60 + "</p></article>"
ITEMS = 5
HTML = "text/html; charset=utf-8"


def publish(publishers: list[Publisher], per_host: int) -> list[str]:
    urls = []
    for p in publishers:
        for _ in range(per_host):
            n = len(urls)
            links = [p.serve(f"/a/{n}-{i}.html", ARTICLE, content_type=HTML) for i in range(ITEMS)]
            items = [{"title": f"story {n}-{i}", "link": link} for i, link in enumerate(links)]
            urls.append(p.serve(f"/feed/{n}.xml", rss(items), content_type="application/rss+xml"))
    return urls


def one_cycle(urls: list[str], at_once: int | None) -> tuple[float, float, int]:
    """Wall and CPU seconds of one cold cycle on a fresh embedded state, and its requests."""
    folder = Path(tempfile.mkdtemp(prefix="bench-poll-once-"))
    rules = folder / "rules.yaml"
    rules.write_text(
        "feeds:\n" + "".join(f"  - url: {u}\n" for u in urls) + "rules: []\n", encoding="utf-8"
    )
    settings = Settings(
        state_dir=folder / "state",
        allowed_networks="127.0.0.0/8",  # the publishers are on loopback
        near_duplicate_distance=-1,
        **({"poll_concurrency": at_once} if at_once else {}),
    )
    ctx = open_context(settings, rules)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        report = run_cycle(ctx)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        ctx.close()
    assert report.feeds_failed == 0 and report.articles == len(urls) * ITEMS, report
    return wall, cpu, len(urls) * (1 + ITEMS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--feeds-per-host", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--baseline", action="store_true", help="one fetch at a time first")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # a line per article would bury the figures
    publishers = [Publisher(f"127.0.0.{2 + h}", latency=args.latency) for h in range(args.hosts)]
    try:
        urls = publish(publishers, args.feeds_per_host)
        print(f"{len(urls)} feeds on {args.hosts} hosts, {ITEMS} pages each, "
              f"{args.latency * 1000:.0f} ms a request")  # fmt: skip
        runs = ([("one at a time", 1)] if args.baseline else []) + [("at once (default)", None)]
        walls = {}
        for label, at_once in runs:
            wall, cpu, requests = one_cycle(urls, at_once)
            walls[label] = wall
            print(f"{label:>18}: {wall:7.1f} s, {requests / wall:6.0f} requests/s, "
                  f"{cpu / requests * 1000:.2f} ms CPU a request")  # fmt: skip
        if len(walls) == 2:
            print(f"{'ratio':>18}: {walls['one at a time'] / walls['at once (default)']:.1f}x")
    finally:
        for p in publishers:
            p.stop()


if __name__ == "__main__":
    main()
