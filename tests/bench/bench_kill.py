"""Kill loop: SIGKILL the real worker's process group mid-delivery again and again, then count
what the SMTP and webhook sinks received per (rule, article, target).

    .venv/bin/python tests/bench/bench_kill.py --kills 5 --articles 10

Prints alerts expected and messages received; repeats on the wire (a kill after the target
accepted and before the store recorded it: the same alert again under the same idempotency
key); duplicates as the analyst sees them (one alert under two keys: must be 0); lost (must be
0); and how many kills the run survived.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.killing import SlowWebhook, run_kill_scenario
from tests.support.mail import SmtpSink
from tests.support.redis_server import RedisServer
from tests.support.servers import SiteServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--articles", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.5, help="webhook answer delay (s)")
    args = parser.parse_args()
    with (
        RedisServer() as redis_server,
        SiteServer() as site,
        SmtpSink() as smtp,
        SlowWebhook(args.delay) as webhook,
        tempfile.TemporaryDirectory() as tmp,
    ):
        figures = run_kill_scenario(
            Path(tmp), redis_server.url, site, smtp, webhook,
            articles=args.articles, kills=args.kills, settle=180.0,
        )  # fmt: skip
    print(
        f"alerts expected {figures.expected}, messages received {figures.sent}, "
        f"repeats under the same key {figures.repeats}, "
        f"duplicates {figures.duplicates}, lost {figures.lost}, "
        f"kills survived {figures.kills}, sends cut off by a kill {figures.abandoned}, "
        f"alerts caught between acceptance and record {figures.in_window}"
    )


if __name__ == "__main__":
    main()
