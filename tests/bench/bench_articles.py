"""Articles per second through article processing, against bare trafilatura on the same pages.

Ours: fetch from a loopback server, extract (title, body, language, date), find amounts, match
the example rules. Baseline: ``trafilatura.extract`` alone on the same HTML, already in memory.
The floor is a ratio of 0.75: the body must be extracted once, not once for the text and again
for the metadata.

    python tests/bench/bench_articles.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.money import find_amounts  # noqa: E402

from monitor.extract import extract_article  # noqa: E402
from monitor.fetch import fetch, make_client  # noqa: E402
from monitor.match import Matcher  # noqa: E402
from monitor.rules import load_rules  # noqa: E402
from monitor.settings import Settings  # noqa: E402
from tests.servers import SiteServer  # noqa: E402

SEED = ROOT / "tests" / "fixtures" / "seed_article_ar.html"
ENGLISH_PARAGRAPHS = [
    "Elon Musk has been in regular contact with Russian President Vladimir Putin since late "
    "2022, the Wall Street Journal reported, citing several current and former officials.",
    "Musk invested 40 million euros in Donald Trump's campaign this month alone; between July "
    "and September it was 70 million euros, filings showed on Thursday.",
    "The Starlink satellite network was opened to Ukraine early in the war and quickly became "
    "part of its defence, although Russian units have since been seen using terminals too.",
    "Officials in Washington declined to comment. The Kremlin said Putin had spoken once by "
    "phone with Musk, about space and future technologies, and denied any further contact.",
]


def english_page(i: int) -> str:
    body = "".join(f"<p>{p}</p>" for p in ENGLISH_PARAGRAPHS * 4)
    nav = "".join(f'<a href="/s{k}">Section {k}</a> ' for k in range(30))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Story {i}</title>'
        f"</head><body><header><nav>{nav}</nav></header><main><article><h1>Story {i}: Musk "
        f"and Putin</h1>{body}</article><aside><h3>Related</h3><ul><li><a href='/r'>More</a>"
        f"</li></ul></aside></main><footer>© News {i}</footer></body></html>"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pages", type=int, default=40)
    args = parser.parse_args()

    pages = [
        SEED.read_bytes() if i % 2 == 0 else english_page(i).encode() for i in range(args.pages)
    ]
    settings = Settings(state_dir=Path(tempfile.mkdtemp(prefix="bench-monitor-")))
    matcher = Matcher(load_rules(ROOT / "examples" / "rules.yaml").rules)

    with SiteServer() as site, make_client(settings) as client:
        urls = [site.route(f"/a/{i}.html", page) for i, page in enumerate(pages)]

        def ours() -> None:
            for url in urls:
                article = extract_article(fetch(client, url, settings).content, url)
                amounts = find_amounts(article.text)
                matcher.match(article.text, amounts)

        def bare() -> None:
            for page in pages:
                trafilatura.extract(page)

        ours()  # warm caches (lxml, regexes, the HTTP connection)
        bare()
        ours_rates, bare_rates = [], []
        for _ in range(args.rounds):
            for fn, rates in ((bare, bare_rates), (ours, ours_rates)):
                start = time.perf_counter()
                fn()
                rates.append(len(pages) / (time.perf_counter() - start))

    ours_rate, bare_rate = statistics.median(ours_rates), statistics.median(bare_rates)
    print(
        f"pages: {len(pages)} (Arabic seed and English, ~{sum(map(len, pages)) // len(pages)} bytes each), rounds: {args.rounds}"
    )
    print(f"bare trafilatura.extract:          {bare_rate:8.1f} articles/s")
    print(f"ours (fetch+extract+amounts+match): {ours_rate:8.1f} articles/s")
    print(f"ratio: {ours_rate / bare_rate:.2f} (floor 0.75)")


if __name__ == "__main__":
    main()
