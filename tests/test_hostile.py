"""Hostile input: feeds and pages that misbehave on purpose, served on loopback.

Each case ends in one clear log line (or one error naming the URL), a bounded cost and no
crash. Costs are asserted as counts (bytes the server got to send, requests it saw, elements
handed to the extractor), never as timings.
"""

from __future__ import annotations

import gzip
import logging
import socket
import ssl
import threading
import tracemalloc
import zlib
from collections.abc import Callable
from itertools import chain
from pathlib import Path
from typing import Any

import brotli
import pytest
import trafilatura
import trustme

from monitor.context import Context
from monitor.errors import (
    ConnectError,
    FeedParseError,
    FetchTimeout,
    MonitorError,
    ResponseTooLarge,
    TooManyRedirects,
)
from monitor.extract import MAX_HTML_CHARS, MAX_TREE_SIZE, extract_article, extract_page
from monitor.feeds import Entry, canonical_url
from monitor.fetch import fetch
from monitor.pipeline import read_article
from monitor.polling import poll_feed
from monitor.settings import Settings
from tests.feeds import rss
from tests.hostile_servers import (
    RawServer,
    billion_laughs,
    endless_page,
    head,
    pause,
    pdf,
    png,
    trickle,
)
from tests.servers import SiteServer

SUMMARY = "What the feed says of the story: Musk and Putin met to talk about the money."
ARABIC = "قال ماسك إنه تحدث مع بوتين عبر الهاتف عن خطة بقيمة 70 مليون يورو لدعم حملته."
RSS_TYPE = "application/rss+xml"
MUSK_RULES = (
    "feeds:\n  - url: http://127.0.0.1:9/feed.xml\nentities:\n  musk: [Musk]\n"
    "channels:\n  desk: ['json://127.0.0.1:9/x']\n"
    "rules:\n  - {name: musk, entities: {any: [musk]}, notify: [desk]}\n"
)


@pytest.fixture
def make_context(
    tmp_path: Path, contexts: Callable[[Settings, str], Context]
) -> Callable[..., Context]:
    """A context on the embedded store; settings as keywords over loopback-friendly defaults."""

    def make(**overrides: Any) -> Context:
        values: dict[str, Any] = {
            "state_dir": tmp_path / "state",
            "allow_private_networks": True,  # the hostile servers are on loopback
            "read_timeout": 1.0,
            "total_timeout": 1.0,
            **overrides,
        }
        return contexts(Settings(**values), MUSK_RULES)

    return make


