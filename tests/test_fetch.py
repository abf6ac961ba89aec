"""The one fetcher: limits hold, failures become transient or permanent errors."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.errors import (
    ClientError,
    ConnectError,
    FetchTimeout,
    ResponseTooLarge,
    ServerError,
    UnsupportedURL,
)
from monitor.fetch import Client, fetch, make_client
from monitor.settings import Settings
from tests.servers import SiteServer, free_port


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
