"""Hostile documents: malformed feeds, entity expansion and external entities, wrong
charsets, a feed that is HTML, pages that are PDFs or images, pages too long or with too many
elements for the extractor.

Each case ends in one clear log line, a bounded cost and no crash. Costs are asserted as counts
(elements handed to the extractor, extractions run), never as timings.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from monitor.context import Context
from monitor.errors import FeedParseError
from monitor.fetch import fetch
from monitor.ingest.polling import poll_feed
from monitor.pipeline import read_article
from monitor.text.extract import MAX_HTML_CHARS, MAX_TREE_SIZE, extract_article, extract_page
from tests.hostile.checks import ARABIC, RSS_TYPE, SUMMARY, entry_for, failed_poll, one_line
from tests.hostile.servers import billion_laughs, pdf, png
from tests.support.feeds import rss
from tests.support.servers import SiteServer

# ------------------------------------------------------------------ markup: feeds


def test_a_malformed_feed_is_read_leniently_and_says_so(
    ctx: Context, site: SiteServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An undefined entity and an item never closed: the items with links are still read."""
    broken = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>'
        "<item><title>one &bogus; <b></title><link>http://127.0.0.1/one</link></item>"
        "<item><title>two</title><link>http://127.0.0.1/two</link>"
        "</channel>"
    )
    url = site.route("/feed.xml", broken, content_type=RSS_TYPE)
    with caplog.at_level(logging.INFO, logger="monitor"):
        assert len(poll_feed(ctx, url)) == 2
    lenient = [r.getMessage() for r in caplog.records if "not well-formed" in r.getMessage()]
    assert len(lenient) == 1 and url in lenient[0] and "undefined entity" in lenient[0]


@pytest.mark.parametrize("levels", [5, 9])
def test_entity_expansion_in_a_feed_never_happens(
    ctx: Context, site: SiteServer, caplog: pytest.LogCaptureFixture, levels: int
) -> None:
    """Billion laughs: 10^5 "lol"s pass expat's own amplification limit, 10^9 trip it after
    seconds of work; neither is expanded, because no entity declaration reaches the parser."""
    url = site.route("/feed.xml", billion_laughs(levels), content_type=RSS_TYPE)
    with caplog.at_level(logging.INFO, logger="monitor"):
        assert len(poll_feed(ctx, url)) == 1
    stored = ctx.store.get(f"entry:{entry_for('http://127.0.0.1/laugh').article_id}")
    assert stored is not None
    assert "lollol" not in stored["title"] + stored["summary"]
    assert len(stored["title"]) < 100
    dropped = [r.getMessage() for r in caplog.records if "declares entities" in r.getMessage()]
    assert len(dropped) == 1 and url in dropped[0]


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>',
        '<!DOCTYPE rss [<!ENTITY x SYSTEM "{site}/entity">]>',
        '<!DOCTYPE rss [<!ENTITY % dtd SYSTEM "{site}/dtd"> %dtd;]>',
        '<!DOCTYPE rss SYSTEM "{site}/dtd">',
    ],
    ids=["file", "http", "parameter-entity", "external-dtd"],
)
def test_external_entities_in_a_feed_are_never_read_or_fetched(
    ctx: Context, site: SiteServer, tmp_path: Path, doctype: str
) -> None:
    """Each document is well-formed once its entity is resolved, so a parser that resolved
    it would read the item's title from the file or the server."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE", encoding="utf-8")
    site.route("/entity", "FETCHED-ENTITY")
    site.route("/dtd", '<!ENTITY x "FETCHED-DTD">')
    feed = (
        '<?xml version="1.0" encoding="utf-8"?>'  # one line: see ``billion_laughs``
        + doctype.format(secret=secret, site=site.base_url)
        + '\n<rss version="2.0"><channel><title>x</title><link>http://127.0.0.1/</link>'
        "<description>d</description><item><title>a &x; b</title>"
        "<link>http://127.0.0.1/xxe</link><description>d</description>"
        "</item></channel></rss>"
    )
    url = site.route("/feed.xml", feed, content_type=RSS_TYPE)
    assert len(poll_feed(ctx, url)) == 1
    stored = ctx.store.get(f"entry:{entry_for('http://127.0.0.1/xxe').article_id}")
    assert stored is not None
    assert "TOP-SECRET" not in stored["title"] and "FETCHED" not in stored["title"]
    assert site.hits("/entity") == 0 and site.hits("/dtd") == 0
    assert site.hits("/feed.xml") == 1


@pytest.mark.parametrize(
    ("declaration", "content_type"),
    [
        ("", RSS_TYPE),  # nothing declared: XML says UTF-8
        (' encoding="utf-8"', RSS_TYPE),  # declared wrongly in the document
        ("", f"{RSS_TYPE}; charset=utf-8"),  # declared wrongly by the server
        ("", "text/xml"),  # text/xml without a charset means US-ASCII
        (' encoding="windows-1256"', RSS_TYPE),  # declared rightly: must stay right
    ],
)
def test_an_arabic_feed_in_windows_1256_reads_right_whatever_it_declares(
    ctx: Context, site: SiteServer, declaration: str, content_type: str
) -> None:
    feed = rss([{"title": ARABIC, "link": "http://127.0.0.1/ar", "description": ARABIC}])
    feed = feed.replace(' encoding="utf-8"', declaration)
    url = site.route("/feed.xml", feed.encode("cp1256"), content_type=content_type)
    assert len(poll_feed(ctx, url)) == 1
    stored = ctx.store.get(f"entry:{entry_for('http://127.0.0.1/ar').article_id}")
    assert stored is not None and stored["title"] == ARABIC and stored["summary"] == ARABIC


def test_a_feed_url_that_serves_html_is_not_a_feed(
    ctx: Context, site: SiteServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The usual mistake: the site's home page given as the feed. The error says so and names
    the feed the page links to."""
    page = (
        "<!doctype html><html><head><title>News</title>"
        '<link rel="alternate" type="application/rss+xml" href="/world/rss.xml">'
        "</head><body><p>Today's news</p></body></html>"
    )
    url = site.route("/", page)
    with caplog.at_level(logging.WARNING):
        error = failed_poll(ctx, url, FeedParseError)
    assert "an HTML page, not an RSS or Atom feed" in str(error)
    assert site.url("/world/rss.xml") in str(error)
    one_line(caplog, "feed failed", url, "an HTML page")


