"""Articles per second through article processing, against bare trafilatura on the same pages.

Ours: fetch from a loopback server, extract (title, body, language, date), find amounts and
match the example rules (``Matcher.examine``, as the worker does). Baseline:
``trafilatura.extract`` alone on the same HTML, already in memory. The floor is a ratio of
0.75: the body must be extracted once, not once for the text and again for the metadata.

Each round times bare, then ours, a fraction of a second apart; the ratio is the median of the
rounds' ratios, so that the machine's speed drifting between rounds (a shared virtual
machine's does) cancels out in each pair.

    python tests/bench/bench_articles.py [--rounds N] [--stages]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.fetch import fetch, make_client  # noqa: E402
from monitor.money.amounts import find_amounts  # noqa: E402
from monitor.rules.load import load_rules  # noqa: E402
from monitor.rules.match import Matcher  # noqa: E402
from monitor.settings import Settings  # noqa: E402
from monitor.text.extract import extract_article  # noqa: E402
from monitor.text.words import FoldedText  # noqa: E402
from tests.support.servers import free_port  # noqa: E402

SEED = ROOT / "monitor" / "demo" / "articles" / "ar-musk-putin.html"
# An English news story of ordinary length and density: a dozen distinct paragraphs, two sums
# of money, names that the example rules watch.
ENGLISH_PARAGRAPHS = [
    "Elon Musk has been in regular contact with Russian President Vladimir Putin since late "
    "2022, the Wall Street Journal reported, citing several current and former officials.",
    "The conversations touched on business, personal matters and geopolitical tensions, the "
    "newspaper said, adding that officials in the United States, Europe and Russia confirmed them.",
    "The reported contacts are likely to worry Washington, where the administration regards "
    "Russia as a dangerous adversary and where Musk's companies hold sensitive contracts.",
    "Through SpaceX, the entrepreneur has access to classified information about American "
    "defence programmes, in particular launch services and reconnaissance satellites.",
    "Musk has also backed the Republican candidate Donald Trump. Filings showed this week that "
    "he gave 40 million euros to the campaign this month alone, and 70 million between July "
    "and September.",
    "Trump has said that Musk would have a role in his government if he won the election, a "
    "prospect that officials in Kyiv have greeted with open concern.",
    "Both men appear to share the view that relations with Moscow should improve, even at the "
    "expense of Ukraine, which depends heavily on American military and financial support.",
    "Without that support, analysts say, it would be almost impossible for Ukraine to continue "
    "the war, and any peace talks could end with the loss of Crimea and parts of the Donbas.",
    "The Starlink satellite network was opened to Ukraine early in the war at the request of "
    "its government and quickly became part of its defence, including the use of drones.",
    "Later that year Musk proposed a peace plan under which Crimea would remain part of Russia. "
    "Ukraine and its allies rejected it as a reward for the invasion.",
    "Russian units have since been seen using Starlink terminals too, bought not from the "
    "company but through third countries, according to people familiar with the matter.",
    "Musk did not respond to questions from the newspaper. The Kremlin said Putin had spoken "
    "once by phone with him, about space and future technologies, and denied further contact.",
]


def english_page(i: int) -> str:
    body = "".join(f"<p>{p}</p>" for p in ENGLISH_PARAGRAPHS)
    nav = "".join(f'<a href="/s{k}">Section {k}</a> ' for k in range(30))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Story {i}</title>'
        f"</head><body><header><nav>{nav}</nav></header><main><article><h1>Story {i}: Musk "
        f"and Putin</h1>{body}</article><aside><h3>Related</h3><ul><li><a href='/r'>More</a>"
        f"</li></ul></aside></main><footer>© News {i}</footer></body></html>"
    )


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"page server did not listen on {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument(
        "--stages", action="store_true", help="also time each step of ours, page by page"
    )
    args = parser.parse_args()

    pages = [
        SEED.read_bytes() if i % 2 == 0 else english_page(i).encode() for i in range(args.pages)
    ]
    settings = Settings(
        state_dir=Path(tempfile.mkdtemp(prefix="bench-monitor-")),
        allow_private_networks=True,  # the page server is on loopback
    )
    matcher = Matcher(load_rules(ROOT / "examples" / "rules.yaml").rules)

    pages_dir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    for i, page in enumerate(pages):
        (pages_dir / f"{i}.html").write_bytes(page)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("pageserver.py")), str(pages_dir), str(port)]
    )
    try:
        wait_for_port(port)
        urls = [f"http://127.0.0.1:{port}/{i}.html" for i in range(len(pages))]
        with make_client(settings) as client:

            def ours() -> None:
                for url in urls:
                    article = extract_article(fetch(client, url, settings).content, url)
                    matcher.examine(article.text)

            def bare() -> None:
                for page in pages:
                    trafilatura.extract(page)

            stages = dict.fromkeys(("fetch", "extract", "fold", "amounts", "match"), 0.0)

            def ours_by_stage() -> None:
                for url in urls:
                    t0 = time.perf_counter()
                    content = fetch(client, url, settings).content
                    t1 = time.perf_counter()
                    article = extract_article(content, url)
                    t2 = time.perf_counter()
                    folded = FoldedText(article.text)
                    t3 = time.perf_counter()
                    amounts = find_amounts(article.text, folded)
                    t4 = time.perf_counter()
                    matcher.match(article.text, amounts, folded=folded)
                    t5 = time.perf_counter()
                    for stage, took in zip(
                        stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True
                    ):
                        stages[stage] += took

            ours()  # warm caches (lxml, regexes, the HTTP connection)
            bare()
            ours_rates: list[float] = []
            bare_rates: list[float] = []
            for _ in range(args.rounds):
                for fn, rates in ((bare, bare_rates), (ours, ours_rates)):
                    start = time.perf_counter()
                    fn()
                    rates.append(len(pages) / (time.perf_counter() - start))
                if args.stages:
                    ours_by_stage()
    finally:
        server.terminate()
        server.wait()

    ours_rate, bare_rate = statistics.median(ours_rates), statistics.median(bare_rates)
    ratios = sorted(o / b for o, b in zip(ours_rates, bare_rates, strict=True))
    print(
        f"pages: {len(pages)} (Arabic seed and English, ~{sum(map(len, pages)) // len(pages)} bytes each), rounds: {args.rounds}"
    )
    print(f"bare trafilatura.extract:          {bare_rate:8.1f} articles/s")
    print(f"ours (fetch+extract+amounts+match): {ours_rate:8.1f} articles/s")
    print(
        f"ratio: {statistics.median(ratios):.2f} (floor 0.75), median of the rounds' ratios; "
        f"rounds from {ratios[0]:.2f} to {ratios[-1]:.2f}; "
        f"{ours_rate / bare_rate:.2f} from the median rates"
    )
    if args.stages:
        per_page = {k: v * 1000 / (args.rounds * len(pages)) for k, v in stages.items()}
        print(
            "ours by step, ms per page (timed between the rounds above): "
            + ", ".join(f"{k} {v:.2f}" for k, v in per_page.items())
            + f"; bare {1000 / bare_rate:.2f}"
        )


if __name__ == "__main__":
    main()
