"""Hostile servers: bodies too large or compressed into bombs, answers too slow (connect,
lookup, read and total deadlines, over TCP and TLS), cut short or not HTTP, redirect loops.

Each case ends in one clear log line (or one error naming the URL), a bounded cost and no
crash. Costs are asserted as counts (bytes the server got to send, requests it saw), never as
timings.
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

from monitor.context import Context
from monitor.errors import ConnectError, FetchTimeout, ResponseTooLarge, TooManyRedirects
from monitor.fetch import fetch
from monitor.pipeline import read_article
from monitor.settings import Settings
from tests.hostile.checks import RSS_TYPE, SUMMARY, entry_for, failed_poll, one_line
from tests.hostile.servers import RawServer, endless_page, head, pause, trickle
from tests.support.feeds import rss
from tests.support.servers import SiteServer, new_authority

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
    script = lambda: chain([head(Content_Length="100"), b"<rss>"], pause(3))  # noqa: E731
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
    return new_authority("127.0.0.1", tmp_path_factory.mktemp("tls"))


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