# ------------------------------------------------------------------ markup: pages


def arabic_page(meta: str = "", script: str = "") -> str:
    paragraphs = "".join(f"<p>{ARABIC} {ARABIC}</p>" for _ in range(6))
    return (
        f'<html lang="ar"><head>{meta}<title>خبر</title>{script}</head>'
        f"<body><article>{paragraphs}</article>{script}</body></html>"
    )


@pytest.mark.parametrize(
    ("meta", "content_type"),
    [
        ("", "text/html"),
        ('<meta charset="utf-8">', "text/html"),
        ("", "text/html; charset=utf-8"),
        ("", "text/html; charset=iso-8859-1"),
        ('<meta charset="windows-1256">', "text/html"),
    ],
)
def test_an_arabic_page_in_windows_1256_reads_right_whatever_it_declares(
    ctx: Context, site: SiteServer, meta: str, content_type: str
) -> None:
    url = site.route("/ar.html", arabic_page(meta).encode("cp1256"), content_type=content_type)
    article = read_article(ctx, entry_for(url))
    assert article.from_page and ARABIC in article.text


def test_the_charset_of_a_page_is_found_where_its_text_is(ctx: Context, site: SiteServer) -> None:
    """20 kB of ASCII script above and below the story: a charset guessed from the page's
    head and tail (trafilatura's way) sees only ASCII and turns the Arabic into U+FFFD."""
    script = "<script>" + "var x = 1;\n" * 2000 + "</script>"
    url = site.route("/ar.html", arabic_page(script=script).encode("cp1256"))
    article = read_article(ctx, entry_for(url))
    assert article.from_page and ARABIC in article.text


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (
            pdf("Musk and Putin met to talk about the money, a long story."),
            "application/pdf",
            "application/pdf",  # named by its Content-Type, before its bytes are looked at
        ),
        (png(64, 64), "image/png", "image/png"),
        (png(64, 64), "text/html", "PNG image"),  # a server that lies about it
        (pdf("Musk and Putin met."), "application/octet-stream", "PDF"),
    ],
)
def test_a_page_that_is_a_pdf_or_an_image_never_reaches_the_extractor(
    ctx: Context,
    site: SiteServer,
    caplog: pytest.LogCaptureFixture,
    extractions: list[bool],
    body: bytes,
    content_type: str,
    kind: str,
) -> None:
    url = site.route("/story", body, content_type=content_type)
    with caplog.at_level(logging.WARNING):
        article = read_article(ctx, entry_for(url))
    assert not article.from_page and article.text == SUMMARY
    assert extractions == []
    one_line(caplog, url, kind, "feed's summary")


