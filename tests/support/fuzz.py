"""Fuzzing the parsers of outside input: what each may raise, what its output must respect,
and Hypothesis strategies for inputs near the real thing (feeds, pages, news text, queries,
rules files), with their bytes mangled.

``tests/test_fuzz.py`` runs each target briefly in every test run; ``tests/bench/fuzz.py`` runs
them for minutes. A crash either finds becomes a case in ``tests/test_fuzz.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from monitor.errors import FeedParseError, RulesError
from monitor.fetch import Fetched
from monitor.ingest.feeds import MAX_ENTRIES, MAX_URL_CHARS, _read_feed
from monitor.money.amounts import find_amounts
from monitor.rules.load import parse_rules
from monitor.rules.query import QueryError, parse_query
from monitor.text.extract import MAX_BODY_CHARS, MAX_TITLE_CHARS, extract_article

# Characters news and hostile input are made of: markup, entities, digits of three scripts,
# currency signs, Arabic with its marks and tatweel, Cyrillic, controls and odd spaces.
ALPHABET = st.sampled_from(
    list("<>&;#\"'=/?:[](){}*@!-_.,%$€£¥₽ \t\n\r\x00\x0b\u00a0\u202f\u2068\u2069\ufeff")
    + list("abcdefgxyzABCXYZ0123456789٠١٢٣٤٥٦٧٨٩۰۱۲")
    + list("ماسكبوتينمليونيورودولارحملةالكرملينـًٌٍَُِّْ")
    + list("ПутинмлрдрублейЁё")
)
TEXT = st.text(ALPHABET, max_size=300)
WORDS = st.sampled_from(
    [
        "Musk", "Putin", "ماسك", "بوتين", "70", "مليون", "يورو", "٧٠", "$", "€", "USD",
        "million", "milliards", "Mio.", "млрд", "рублей", "between", "and", "NEAR/3", "AND",
        "OR", "NOT", "(", ")", '"', "*", "@musk", "sanction*", "1,5", "2.000", "half",
    ]
)  # fmt: skip
NEWS = st.lists(st.one_of(WORDS, TEXT), max_size=40).map(" ".join)


def mangled(document: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """A document as it is, cut short, or with random bytes put in at one place."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        data = draw(document)
        how = draw(st.sampled_from(["as-is", "cut", "insert", "replace"]))
        if how == "as-is" or not data:
            return data
        at = draw(st.integers(0, len(data)))
        if how == "cut":
            return data[:at]
        noise = draw(st.binary(max_size=40))
        return data[:at] + noise + data[at + (len(noise) if how == "replace" else 0) :]

    return build()


DATES = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.isoformat() + "Z"
    ),
    st.sampled_from(
        [
            "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-01:00",
            "Tue, 24 Nov 2026 10:00:00 GMT", "Mon, 31 Feb 2026 25:61:61 +9999", "", "yesterday",
            "2026-13-45", "99999-01-01T00:00:00Z",
        ]
    ),
    TEXT,
)  # fmt: skip


@st.composite
def _feed(draw: st.DrawFn) -> bytes:
    atom = draw(st.booleans())
    items = []
    for _ in range(draw(st.integers(0, 6))):
        title, link, date, body = draw(TEXT), draw(st.one_of(TEXT, st.just("https://x/a"))), draw(DATES), draw(NEWS)  # fmt: skip
        if atom:
            items.append(f"<entry><title>{title}</title><link href='{link}'/><id>{draw(TEXT)}</id>"
                         f"<updated>{date}</updated><content type='html'>{body}</content></entry>")  # fmt: skip
        else:
            items.append(f"<item><title>{title}</title><link>{link}</link><guid>{draw(TEXT)}</guid>"
                         f"<pubDate>{date}</pubDate><description>{body}</description></item>")  # fmt: skip
    head = draw(st.sampled_from(["", '<?xml version="1.0" encoding="utf-8"?>',
                                 '<?xml version="1.0" encoding="windows-1256"?>',
                                 "<!DOCTYPE rss [<!ENTITY a 'aaaa'>]>"]))  # fmt: skip
    if atom:
        doc = f"{head}<feed xmlns='http://www.w3.org/2005/Atom'><title>{draw(TEXT)}</title>{''.join(items)}</feed>"  # fmt: skip
    else:
        doc = f"{head}<rss version='2.0'><channel><title>{draw(TEXT)}</title><ttl>{draw(TEXT)}</ttl>{''.join(items)}</channel></rss>"  # fmt: skip
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "windows-1256", "latin-1"]))
    return doc.encode(encoding, errors="replace")


FEEDS = mangled(_feed())


