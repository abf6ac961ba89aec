"""One request on one libcurl handle: its options (``prepare``), what it received
(``Transfer``), and the error of ours a libcurl failure is (``failure``)."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

import pycurl
from urllib3.util import Url

from monitor.errors import (
    ClientError,
    ConnectError,
    FetchTimeout,
    MonitorError,
    ResponseTooLarge,
    UnsupportedURL,
)
from monitor.settings import Settings

DEFAULT_PORTS = {"http": 80, "https": 443}
# libcurl's codes for the failures we tell apart (pycurl names the first for FTP only).
_WEIRD_SERVER_REPLY = 8
# "SSL certificate OpenSSL verify result: unable to get local issuer certificate (20)"
_OPENSSL_WORDING = re.compile(
    r"^SSL(?: certificate(?: problem| OpenSSL verify result))?: |\s*\(\d+\)$"
)
# Headers whose repeats are one list; of any other, the last one counts (a repeated
# Content-Type joined by commas would name no type).
_LISTS = frozenset({"link"})
_TLS_FAILURES = frozenset({35, 53, 54, 58, 59, 64, 66, 77, 80, 82, 83, 90, 91, 98})


@dataclass(slots=True)
class Transfer:
    """What one request received: the status and headers of the final response (past any
    ``1xx``) and, for a ``2xx``, its body within the cap. libcurl calls ``header`` for each
    header line and ``write`` for each piece of the body, decompressed."""

    cap: int
    quiet_limit: float  # seconds with no byte coming in, after which the transfer is cut
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    headers_done: bool = False
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    over_cap: bool = False
    unwanted: bool = False  # the body of an error or a redirect, left unread on purpose
    not_http: bytes | None = None  # what an answer that is not HTTP began with
    last_heard: float = field(default_factory=time.monotonic)
    received: int = 0
    quiet: bool = False  # cut: nothing came for ``quiet_limit`` seconds

    def progress(self, _total: int, received: int, _up_total: int, _up: int) -> int:
        """Called by libcurl at least once a second: 1 stops the transfer."""
        now = time.monotonic()
        if received != self.received:
            self.received, self.last_heard = received, now
        elif now - self.last_heard > self.quiet_limit:
            self.quiet = True
            return 1
        return 0

    def header(self, line: bytes) -> None:
        self.last_heard = time.monotonic()
        if line.startswith(b"HTTP/"):
            code = line.split(None, 2)[1:2]
            self.status = int(code[0]) if code and code[0].isdigit() else 0
            self.headers = {}
            self.headers_done = False
        elif line in (b"\r\n", b"\n"):
            self.headers_done = True
        else:
            name, colon, value = line.decode("latin-1").partition(":")
            if colon:
                name, value = name.strip().lower(), value.strip()
                earlier = self.headers.get(name)
                if name in _LISTS and earlier is not None:
                    # One Link header per link is a list of links (RFC 9110, 5.3).
                    value = f"{earlier}, {value}"
                self.headers[name] = value

    def write(self, data: bytes) -> int | None:
        """None to go on; 0 stops the transfer."""
        if self.status is None:  # no status line came: HTTP/0.9, or another protocol
            self.not_http = data[:40]
            return 0
        if not 200 <= self.status < 300:
            self.unwanted = True
            return 0
        self.size += len(data)
        if self.size > self.cap:
            self.over_cap = True
            return 0
        self.chunks.append(data)
        return None

    def body(self) -> bytes:
        content = b"".join(self.chunks)
        self.chunks.clear()  # the handle keeps this object until its next request
        return content


def prepare(
    curl: pycurl.Curl,
    parts: Url,
    address: IPv4Address | IPv6Address,
    headers: list[str],
    settings: Settings,
    deadline: float,
) -> Transfer:
    """Set ``curl`` up for one GET of the URL ``parts``, connected to ``address`` (which the
    guard checked: never resolved twice), ending by ``deadline``; what it receives goes to
    the ``Transfer`` returned."""
    scheme = (parts.scheme or "http").lower()
    host = parts.host or ""
    port = parts.port or DEFAULT_PORTS[scheme]
    remaining = max(0.001, deadline - time.monotonic())
    # libcurl would rewrite a host such as "2130706433"; the Host header keeps it as written.
    host_header = host if parts.port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    literal = f"[{address}]" if address.version == 6 else str(address)
    transfer = Transfer(settings.max_bytes, settings.read_timeout)
    curl.setopt(pycurl.URL, f"{scheme}://{host}:{port}{parts.request_uri}")
    # The connection goes to the checked address; TLS checks the certificate against, and
    # sends SNI for, the URL's host.
    curl.setopt(pycurl.CONNECT_TO, [f"::{literal}:{port}"])
    curl.setopt(pycurl.HTTPHEADER, [*headers, f"Host: {host_header}"])
    curl.setopt(pycurl.TIMEOUT_MS, math.ceil(remaining * 1000))
    connect_ms = math.ceil(min(settings.connect_timeout, remaining) * 1000)
    curl.setopt(pycurl.CONNECTTIMEOUT_MS, connect_ms)
    curl.setopt(pycurl.HEADERFUNCTION, transfer.header)
    curl.setopt(pycurl.WRITEFUNCTION, transfer.write)
    curl.setopt(pycurl.XFERINFOFUNCTION, transfer.progress)
    return transfer


def failure(
    code: int,
    message: str,
    transfer: Transfer,
    curl: pycurl.Curl,
    settings: Settings,
    deadline: float,
) -> MonitorError:
    """The error of ours that a libcurl failure is."""
    cap = settings.max_bytes
    declared = transfer.headers.get("content-length", "")
    if code == pycurl.E_FILESIZE_EXCEEDED and declared.isdigit() and int(declared) > cap:
        return ResponseTooLarge(f"the body is {int(declared)} bytes, over the {cap}-byte cap")
    if transfer.over_cap or code == pycurl.E_FILESIZE_EXCEEDED:
        return ResponseTooLarge(f"the body passed the {cap}-byte cap")
    if transfer.quiet:
        return FetchTimeout(f"no data for {settings.read_timeout:g}s")
    if transfer.not_http is not None:
        return ConnectError(
            f"the server's answer is not HTTP we can read (it began {transfer.not_http!r})"
        )
    if code == pycurl.E_OPERATION_TIMEDOUT:
        if transfer.status is None and not curl.getinfo(pycurl.CONNECT_TIME):
            limit = (
                f"the {settings.total_timeout:g}s deadline"
                if time.monotonic() >= deadline
                else f"{settings.connect_timeout:g}s"
            )
            return FetchTimeout(f"could not connect within {limit}")
        part = "body" if transfer.headers_done else "headers"
        return FetchTimeout(f"the {part} took longer than {settings.total_timeout:g}s")
    if transfer.headers_done and code in (pycurl.E_PARTIAL_FILE, pycurl.E_RECV_ERROR):
        # Bytes as they came over the wire, as Content-Length counts them.
        got = int(curl.getinfo(pycurl.SIZE_DOWNLOAD_T))
        expected = f" of the {declared} announced" * declared.isdigit()
        return ConnectError(f"the connection broke after {got} bytes of the body{expected}")
    if code in (pycurl.E_GOT_NOTHING, pycurl.E_RECV_ERROR, pycurl.E_SEND_ERROR):
        return ConnectError(f"the server closed the connection before answering ({message})")
    if code in (_WEIRD_SERVER_REPLY, pycurl.E_PARTIAL_FILE):
        return ConnectError(f"the server's answer is not HTTP we can read ({message})")
    if code == pycurl.E_BAD_CONTENT_ENCODING:
        return ClientError(f"the body could not be decompressed: {message}")
    if code == pycurl.E_PEER_FAILED_VERIFICATION:
        reason = _OPENSSL_WORDING.sub("", message)
        return ConnectError(f"TLS failed: the certificate was not accepted ({reason})")
    if code in _TLS_FAILURES:
        return ConnectError(f"TLS failed: {message}")
    if code == pycurl.E_URL_MALFORMAT:
        return UnsupportedURL("not a URL we can parse")
    if code == pycurl.E_COULDNT_CONNECT:
        return ConnectError(f"cannot connect ({message})")
    return ConnectError(f"the request failed ({message})")
