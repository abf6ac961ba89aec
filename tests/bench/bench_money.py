"""Microseconds per KB of text for ``find_amounts``, next to trafilatura's extraction of the
same articles' bodies (the step it must stay cheap beside).

    python tests/bench/bench_money.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import trafilatura
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.money.amounts import find_amounts  # noqa: E402
from tests.bench.bench_articles import SEED, english_page  # noqa: E402


def per_kb(fn: object, texts: list[str], size: int, rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        for text in texts:
            fn(text)  # type: ignore[operator]
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1e6 / (size / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    pages = [SEED.read_bytes(), english_page(0).encode()]
    bodies = [trafilatura.extract(page) or "" for page in pages]
    corpus = yaml.safe_load((ROOT / "tests" / "fixtures" / "money_cases.yaml").read_text("utf-8"))
    sentences = "\n".join(case["text"] for case in corpus)

    body_kb = sum(len(b.encode()) for b in bodies)
    money_bodies = per_kb(find_amounts, bodies, body_kb, args.rounds)
    money_corpus = per_kb(find_amounts, [sentences], len(sentences.encode()), args.rounds)
    extraction = per_kb(trafilatura.extract, pages, body_kb, args.rounds)
    print(f"find_amounts on article bodies (ar seed, en): {money_bodies:8.1f} µs per KB of text")
    print(f"find_amounts on the money corpus (dense):     {money_corpus:8.1f} µs per KB of text")
    print(f"trafilatura.extract on the same articles:     {extraction:8.1f} µs per KB of body")
    print(f"amounts cost {money_bodies / extraction:.0%} of extraction")


if __name__ == "__main__":
    main()
