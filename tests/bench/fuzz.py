"""The parsers of outside input fuzzed for minutes each, with the contracts and strategies of
``tests/support/fuzz.py`` (the test run fuzzes them for seconds). Prints, per parser, how many
inputs it was given and what broke; exit 1 if anything did. Not part of the test run.

    .venv/bin/python tests/bench/fuzz.py                      # 10 minutes per parser
    .venv/bin/python tests/bench/fuzz.py --minutes 1 --targets money,queries
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.support.fuzz import TARGETS, Target  # noqa: E402

BATCH = 2_000  # examples per Hypothesis run; runs repeat, each from a new seed, until time is up


def fuzz(target: Target, seconds: float) -> tuple[int, list[str]]:
    """Inputs tried, and the failures found (each with its smallest input)."""
    tried = 0

    @settings(
        max_examples=BATCH,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        nonlocal tried
        value: Any = data.draw(target.inputs)
        tried += 1
        target.check(value)

    failures: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not failures:
        try:
            run()
        except Exception:
            failures.append(traceback.format_exc(limit=-3))
    return tried, failures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--targets", default=",".join(t.name for t in TARGETS))
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # each odd input logs a line; the counts are the output
    chosen = [t for t in TARGETS if t.name in args.targets.split(",")]
    broken = 0
    for target in chosen:
        started = time.monotonic()
        tried, failures = fuzz(target, args.minutes * 60)
        took = time.monotonic() - started
        verdict = "nothing broke" if not failures else "BROKE"
        print(f"{target.name}: {tried:,} inputs in {took:.0f} s ({tried / took:,.0f}/s): {verdict}")
        for failure in failures:
            print(failure)
        broken += bool(failures)
        sys.stdout.flush()
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
