"""The SSRF guard: what it refuses by default, checked on the address actually connected to,
on every redirect hop, whatever the spelling of the host. Loopback only: the refused outside
addresses are refused by the classifier or before any connection."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import BlockedAddress, ConnectError, UnsupportedURL
from monitor.fetch import Client, fetch, make_client
from monitor.settings import Settings
from monitor.ssrf import Guard, numeric_host, refusal
from tests.support.servers import SiteServer


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "CGNAT"),
        ("0.0.0.0", "unspecified"),  # noqa: S104  (a value under test, not a bind)
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
    ],
)
def test_non_global_addresses_are_refused(address: str, reason: str) -> None:
    found = refusal(ipaddress.ip_address(address))
    assert found is not None and reason in found


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "64:ff9b::808:808"])
def test_global_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "spelling", ["2130706433", "0177.0.0.1", "0x7f.1", "0x7f000001", "017700000001", "127.1"]
)
def test_numeric_spellings_are_read_as_the_address_they_mean(spelling: str) -> None:
    assert numeric_host(spelling) == ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.parametrize("name", ["example.org", "0day.example", "localhost", "1a"])
def test_names_are_not_numbers(name: str) -> None:
    assert numeric_host(name) is None


@pytest.fixture
def guarded(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, total_timeout=3.0)


@pytest.fixture
def client(guarded: Settings) -> Iterator[Client]:
    with make_client(guarded) as c:
        yield c


def test_metadata_address_is_refused_before_any_connection(
    guarded: Settings, client: Client
) -> None:
    with pytest.raises(BlockedAddress) as caught:
        fetch(client, "http://169.254.169.254/latest/meta-data/", guarded)
    assert "link-local address 169.254.169.254" in str(caught.value)
    assert not caught.value.transient
    assert client.handles_made == 0, "a connection was begun"


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.1", "localhost", "[::ffff:127.0.0.1]"]
)
def test_loopback_is_refused_by_default_however_spelled(
    site: SiteServer, guarded: Settings, client: Client, host: str
) -> None:
    site.route("/feed.xml", "secret")
    with pytest.raises(BlockedAddress) as caught:
        fetch(client, f"http://{host}:{site.port}/feed.xml", guarded)
    assert "loopback" in str(caught.value) and "\n" not in str(caught.value)
    assert "MONITOR_ALLOWED_NETWORKS, or set MONITOR_ALLOW_PRIVATE_NETWORKS=1" in str(caught.value)
    assert site.hits("/feed.xml") == 0


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x/"])
def test_only_http_and_https(guarded: Settings, client: Client, url: str) -> None:
    with pytest.raises(UnsupportedURL):
        fetch(client, url, guarded)


def test_opt_in_reaches_loopback_even_spelled_as_a_number(site: SiteServer, tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, allow_private_networks=True)
    site.route("/feed.xml", "hello")
    with make_client(settings) as client:
        fetched = fetch(client, f"http://2130706433:{site.port}/feed.xml", settings)
    assert fetched.content == b"hello"
    assert site.requests[-1][2]["Host"] == f"2130706433:{site.port}"


def test_allow_list_opens_named_networks_only(site: SiteServer, tmp_path: Path) -> None:
    site.route("/feed.xml", "hello")
    opened = Settings(state_dir=tmp_path, allowed_networks="10.0.0.0/8, 127.0.0.0/8")
    with make_client(opened) as client:
        assert fetch(client, site.url("/feed.xml"), opened).content == b"hello"
    other = Settings(state_dir=tmp_path, allowed_networks="10.0.0.0/8")
    with make_client(other) as client, pytest.raises(BlockedAddress):
        fetch(client, site.url("/feed.xml"), other)


def test_allow_list_by_host_name_keeps_the_host_header(site: SiteServer, tmp_path: Path) -> None:
    site.route("/feed.xml", "hello")
    settings = Settings(state_dir=tmp_path, allowed_networks="localhost")
    with make_client(settings) as client:
        assert fetch(client, f"http://localhost:{site.port}/feed.xml", settings).content == b"hello"
        assert site.requests[-1][2]["Host"] == f"localhost:{site.port}"
        with pytest.raises(BlockedAddress):
            fetch(client, site.url("/feed.xml"), settings)


def test_every_redirect_hop_is_checked(site: SiteServer, tmp_path: Path) -> None:
    """An allowed host that redirects to a refused address is refused at that hop."""
    site.route("/secret", "internal")
    site.route("/jump", "", status=302, headers={"Location": site.url("/secret")})
    settings = Settings(state_dir=tmp_path, allowed_networks="localhost")
    with make_client(settings) as client, pytest.raises(BlockedAddress) as caught:
        fetch(client, f"http://localhost:{site.port}/jump", settings)
    assert site.hits("/jump") == 1 and site.hits("/secret") == 0
    assert "127.0.0.1" in str(caught.value)


def test_redirect_to_another_scheme_is_refused(site: SiteServer, tmp_path: Path) -> None:
    site.route("/jump", "", status=301, headers={"Location": "file:///etc/passwd"})
    settings = Settings(state_dir=tmp_path, allow_private_networks=True)
    with make_client(settings) as client, pytest.raises(UnsupportedURL):
        fetch(client, site.url("/jump"), settings)


def test_dns_rebinding_gains_nothing(
    site: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that answers an allowed address when checked and the refused one a moment later
    is connected to at the checked address: the second answer is never asked for."""
    site.route("/feed.xml", "internal")
    real = socket.getaddrinfo
    answers = iter(["127.0.0.2", "127.0.0.1", "127.0.0.1"])
    asked: list[str] = []

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            asked.append(host)
            return real(next(answers), *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    # 127.0.0.2 stands for a public address: allowed, and nothing listens there.
    settings = Settings(state_dir=tmp_path, allowed_networks="127.0.0.2/32", total_timeout=3.0)
    with make_client(settings) as client, pytest.raises(ConnectError):
        fetch(client, f"http://rebind.test:{site.port}/feed.xml", settings)
    assert asked == ["rebind.test"]
    assert site.hits("/feed.xml") == 0


def test_a_name_with_one_refused_address_among_others_is_refused() -> None:
    guard = Guard.from_settings(False, "")
    with pytest.raises(BlockedAddress):
        guard.resolve("localhost", 80)
