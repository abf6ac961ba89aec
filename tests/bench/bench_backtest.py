"""A backtest at the size of two weeks of a newsroom: ``--articles`` (100,000) archived articles
replayed through ``--rules`` (10,000) rules, as ``monitor rules backtest`` does it.

Articles: the six languages' texts of ``bench_rules.py`` (real-size news, about 8 KB each), each
archived article a different selection of its language's paragraphs under a title of its own,
written to the embedded default's archive (SQLite, compressed) beforehand. Rules: the seeded
rule sets of ``bench_rules.py``.

Figures: the backtest's time from the archive (reading, unpacking, matching, counting), in
articles/s; matching alone on the same articles held in memory, as the baseline; the ratio
between them (what reading the archive costs). Floor (the issue's): 100,000 articles through
10,000 rules within 120 s on this 2-core machine.

    python tests/bench/bench_backtest.py [--articles 100000] [--rules 10000]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.archive import Archived, open_archive  # noqa: E402
from monitor.backtest import backtest  # noqa: E402
from monitor.money.amounts import find_amounts  # noqa: E402
from monitor.rules.load import parse_rules  # noqa: E402
from monitor.rules.match import Matcher  # noqa: E402
from monitor.settings import Settings  # noqa: E402
from tests.bench.bench_rules import articles, generate  # noqa: E402

VARIANTS = 40  # per language: selections of its paragraphs, their amounts found once each
BASELINE_SAMPLE = 5000


def variants(texts: dict[str, str], rng: random.Random) -> list[tuple[str, str, list]]:
    out = []
    for lang, text in texts.items():
        paragraphs = text.split("\n\n")
        for _ in range(VARIANTS):
            chosen = [p for p in paragraphs if rng.random() < 0.8] or paragraphs[:1]
            body = "\n\n".join(chosen)
            out.append((lang, body, find_amounts(body)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rng = random.Random(11)  # noqa: S311  (a reproducible corpus)
    texts = articles()
    bodies = variants(texts, rng)
    rules = parse_rules(yaml.safe_dump(generate(args.rules, texts), allow_unicode=True),
                        f"<{args.rules} rules>")  # fmt: skip
    settings = Settings(state_dir=Path(tempfile.mkdtemp(prefix="bench-backtest-")))
    archive = open_archive(settings)
    assert archive is not None
    made = time.perf_counter()
    now = time.time()
    batch: list[Archived] = []
    for n in range(args.articles):
        lang, body, amounts = bodies[n % len(bodies)]
        batch.append(Archived(
            id=f"a{n:07d}", url=f"https://news.example/{n}", title=f"Story {n}", text=body,
            feed="https://news.example/feed.xml", language=lang, published=None,
            seen=now - 14 * 86400 * (1 - n / args.articles), amounts=tuple(amounts),
        ))  # fmt: skip
        if len(batch) == 1000:
            archive.put_all(batch)
            batch = []
    archive.put_all(batch)
    print(f"{args.articles} articles archived in {time.perf_counter() - made:.1f} s "
          f"({settings.state_dir / 'archive.sqlite'}); {args.rules} rules", flush=True)  # fmt: skip

    matcher = Matcher(rules)
    sample = [bodies[n % len(bodies)] for n in range(min(BASELINE_SAMPLE, args.articles))]
    start = time.perf_counter()
    for lang, body, amounts in sample:
        matcher.match(body, amounts, language=lang, feed="https://news.example/feed.xml")
    alone = (time.perf_counter() - start) / len(sample)
    print(f"matching alone: {1000 * alone:.2f} ms an article ({1 / alone:.0f} articles/s)",
          flush=True)  # fmt: skip

    start = time.perf_counter()
    result = backtest(archive.rows_since(0), rules, jobs=args.jobs)
    seconds = time.perf_counter() - start
    archive.close()
    fires = sum(len(f.articles) for f in result.fires.values())
    per = seconds / max(1, result.articles)
    print(
        f"backtest: {result.articles} articles in {seconds:.1f} s ({1 / per:.0f} articles/s, "
        f"{1000 * per:.2f} ms an article, {per / alone:.2f}x matching alone); "
        f"{fires} fires of {sum(1 for f in result.fires.values() if f.articles)} rules"
    )
    verdict = "meets" if result.articles >= 100_000 and seconds <= 120 else "MISSES"
    print(f"floor: 100,000 articles through 10,000 rules within 120 s: {verdict} it "
          f"({result.articles} articles, {seconds:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
