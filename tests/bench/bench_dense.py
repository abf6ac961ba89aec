"""Matching a dense page against many NEAR rules: time, evidence and peak memory. The page is
176,249 characters of watched words, its first half only left-hand terms and its second only
right-hand ones, so a NEAR rule looks at every pair it can before it decides.

    .venv/bin/python tests/bench/bench_dense.py [--rules 199]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.rules.load import parse_rules  # noqa: E402
from monitor.rules.match import Matcher  # noqa: E402

WORDS = ["Putin", "sanctions", "Kremlin", "oil", "gas", "Musk", "bank", "deal"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=199, help="NEAR rules, and as many others")
    count = parser.parse_args().rules
    left = " ".join(WORDS[i % 4] for i in range(15_000))
    right = " ".join(WORDS[4 + i % 4] for i in range(15_000))
    page = (left + " " + right)[:200_000]
    near = "".join(
        f"  - {{name: n{i}, query: '({WORDS[i % 4]} OR {WORDS[(i + 1) % 4]}) NEAR/{i % 10 + 1} "
        f"({WORDS[4 + i % 4]} OR {WORDS[4 + (i + 2) % 4]})', notify: [d]}}\n"
        for i in range(count)
    )
    words = "".join(
        f"  - {{name: k{i}, keywords: {{all: [{WORDS[i % 8]}, {WORDS[(i + 3) % 8]}]}}, "
        "notify: [d]}\n"
        for i in range(count)
    )
    rules = "channels: {d: ['json://127.0.0.1:9/x']}\nrules:\n" + near + words
    matcher = Matcher(parse_rules(rules))
    started = time.perf_counter()
    report = matcher.match(page, [])
    took = time.perf_counter() - started
    evidence = sum(len(m.evidence) for m in report.fired)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"{2 * count} rules on {len(page):,} characters: {took:.2f} s, {len(report.fired)} "
          f"fired, {evidence:,} pieces of evidence, peak resident memory {peak} MB")  # fmt: skip


if __name__ == "__main__":
    main()