def test_a_page_whose_content_type_is_an_image_is_refused_unparsed(
    ctx: Context, site: SiteServer, caplog: pytest.LogCaptureFixture, extractions: list[bool]
) -> None:
    """An SVG chart is text, so no first bytes give it away; its Content-Type does. Parsed as
    a page, its legend would be the article."""
    legend = "".join(
        f'<text x="10" y="{20 * line}">Musk and Putin met to talk about the money.</text>'
        for line in range(20)
    )
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="600" height="400">{legend}</svg>'
    url = site.route("/chart", svg, content_type="image/svg+xml")
    page = fetch(ctx.client, url, ctx.settings)
    with caplog.at_level(logging.WARNING):
        article = extract_page(page, entry_for(url))
    assert not article.from_page and article.text == SUMMARY and extractions == []
    one_line(caplog, url, "image/svg+xml, not HTML", "feed's summary")


def test_a_page_longer_than_the_html_cap_is_cut_before_parsing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A single-line page past the cap (as ``monitor check`` may read from a file, with no
    fetcher's cap in front): what lies past the cap is never parsed, though it is a paragraph
    the extractor would keep."""
    story = "<p>Musk and Putin met to talk about the money.</p>" * 20
    page = f"<html><body><article>{story}<!--{' ' * MAX_HTML_CHARS}-->"
    page += "<p>BEYOND-THE-CAP: this paragraph lies past the cap, and it is never read.</p>"
    page += "</article></body></html>"
    with caplog.at_level(logging.WARNING):
        article = extract_article(page.encode(), "http://127.0.0.1/long.html")
    assert article.from_page and "Musk and Putin met" in article.text
    assert "BEYOND-THE-CAP" not in article.text
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(f"cut to {MAX_HTML_CHARS} characters before parsing" in w for w in warnings)


def test_a_page_with_too_many_elements_is_not_extracted(
    caplog: pytest.LogCaptureFixture, extractions: list[bool]
) -> None:
    """Extraction time grows faster than the element count (tables: seconds per 10,000), so
    a tree over ``MAX_TREE_SIZE`` never reaches trafilatura."""
    cells = "<p>Musk and Putin met to talk about the money.</p>" * (MAX_TREE_SIZE + 1)
    page = f"<html><body><article>{cells}</article></body></html>"
    with caplog.at_level(logging.WARNING):
        article = extract_article(page.encode(), "http://127.0.0.1/huge.html", entry_for("u"))
    assert extractions == [] and not article.from_page and article.text == SUMMARY
    one_line(caplog, "http://127.0.0.1/huge.html", f"more than {MAX_TREE_SIZE}")


def test_the_costly_second_extraction_runs_on_small_pages_only(
    extractions: list[bool],
) -> None:
    """Little text from the main extractor brings in trafilatura's fallbacks, which cost
    seconds on a large tree; they run on small trees only."""
    small = "<html><body><article><p>Musk met Putin.</p></article></body></html>"
    extract_article(small.encode(), "http://127.0.0.1/small.html")
    assert extractions == [True, False]
    extractions.clear()
    large = "<html><body>" + "<div><b>x</b></div>" * 20_000 + "<p>Musk met Putin.</p></body></html>"
    extract_article(large.encode(), "http://127.0.0.1/large.html")
    assert extractions == [True]