@pytest.fixture
def extractions(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each call of trafilatura's extractor, as its ``fast`` flag; it still runs for real."""
    calls: list[bool] = []
    real = trafilatura.bare_extraction

    def counted(*args: Any, **kwargs: Any) -> Any:
        options = kwargs.get("options")
        calls.append(bool(options.fast if options is not None else kwargs.get("fast")))
        return real(*args, **kwargs)

    monkeypatch.setattr(trafilatura, "bare_extraction", counted)
    return calls


@pytest.fixture
def ctx(make_context: Callable[..., Context]) -> Context:
    return make_context()


def entry_for(url: str) -> Entry:
    return Entry(
        url=url,
        key=canonical_url(url),
        feed_url="http://127.0.0.1/feed.xml",
        title="Musk and Putin",
        summary=f"<p>{SUMMARY}</p>",
    )


def one_line(caplog: pytest.LogCaptureFixture, *fragments: str) -> str:
    """The one warning (or worse) logged, which must name each fragment on a single line."""
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1, [f"{r.name}: {r.getMessage()}" for r in records]
    message = records[0].getMessage()
    assert "\n" not in message and records[0].exc_info is None
    for fragment in fragments:
        assert fragment in message
    return message


def failed_poll(ctx: Context, url: str, error: type[MonitorError]) -> MonitorError:
    """Poll a feed that must fail with ``error``; the error names the feed's URL."""
    with pytest.raises(error) as caught:
        poll_feed(ctx, url)
    assert url in str(caught.value)
    return caught.value


# ------------------------------------------------------------------ size


def test_a_body_with_no_length_is_cut_at_the_default_cap_while_streaming(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    """A 50 MB single-line page with no Content-Length: the read stops at the default cap
    (a few MB) and the article falls back to the feed's summary."""
    total = 50_000_000
    cap = ctx.settings.max_bytes
    assert cap == Settings.model_fields["max_bytes"].default
    with RawServer(lambda: chain([head(Content_Type="text/html")], endless_page(total))) as server:
        with caplog.at_level(logging.WARNING):
            article = read_article(ctx, entry_for(server.url("/long.html")))
        assert not article.from_page and article.text == SUMMARY
        one_line(caplog, server.url("/long.html"), f"{cap}-byte cap")
        served = server.first()
        assert served.cut_by_client and served.sent < total // 2


def test_a_declared_length_over_the_cap_is_refused_unread(make_context: Any) -> None:
    ctx = make_context(max_bytes=100_000)
    total = 50_000_000
    script = lambda: chain([head(Content_Length=str(total))], endless_page(total))  # noqa: E731
    with RawServer(script) as server:
        with pytest.raises(ResponseTooLarge) as caught:
            fetch(ctx.client, server.url("/big"), ctx.settings)
        assert f"the body is {total} bytes" in str(caught.value)
        served = server.first()
        assert served.cut_by_client and served.sent < total // 2


def _compressed(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "deflate":
        return zlib.compress(data)
    return bytes(brotli.compress(data))


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_a_compression_bomb_served_as_a_feed_stops_at_the_cap(
    make_context: Any, site: SiteServer, caplog: pytest.LogCaptureFixture, encoding: str
) -> None:
    """A feed of a few kB that inflates to 50 MB: the cap counts inflated bytes, and memory
    stays near the cap, never near the 50 MB."""
    cap = 1_000_000
    ctx = make_context(max_bytes=cap)
    inflated = rss([{"title": "t", "link": "http://127.0.0.1/a", "description": "x"}]).replace(
        "<description>x", "<description>" + " " * 50_000_000
    )
    bomb = _compressed(encoding, inflated.encode())
    assert len(bomb) < cap
    url = site.route(
        "/bomb.xml", bomb, headers={"Content-Encoding": encoding}, content_type=RSS_TYPE
    )
    tracemalloc.start()
    try:
        with caplog.at_level(logging.WARNING):
            error = failed_poll(ctx, url, ResponseTooLarge)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert f"{cap}-byte cap" in str(error)
    one_line(caplog, "feed failed", url, f"{cap}-byte cap")
    assert peak < 4 * cap


def test_a_gzip_bomb_served_as_a_page_falls_back_to_the_summary(
    make_context: Any, site: SiteServer, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = make_context(max_bytes=1_000_000)
    page = b"<html><body><p>" + b"Musk " * 10_000_000 + b"</p></body></html>"
    url = site.route("/bomb.html", gzip.compress(page), headers={"Content-Encoding": "gzip"})
    with caplog.at_level(logging.WARNING):
        article = read_article(ctx, entry_for(url))
    assert article.text == SUMMARY
    one_line(caplog, url, "1000000-byte cap")


def test_a_page_whose_body_is_itself_gzip_is_never_inflated(
    ctx: Context, site: SiteServer, caplog: pytest.LogCaptureFixture
) -> None:
    """No Content-Encoding, the body itself a gzip file: the fetcher's cap saw the compressed
    size only, so nothing after it may inflate it (trafilatura would, up to 20 MB)."""
    page = b"<html><body><article><p>" + b"Musk and Putin met. " * 1_000_000 + b"</p>"
    url = site.route("/page.html", gzip.compress(page))
    with caplog.at_level(logging.WARNING):
        article = read_article(ctx, entry_for(url))
    assert article.text == SUMMARY
    one_line(caplog, url, "gzip")


# ------------------------------------------------------------------ time


def test_a_host_that_never_accepts_is_cut_at_the_connect_deadline(make_context: Any) -> None:
    """A listener whose backlog is full: the kernel drops our SYN and connect() waits."""
    ctx = make_context(connect_timeout=0.3, total_timeout=30.0)
    with socket.create_server(("127.0.0.1", 0), backlog=0) as listener:
        port = listener.getsockname()[1]
        with (
            socket.create_connection(("127.0.0.1", port)),  # fills the backlog
            pytest.raises(FetchTimeout) as caught,
        ):
            fetch(ctx.client, f"http://127.0.0.1:{port}/feed.xml", ctx.settings)
    assert "could not connect within 0.3s" in str(caught.value)


def test_a_resolver_that_does_not_answer_is_cut_at_the_connect_deadline(
    make_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The system's resolver would wait seconds per server and per try; the fetch gives up at
    its own connect deadline, with the lookup still hanging."""
    ctx = make_context(connect_timeout=0.3, total_timeout=30.0)
    real = socket.getaddrinfo
    answer = threading.Event()
    asked = threading.Event()

    def dead_resolver(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "slow-dns.test":
            return real(host, *args, **kwargs)
        asked.set()
        answer.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", dead_resolver)
    try:
        with pytest.raises(FetchTimeout) as caught:
            fetch(ctx.client, "http://slow-dns.test/feed.xml", ctx.settings)
        assert asked.is_set() and not answer.is_set()  # given up while the lookup hung
        assert "could not resolve slow-dns.test within 0.3s" in str(caught.value)
        assert "http://slow-dns.test/feed.xml" in str(caught.value)
    finally:
        answer.set()


def test_a_name_that_does_not_resolve_says_so(
    make_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_context()

    def no_such_name(host: Any, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)  # asks no resolver off loopback
    with pytest.raises(ConnectError) as caught:
        fetch(ctx.client, "http://no-such-host.test/feed.xml", ctx.settings)
    assert "cannot resolve no-such-host.test (" in str(caught.value)
    assert "Name or service not known" in str(caught.value)


def test_a_server_that_goes_quiet_is_cut_at_the_read_deadline(make_context: Any) -> None:
    ctx = make_context(read_timeout=0.3, total_timeout=30.0)
    script = lambda: chain([head(Content_Length="100"), b"<rss>"], pause(1.5))  # noqa: E731
    with RawServer(script) as server:
        with pytest.raises(FetchTimeout) as caught:
            fetch(ctx.client, server.url("/feed.xml"), ctx.settings)
        assert "no data for 0.3s" in str(caught.value)


def _trickled_headers() -> tuple[bytes, bytes]:
    return b"", head(Content_Type=RSS_TYPE).rstrip(b"\r\n") + b"\r\n" + b"X-Slow: a\r\n" * 200


def _trickled_body() -> tuple[bytes, bytes]:
    body = rss([{"title": "t", "link": "http://127.0.0.1/a"}]).encode()
    return head(Content_Length=str(len(body))), body


@pytest.fixture(scope="module")
def loopback_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A server's TLS settings with a certificate for 127.0.0.1, and the PEM bundle of the
    authority that issued it."""
    authority = trustme.CA()
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_side)
    bundle = tmp_path_factory.mktemp("tls") / "authorities.pem"
    authority.cert_pem.write_to_path(str(bundle))
    return server_side, bundle


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
@pytest.mark.parametrize(
    ("response", "part"), [(_trickled_headers, "headers"), (_trickled_body, "body")]
)
def test_a_response_trickling_in_is_cut_at_the_total_deadline(
    make_context: Any,
    loopback_tls: tuple[ssl.SSLContext, Path],
    caplog: pytest.LogCaptureFixture,
    response: Callable[[], tuple[bytes, bytes]],
    part: str,
    secure: bool,
) -> None:
    """Sent at once, then a byte every 50 ms: each read is quick, so only the total deadline
    (1 s) can end it, long before the 100 headers http.client would otherwise wait for, or
    the body's end; over TLS as over plain TCP."""
    server_side, bundle = loopback_tls
    ctx = make_context(ca_bundle=bundle)
    at_once, trickled = response()
    script = lambda: chain([at_once], trickle(trickled, 0.05))  # noqa: E731
    with RawServer(script, tls=server_side if secure else None) as server:
        url = server.url("/feed.xml")
        assert url.startswith("https://" if secure else "http://")
        with caplog.at_level(logging.WARNING):
            error = failed_poll(ctx, url, FetchTimeout)
        assert f"{part} took longer than 1s" in str(error)
        one_line(caplog, "feed failed", url, f"{part} took longer than 1s")
        served = server.first()
        assert served.cut_by_client and served.sent < len(at_once) + len(trickled) // 2


def test_a_body_cut_short_says_how_much_came_of_what_was_announced(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    """The server announces 100 bytes, sends 5 and hangs up: the error says so, not that
    the server could not be reached."""
    script = lambda: iter([head(Content_Length="100"), b"<rss>"])  # noqa: E731
    with RawServer(script) as server:
        url = server.url("/feed.xml")
        with caplog.at_level(logging.WARNING):
            error = failed_poll(ctx, url, ConnectError)
    assert "connection broke after 5 bytes of the body of the 100 announced" in str(error)
    assert "cannot connect" not in str(error)
    one_line(caplog, "feed failed", url, "connection broke after 5 bytes")


def test_a_server_that_hangs_up_without_answering_is_told_apart_from_one_not_reached(
    ctx: Context,
) -> None:
    with RawServer(lambda: iter([b""])) as server:
        error = failed_poll(ctx, server.url("/feed.xml"), ConnectError)
    assert "closed the connection before answering" in str(error)
    assert "cannot connect" not in str(error)


def test_an_answer_that_is_not_http_says_so(ctx: Context) -> None:
    with RawServer(lambda: iter([b"SSH-2.0-OpenSSH_9.6\r\n\r\n"])) as server:
        error = failed_poll(ctx, server.url("/feed.xml"), ConnectError)
    assert "answer is not HTTP we can read" in str(error)
    assert "SSH-2.0" in str(error)


# ------------------------------------------------------------------ redirects


def test_a_redirect_loop_is_refused_as_soon_as_it_closes(
    ctx: Context, site: SiteServer, caplog: pytest.LogCaptureFixture
) -> None:
    site.route("/a", "", status=302, headers={"Location": "/b"})
    site.route("/b", "", status=301, headers={"Location": site.url("/a")})
    with caplog.at_level(logging.WARNING):
        error = failed_poll(ctx, site.url("/a"), TooManyRedirects)
    assert f"redirect loop at {site.url('/a')}" in str(error)
    one_line(caplog, "feed failed", "redirect loop")
    assert site.hits("/a") == 1 and site.hits("/b") == 1


def test_more_than_five_redirects_are_refused(
    ctx: Context, site: SiteServer, caplog: pytest.LogCaptureFixture
) -> None:
    for hop in range(10):
        site.route(f"/r{hop}", "", status=307, headers={"Location": f"/r{hop + 1}"})
    site.route("/r10", rss([{"title": "t", "link": "http://127.0.0.1/a"}]), content_type=RSS_TYPE)
    with caplog.at_level(logging.WARNING):
        error = failed_poll(ctx, site.url("/r0"), TooManyRedirects)
    assert "more than 5 redirects" in str(error)
    one_line(caplog, "feed failed", "more than 5 redirects")
    assert [site.hits(f"/r{hop}") for hop in range(8)] == [1] * 6 + [0, 0]


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
