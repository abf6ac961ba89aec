"""The one fetcher: limits hold, failures become transient or permanent errors."""

from __future__ import annotations

import contextlib
import gc
import gzip
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import (
    ClientError,
    ConfigError,
    ConnectError,
    FetchTimeout,
    ResponseTooLarge,
    ServerError,
    UnsupportedURL,
)
from monitor.fetch import Client, Request, fetch, fetch_all, make_client
from monitor.settings import Settings
from tests.support.servers import SiteServer, free_port, new_authority


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        state_dir=tmp_path,
        max_bytes=10_000,
        read_timeout=1.0,
        total_timeout=2.0,
        allow_private_networks=True,  # the test site is on loopback
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    with make_client(settings) as c:
        yield c


def test_reads_body_and_names_itself(site: SiteServer, settings: Settings, client: Client) -> None:
    url = site.route("/a", "hello")
    fetched = fetch(client, url, settings)
    assert fetched.content == b"hello"
    agent = site.requests[-1][2].get("User-Agent", "")
    assert agent.startswith("news-monitor/") and settings.contact_url in agent


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, ServerError), (503, ServerError), (429, ServerError), (404, ClientError)],
)
def test_status_errors(
    site: SiteServer, settings: Settings, client: Client, status: int, error: type[Exception]
) -> None:
    url = site.route("/x", "no", status=status)
    with pytest.raises(error) as caught:
        fetch(client, url, settings)
    assert url in str(caught.value) and str(status) in str(caught.value)


