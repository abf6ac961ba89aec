"""Feed lists at 100,000 feeds: loaded, validated and compiled within 10 s (the issue's floor).

Writes into a temporary folder a rules file naming a text list of N feeds (every line with
``every=`` and ``tags=``, one in ten written twice under another tag, so merging is exercised)
and an OPML list of N outlines in 100 folders with categories, and 50 rules filtering on tags.
Times, best of ``--rounds``: ``load_rules`` (YAML, both lists, checks, merge), ``Matcher``
(compile, tag filters resolved), and a whole ``RulesSource`` reload after a list is touched,
as the worker does it.

    python tests/bench/bench_feedlists.py [--feeds 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import quoteattr

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from monitor.rules.live import RulesSource
from monitor.rules.load import load_rules
from monitor.rules.match import Matcher

TAGS = 50


def text_list(feeds: int) -> str:
    lines = ["# generated: one feed a line"]
    for i in range(feeds):
        lines.append(
            f"https://host{i % 5000}.example/text/{i}.xml  every=5m  tags=t{i % TAGS},text"
        )
        if i % 10 == 0:  # the same URL again, with another tag: merged
            lines.append(f"https://host{i % 5000}.example/text/{i}.xml  tags=dup")
    return "\n".join(lines) + "\n"


def opml_list(feeds: int) -> str:
    folders = []
    per_folder = max(feeds // 100, 1)
    for f in range(0, feeds, per_folder):
        outlines = "".join(
            f'\n      <outline type="rss" text={quoteattr(f"feed {i}")} '
            f'xmlUrl="https://host{i % 5000}.example/opml/{i}.xml" category="/t{i % TAGS},opml"/>'
            for i in range(f, min(f + per_folder, feeds))
        )
        folders.append(f'    <outline text="Folder {f // per_folder}">{outlines}\n    </outline>')
    body = "\n".join(folders)
    return f'<?xml version="1.0"?>\n<opml version="2.0">\n  <head/>\n  <body>\n{body}\n  </body>\n</opml>\n'


def rules_file() -> str:
    rules = "".join(
        f"  - name: r{i}\n    keywords: {{any: [word{i}]}}\n    feeds: [tag:t{i % TAGS}]\n"
        "    notify: [desk]\n"
        for i in range(50)
    )
    return (
        "feed_lists:\n  - path: lists/big.txt\n  - {path: lists/big.opml, every: 10m}\n"
        'channels:\n  desk: ["json://127.0.0.1:9/never"]\nrules:\n' + rules
    )


def best(rounds: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=100_000, help="feeds in each list")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "lists").mkdir()
        (base / "lists" / "big.txt").write_text(text_list(args.feeds), encoding="utf-8")
        (base / "lists" / "big.opml").write_text(opml_list(args.feeds), encoding="utf-8")
        rules = base / "rules.yaml"
        rules.write_text(rules_file(), encoding="utf-8")
        loaded = load_rules(rules).rules
        sizes = {p.name: p.stat().st_size for p in (base / "lists").iterdir()}
        print(
            f"{args.feeds:,} text lines + {args.feeds // 10:,} duplicates "
            f"({sizes['big.txt'] / 1e6:.1f} MB), {args.feeds:,} OPML outlines "
            f"({sizes['big.opml'] / 1e6:.1f} MB): {len(loaded.feeds):,} feeds, "
            f"{len(loaded.rules)} rules on {TAGS} tags"
        )
        load = best(args.rounds, lambda: load_rules(rules))
        compile_ = best(args.rounds, lambda: Matcher(loaded))
        print(f"load_rules (read, validate, merge):  {load:6.2f} s")
        print(f"Matcher (compile, tag filters):      {compile_:6.2f} s")
        print(f"load + compile:                      {load + compile_:6.2f} s  (floor: 10 s)")

        source = RulesSource(rules)

        def touch_and_reload() -> None:
            stamp = time.time_ns()
            os.utime(base / "lists" / "big.txt", ns=(stamp, stamp))
            source.current()

        reload = best(args.rounds, touch_and_reload)
        print(f"worker reload after a list edit:     {reload:6.2f} s")


if __name__ == "__main__":
    main()
