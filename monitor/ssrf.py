"""The SSRF guard: which addresses the fetcher may connect to.

Feeds and the pages they link to are chosen by strangers, and the worker runs inside our own
network, so by default only globally routable unicast addresses are reached. Refused: loopback,
private (RFC 1918, ULA), link-local (169.254.0.0/16 with the cloud metadata address, fe80::/10),
shared address space (CGNAT, 100.64.0.0/10), multicast, reserved and unspecified addresses, and
the same addresses hidden inside IPv6 (IPv4-mapped, IPv4-compatible, NAT64, 6to4).

The check is made on the address the fetcher connects to: ``monitor.fetch`` resolves a host
with ``resolve``, checks every address, and connects to the checked one (keeping the URL's host
in the ``Host`` header and TLS SNI), on every redirect hop. A name that resolves to a global
address when checked and to a private one a moment later (DNS rebinding) gains nothing: it is
resolved once per hop and never again.

A lookup is bounded in time like the connection it precedes: a resolver that does not answer
costs the fetch its deadline, not the resolver's own timeouts (seconds per server, per try).

Host spellings that resolvers read as numbers (``2130706433``, ``0177.0.0.1``, ``0x7f.1``) are
read here the same way, so they are checked as the address they mean.

``Guard.allow_all`` (``MONITOR_ALLOW_PRIVATE_NETWORKS=1``) turns the guard off; the allow-list
(``MONITOR_ALLOWED_NETWORKS``: host names and CIDR networks, comma-separated) opens named hosts
and networks to tests and on-premise feeds.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from monitor.errors import BlockedAddress, ConnectError, FetchTimeout

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _NAT64) or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why the guard refuses ``address`` by default, or None when it is globally routable."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = refusal(inner)
            return f"{reason} (inside IPv6 {address})" if reason else None
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "shared (CGNAT)"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "not globally routable"),
    )
    for failed, reason in checks:
        if failed:
            return f"{reason} address {address}"
    return None


def numeric_host(host: str) -> IPAddress | None:
    """The address a host written as a number means, however spelled; None for a name.

    Accepts dotted quads, IPv6 literals (with or without brackets) and the legacy forms
    ``inet_aton`` reads (decimal ``2130706433``, octal ``0177.0.0.1``, hex ``0x7f.1``).
    """
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if not all(part and part.isalnum() for part in bare.split(".")) or not bare[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


@dataclass(frozen=True)
class Guard:
    """What may be reached: globally routable addresses, plus the allow-list."""

    allow_all: bool = False
    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def from_settings(cls, allow_all: bool, allowed: str) -> Guard:
        """From ``MONITOR_ALLOW_PRIVATE_NETWORKS`` and ``MONITOR_ALLOWED_NETWORKS``."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for item in (part.strip() for part in allowed.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(allow_all, frozenset(hosts), tuple(networks))

    def check(self, host: str, address: IPAddress) -> None:
        """Raise ``BlockedAddress`` unless ``address`` (which ``host`` resolved to) may be
        reached."""
        if self.allow_all or host.lower().rstrip(".") in self.hosts:
            return
        if any(address in network for network in self.networks):
            return
        reason = refusal(address)
        if reason is not None:
            raise BlockedAddress(
                f"refused to connect to {host}: {reason} (to fetch from it, list it in "
                "MONITOR_ALLOWED_NETWORKS, or set MONITOR_ALLOW_PRIVATE_NETWORKS=1)"
            )

    def resolve(self, host: str, port: int, timeout: float | None = None) -> IPAddress:
        """The first address of ``host`` to connect to, after checking every address it has;
        ``FetchTimeout`` when the lookup takes longer than ``timeout`` seconds.

        Every address is checked, not just the first, so a name cannot pair a public address
        with a private one and hope for the latter.
        """
        literal = numeric_host(host)
        if literal is not None:
            self.check(host, literal)
            return literal
        try:
            infos = _lookup(host, port, timeout)
        except (OSError, UnicodeError) as exc:
            raise _unresolved(host, exc) from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise _unresolved(host, OSError("no address"))
        for address in addresses:
            self.check(host, address)
        return addresses[0]


def _lookup(host: str, port: int, timeout: float | None) -> list[Any]:
    """``getaddrinfo``, given up after ``timeout`` seconds. The C call cannot be interrupted,
    so it runs in a thread of its own, left to finish (or fail) by itself when it takes too
    long; a thread per lookup costs far less than the lookup."""
    if timeout is None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    outcome: list[Any] = []
    done = threading.Event()

    def look_up() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the caller, raised there
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=look_up, name=f"lookup {host}", daemon=True).start()
    if not done.wait(timeout):
        raise FetchTimeout(f"could not resolve {host} within {timeout:g}s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return list(outcome[0])


def _unresolved(host: str, exc: Exception) -> ConnectError:
    return ConnectError(f"cannot resolve {host} ({exc})")