@st.composite
def _page(draw: st.DrawFn) -> bytes:
    title, lang = draw(TEXT), draw(st.sampled_from(["ar", "en", "fr", "", "x-y_z", "-"]))
    paragraphs = "".join(f"<p>{draw(NEWS)}</p>" for _ in range(draw(st.integers(0, 8))))
    meta = f"<meta property='article:published_time' content='{draw(DATES)}'>"
    doc = (f"<html lang='{lang}'><head><title>{title}</title>{meta}</head><body>"
           f"<h1>{draw(TEXT)}</h1><article>{paragraphs}</article>{draw(TEXT)}</body></html>")  # fmt: skip
    return doc.encode(draw(st.sampled_from(["utf-8", "utf-16", "windows-1256"])), errors="replace")


PAGES = mangled(_page())

QUERIES = st.lists(st.one_of(WORDS, TEXT), max_size=25).map(" ".join)

_RULES_PIECES = st.sampled_from(
    [
        "feeds:\n  - url: https://example.org/rss\n    every: 5m\n",
        "entities:\n  musk: [Musk, ماسك]\n  putin: [Putin]\n",
        "channels:\n  desk: ['json://127.0.0.1:9/x']\n",
        "rules:\n  - name: r\n    entities: {all: [musk]}\n    notify: [desk]\n",
        "  - name: q\n    query: '@musk NEAR/5 (sanction* OR عقوبات)'\n    notify: [desk]\n",
        "    money: {min: 50000000, currency: EUR}\n", "    templates: {text: '{{ title }}'}\n",
        "    cooldown: 30m\n", "    digest: hourly\n", "a: &x [*x]\n", "b: &y [a, b]\nc: *y\n",
        "rates: {SAR: 4.1}\n", "- ", ": ", "[", "]", "{", "}", "'", '"', "\n", "  ", "&", "*",
        "!!python/object:os.system [ls]\n", "%YAML 1.1\n---\n",
    ]
)  # fmt: skip
RULES_FILES = st.lists(st.one_of(_RULES_PIECES, TEXT), max_size=20).map("".join)


# --- targets: each runs a parser on one input and checks its contract -----------------------


def feed_contract(content: bytes) -> None:
    """``FeedParseError`` or a document whose values all respect their bounds."""
    fetched = Fetched("https://example.org/feed", "https://example.org/feed", 200,
                      {"content-type": "application/rss+xml"}, content)  # fmt: skip
    try:
        document = _read_feed(fetched)
    except FeedParseError:
        return
    assert len(document.entries) <= MAX_ENTRIES
    for entry in document.entries:
        assert entry.url.startswith(("http://", "https://")) and len(entry.url) <= MAX_URL_CHARS
        assert len(entry.title) <= MAX_TITLE_CHARS and "\n" not in entry.title
        if entry.published is not None:
            datetime.fromisoformat(entry.published.replace("Z", "+00:00"))
        assert entry.guid_key is None or len(entry.guid_key) < 1_000
    assert document.ttl is None or document.ttl >= 0


def page_contract(page: bytes) -> None:
    """An article, whatever the page: bounded title and body, and no exception."""
    article = extract_article(page, "https://example.org/a")
    assert len(article.text) <= MAX_BODY_CHARS and len(article.title) <= MAX_TITLE_CHARS
    if article.published is not None:
        datetime.fromisoformat(article.published.replace("Z", "+00:00"))


def money_contract(text: str) -> None:
    """Amounts that are where they say, in order, with a currency and a value."""
    for amount in find_amounts(text):
        assert 0 <= amount.start < amount.end <= len(text)
        assert text[amount.start : amount.end] == amount.text
        assert amount.value >= 0 and amount.value.is_finite()


def query_contract(query: str) -> None:
    """A tree or ``QueryError`` with an offset inside the query."""
    try:
        parse_query(query)
    except QueryError as exc:
        refused = exc
    else:
        return
    assert 0 <= refused.at <= len(query)


_YAML_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def rules_contract(text: str) -> None:
    """Rules or ``RulesError`` whose every problem has a line and column in the file."""
    try:
        parse_rules(text, "rules.yaml")
    except RulesError as exc:
        refused = exc
    else:
        return
    lines = len(_YAML_LINE_BREAK.findall(text)) + 1
    assert refused.problems
    assert all(1 <= line <= lines + 1 and column >= 1 for line, column, _ in refused.problems)


@dataclass(frozen=True)
class Target:
    name: str
    inputs: st.SearchStrategy[Any]
    check: Callable[[Any], None]


TARGETS = (
    Target("feeds", FEEDS, feed_contract),
    Target("pages", PAGES, page_contract),
    Target("money", NEWS, money_contract),
    Target("queries", QUERIES, query_contract),
    Target("rules", RULES_FILES, rules_contract),
)