def test_size_cap_applies_after_decompression(
    site: SiteServer, settings: Settings, client: Client
) -> None:
    bomb = gzip.compress(b"a" * 5_000_000)
    assert len(bomb) < settings.max_bytes
    url = site.route("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(ResponseTooLarge):
        fetch(client, url, settings)


def test_slow_server_hits_the_deadline(
    site: SiteServer, settings: Settings, client: Client
) -> None:
    url = site.route("/slow", "late", delay=3.0)
    with pytest.raises(FetchTimeout):
        fetch(client, url, settings)


def test_refused_connection_is_transient(settings: Settings, client: Client) -> None:
    with pytest.raises(ConnectError) as caught:
        fetch(client, f"http://127.0.0.1:{free_port()}/", settings)
    assert caught.value.transient


def test_only_http(settings: Settings, client: Client) -> None:
    with pytest.raises(UnsupportedURL):
        fetch(client, "file:///etc/passwd", settings)


# --------------------------------------------------------------------------- TLS


@pytest.fixture
def feeds_tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """TLS settings for a server of feeds.test, and the bundle of the authority behind it."""
    return new_authority("feeds.test", tmp_path)


@pytest.fixture
def names_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """``feeds.test`` and ``other.test`` resolve to 127.0.0.1 (no resolver is asked)."""
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host in ("feeds.test", "other.test") else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@pytest.fixture
def tls_site(
    feeds_tls: tuple[ssl.SSLContext, Path],
) -> Iterator[tuple[SiteServer, list[str]]]:
    """An HTTPS site with a certificate for feeds.test, and the server names clients asked for."""
    context, _ = feeds_tls
    asked: list[str] = []
    context.sni_callback = lambda _socket, name, _context: asked.append(name)  # type: ignore[assignment,func-returns-value]
    with SiteServer(tls=context) as site:
        yield site, asked


@pytest.fixture
def trusting(settings: Settings, feeds_tls: tuple[ssl.SSLContext, Path]) -> Settings:
    """The settings, trusting the authority behind feeds.test too."""
    return settings.model_copy(update={"ca_bundle": feeds_tls[1]})


@pytest.mark.usefixtures("names_on_loopback")
def test_https_is_checked_against_the_urls_host_though_we_connect_to_its_address(
    tls_site: tuple[SiteServer, list[str]], trusting: Settings
) -> None:
    """The connection goes to the address the SSRF guard checked, while the certificate, the
    server name (SNI) and the Host header are the URL's host's."""
    site, asked = tls_site
    site.route("/feed.xml", "<rss/>")
    with make_client(trusting) as client:
        fetched = fetch(client, f"https://feeds.test:{site.port}/feed.xml", trusting)
    assert fetched.content == b"<rss/>"
    assert asked == ["feeds.test"]
    assert site.requests[-1][2]["Host"] == f"feeds.test:{site.port}"


@pytest.mark.usefixtures("names_on_loopback")
def test_a_certificate_for_another_name_is_refused(
    tls_site: tuple[SiteServer, list[str]], trusting: Settings
) -> None:
    site, _ = tls_site
    site.route("/feed.xml", "<rss/>")
    url = f"https://other.test:{site.port}/feed.xml"
    with make_client(trusting) as client, pytest.raises(ConnectError) as caught:
        fetch(client, url, trusting)
    assert str(caught.value).startswith(f"{url}: TLS failed: ")
    assert "other.test" in str(caught.value)
    assert site.hits("/feed.xml") == 0


@pytest.mark.usefixtures("names_on_loopback")
def test_an_authority_nobody_trusts_is_refused(
    tls_site: tuple[SiteServer, list[str]], settings: Settings, client: Client
) -> None:
    site, _ = tls_site
    site.route("/feed.xml", "<rss/>")
    url = f"https://feeds.test:{site.port}/feed.xml"
    with pytest.raises(ConnectError) as caught:
        fetch(client, url, settings)
    assert str(caught.value).startswith(f"{url}: TLS failed: ")
    assert "the certificate was not accepted (unable to get local issuer certificate)" in str(
        caught.value
    )
    assert site.hits("/feed.xml") == 0


def test_a_bundle_that_is_not_pem_is_a_configuration_error(
    settings: Settings, tmp_path: Path
) -> None:
    bundle = tmp_path / "authorities.pem"
    bundle.write_text("not a certificate\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        make_client(settings.model_copy(update={"ca_bundle": bundle}))
    assert f"MONITOR_CA_BUNDLE={bundle}: not a readable PEM file" in str(caught.value)


@pytest.mark.parametrize("store", ["folder", "file"])
@pytest.mark.usefixtures("names_on_loopback")
def test_the_systems_authorities_are_trusted_from_a_folder_or_a_file(
    tls_site: tuple[SiteServer, list[str]],
    feeds_tls: tuple[ssl.SSLContext, Path],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    store: str,
) -> None:
    """Where the system keeps its authorities (``SSL_CERT_DIR``, ``SSL_CERT_FILE``), with no
    bundle of ours: a folder of certificates by hash, as Debian's, or one file."""
    site, _ = tls_site
    site.route("/feed.xml", "<rss/>")
    authority = feeds_tls[1]
    if store == "folder":
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("no openssl command to name a certificate by its hash")
        digest = subprocess.run(
            [openssl, "x509", "-hash", "-noout", "-in", str(authority)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        folder = tmp_path / "certs"
        folder.mkdir()
        shutil.copy(authority, folder / f"{digest}.0")
        monkeypatch.setenv("SSL_CERT_DIR", str(folder))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
    else:
        monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-folder"))
        monkeypatch.setenv("SSL_CERT_FILE", str(authority))
    with make_client(settings) as client:
        fetched = fetch(client, f"https://feeds.test:{site.port}/feed.xml", settings)
    assert fetched.content == b"<rss/>"


# --------------------------------------------------------------------------- connections


class _KeepAliveServer:
    """Answers every request on a connection with the same page, and counts connections."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                self.accepted += 1
                threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            request = b""
            while data := conn.recv(4096):
                request += data
                while b"\r\n\r\n" in request:
                    _, request = request.split(b"\r\n\r\n", 1)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npage")


def test_a_connection_serves_the_next_polls_of_its_thread(
    settings: Settings, client: Client
) -> None:
    """A worker's threads live on from poll to poll: the connections one opened serve its next
    polls. (Threads at once each keep their own: libcurl does not support one cache of
    connections used by several threads at once.)"""
    server = _KeepAliveServer()
    try:
        with ThreadPoolExecutor(1) as pool:  # one thread of a worker's pool, three polls
            polls = [
                pool.submit(fetch, client, f"http://127.0.0.1:{server.port}/a", settings)
                for _poll in range(3)
            ]
            bodies = [poll.result().content for poll in polls]
        assert bodies == [b"page"] * 3
        assert server.accepted == 1
    finally:
        server.listener.close()


def test_a_finished_fetch_leaves_nothing_for_the_cycle_collector(
    site: SiteServer, settings: Settings, client: Client
) -> None:
    """What a fetch holds is freed when it ends. Left to the cyclic garbage collector, it
    would pile up between its full collections, which a busy worker runs seldom."""
    urls = [site.route(f"/{n}", "page") for n in range(3)]
    gc.collect()
    gc.disable()
    try:
        for _, outcome in fetch_all(client, [Request(url) for url in urls], settings):
            assert not isinstance(outcome, Exception)
        left = gc.collect()
    finally:
        gc.enable()
    assert left == 0
