"""The one fetcher for every URL we read, feed or article.

Contract of ``fetch``:

* Only http and https. Every hop's host is resolved and checked by the SSRF guard
  (``monitor.ssrf``) and the connection is made to the checked address, the URL's host kept in
  the ``Host`` header, TLS SNI and the certificate check; redirects are followed here one hop at
  a time, each one checked, at most ``MAX_REDIRECTS``, a loop refused as soon as it closes.
* Deadlines: connect, read (no data for that long, checked every second) and a total deadline for
  the whole response, TLS handshake, headers and body, so a server trickling one byte a second
  is cut at the total deadline.
* A cap on the body read, counted after decompression (gzip, deflate, brotli) as it streams,
  so a compressed bomb stops at the cap; a declared ``Content-Length`` over the cap is refused
  unread. The body of an answer we do not use (an error, a redirect) is not read at all.
* Conditional GET: given the validators of the last response (``Validators``), it sends
  ``If-None-Match`` / ``If-Modified-Since`` and a ``304`` comes back as a ``Fetched`` with
  ``not_modified`` true and no body.
* A User-Agent naming the product and a contact URL. Failures become the errors of
  ``monitor.errors``, transient or permanent, each one line naming the URL.

Built on libcurl (pycurl), which keeps the connect and total deadlines itself, TLS handshake
included. Every article is one request, and one costs about half what it cost through urllib3,
alone as between two extractions (``tests/bench/bench_articles.py --stages`` times the latter).
"""

from __future__ import annotations

import math
import os
import re
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urljoin

import pycurl
from charset_normalizer import from_bytes
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from monitor.errors import (
    ClientError,
    ConfigError,
    ConnectError,
    FetchTimeout,
    MonitorError,
    ResponseTooLarge,
    ServerError,
    TooManyRedirects,
    UnsupportedURL,
)
from monitor.settings import Settings
from monitor.ssrf import Guard

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NOT_ASCII = re.compile(rb"[\x80-\xff]")
_LONG_ASCII = re.compile(rb"[\x00-\x7f]{64,}")
# Enough text for charset_normalizer to tell a charset by, at a bounded cost.
_CHARSET_SAMPLE = 65536
_DEFAULT_PORTS = {"http": 80, "https": 443}
# libcurl's codes for the failures we tell apart (pycurl names the first for FTP only).
_WEIRD_SERVER_REPLY = 8
# "SSL certificate OpenSSL verify result: unable to get local issuer certificate (20)"
_OPENSSL_WORDING = re.compile(
    r"^SSL(?: certificate(?: problem| OpenSSL verify result))?: |\s*\(\d+\)$"
)
_HASH_NAME = re.compile(r"[0-9a-f]{8}\.\d+")
_TLS_FAILURES = frozenset({35, 53, 54, 58, 59, 64, 66, 77, 80, 82, 83, 90, 91, 98})


@dataclass(frozen=True, slots=True)
class Validators:
    """What the last response said to send back on the next request (conditional GET)."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        sent: dict[str, str] = {}
        if self.etag:
            sent["If-None-Match"] = self.etag
        if self.last_modified:
            sent["If-Modified-Since"] = self.last_modified
        return sent


@dataclass(frozen=True, slots=True)
class Fetched:
    """A response body we read in full, within the limits (empty for ``304``)."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    content: bytes

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def validators(self) -> Validators:
        return Validators(self.headers.get("etag"), self.headers.get("last-modified"))

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None


@dataclass(slots=True)
class _Transfer:
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
                self.headers[name.strip().lower()] = value.strip()

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


class Client:
    """Our headers, deadlines and trusted authorities, the SSRF guard, and libcurl handles
    that share one cache of open connections.

    Thread-safe: one client serves every thread of a poll. A handle serves one request at a
    time (libcurl's rule), so a request takes an idle handle, or a new one, and gives it back;
    the connections the handles open are shared, and stay open from one request, thread or
    poll to the next. A forked child never uses its parent's handles or connections.
    """

    def __init__(self, settings: Settings) -> None:
        self.guard = Guard.from_settings(settings.allow_private_networks, settings.allowed_networks)
        self.user_agent = f"User-Agent: {settings.user_agent}"
        self.accept_encoding = ""  # every encoding libcurl decodes (gzip, deflate, brotli)
        self.handles_made = 0
        self._options = _handle_options(settings)
        self._lock = threading.Lock()
        self._start()

    def _start(self) -> None:
        """A new cache of connections, and no handle yet."""
        self._pid = os.getpid()
        self._share = pycurl.CurlShare()
        self._share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_CONNECT)
        self._share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_SSL_SESSION)
        self._idle: list[pycurl.Curl] = []
        self._members: set[int] = set()  # ids of the handles on this cache

    @contextmanager
    def handle(self) -> Iterator[pycurl.Curl]:
        """A handle for one request, given back after it."""
        with self._lock:
            if self._pid != os.getpid():
                # Inherited through a fork: closing them would close (and, over TLS, end) the
                # parent's connections too. They are kept, never used.
                _INHERITED.append((self._share, self._idle))
                self._start()
            curl = self._idle.pop() if self._idle else self._new_handle()
        try:
            yield curl
        finally:
            with self._lock:
                if id(curl) in self._members:
                    self._idle.append(curl)
                elif self._pid == os.getpid():
                    curl.close()  # made before ``clear``

    def _new_handle(self) -> pycurl.Curl:
        curl = pycurl.Curl()
        for option, value in self._options:
            curl.setopt(option, value)
        curl.setopt(pycurl.ACCEPT_ENCODING, self.accept_encoding)
        curl.setopt(pycurl.SHARE, self._share)
        self._members.add(id(curl))
        self.handles_made += 1
        return curl

    def clear(self) -> None:
        """Close the connections; a handle busy meanwhile is closed when its request ends."""
        with self._lock:
            if self._pid != os.getpid():
                return
            idle = self._idle
            self._start()
        for curl in idle:
            curl.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.clear()


_INHERITED: list[tuple[pycurl.CurlShare, list[pycurl.Curl]]] = []


def _handle_options(settings: Settings) -> list[tuple[int, Any]]:
    """What every request of a handle shares."""
    return [
        (pycurl.NOSIGNAL, 1),  # threads: no SIGALRM for timeouts
        (pycurl.PROXY, ""),  # the environment's proxy settings would bypass the SSRF guard
        (pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS),
        (pycurl.FOLLOWLOCATION, 0),  # each hop is checked here
        (pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1),
        # An answer with no status line reaches ``_Transfer.write``, which names what it is.
        (pycurl.HTTP09_ALLOWED, 1),
        (pycurl.MAXFILESIZE_LARGE, settings.max_bytes),  # a declared length, refused unread
        (pycurl.NOPROGRESS, 0),  # ``_Transfer.progress`` keeps the read deadline
        *_trust(settings.ca_bundle),
    ]


def _trust(bundle: Path | None) -> list[tuple[int, Any]]:
    """The system's certificate authorities (where Python's ``ssl`` finds them, so
    ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` apply), and those of ``bundle`` too.

    A folder of certificates named by hash is read one certificate at a time, as a connection
    needs it; a bundle file is read whole into every handle (a megabyte each). So the folder
    is preferred, with ``bundle`` beside it."""
    system = ssl.get_default_verify_paths()
    if bundle is not None:
        try:
            ssl.create_default_context().load_verify_locations(cafile=str(bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"MONITOR_CA_BUNDLE={bundle}: not a readable PEM file of certificates ({exc})"
            ) from None
    if system.capath and _hashed(Path(system.capath)):
        folder: list[tuple[int, Any]] = [(pycurl.CAPATH, system.capath)]
        return folder if bundle is None else [*folder, (pycurl.CAINFO, str(bundle))]
    own = Path(system.cafile).read_bytes() if system.cafile else b""
    extra_pem = bundle.read_bytes() if bundle is not None else b""
    return [(pycurl.CAINFO_BLOB, own + b"\n" + extra_pem)]


def _hashed(folder: Path) -> bool:
    """Whether ``folder`` holds certificates by hash, as OpenSSL looks them up."""
    return any(_HASH_NAME.fullmatch(entry.name) for entry in folder.iterdir())


def make_client(settings: Settings) -> Client:
    """A client with our deadlines, User-Agent and SSRF guard; no automatic retries."""
    return Client(settings)


def guess_charset(content: bytes) -> str | None:
    """The charset ``charset_normalizer`` finds for a body that declares none, or a wrong one.

    Judged where the text leaves ASCII: that may be far down a page, between kilobytes of
    ASCII markup and scripts that would drown it in a sample of the whole.
    """
    first = _NOT_ASCII.search(content)
    if first is None:
        return None
    text = _LONG_ASCII.sub(b" ", content[first.start() : first.start() + 16 * _CHARSET_SAMPLE])
    best = from_bytes(text[:_CHARSET_SAMPLE]).best()
    return str(best.encoding) if best is not None else None


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
    return None


def _check_scheme(url: str, subject: str) -> None:
    if not url.lower().startswith(("http://", "https://")):
        raise UnsupportedURL(
            f"only http and https URLs are fetched, not {url[:80]!r}", subject=subject
        )


def fetch(
    client: Client,
    url: str,
    settings: Settings,
    accept: str = "*/*",
    validators: Validators | None = None,
) -> Fetched:
    """GET ``url`` within the limits of the module docstring; errors of ``monitor.errors``."""
    _check_scheme(url, url)
    deadline = time.monotonic() + settings.total_timeout
    visited: set[str] = set()
    current = url
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            if current in visited:
                raise TooManyRedirects(f"redirect loop at {current}", subject=url)
            visited.add(current)
            status, headers, content = _request(
                client, current, settings, accept, validators, deadline
            )
            location = headers.get("location")
            if status in _REDIRECTS and location:
                current = urljoin(current, location.strip())
                _check_scheme(current, url)
                continue
            _check_status(url, status, headers)
            return Fetched(url, current, status, headers, content)
    except MonitorError as exc:
        if exc.subject is None:
            exc.subject = url
            exc.args = (f"{url}: {exc.reason}",)
        raise
    except (LocationParseError, ValueError):
        raise UnsupportedURL("not a URL we can parse", subject=url) from None
    raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", subject=url)


def _request(
    client: Client,
    url: str,
    settings: Settings,
    accept: str,
    validators: Validators | None,
    deadline: float,
) -> tuple[int, dict[str, str], bytes]:
    """One GET of one hop, connected to the address the guard checked (never resolved twice):
    its status, headers (names in lower case) and body."""
    parts = parse_url(url)
    scheme = (parts.scheme or "http").lower()
    host = parts.host or ""
    if not host:
        raise UnsupportedURL("the URL has no host")
    port = parts.port or _DEFAULT_PORTS[scheme]
    lookup_limit = min(settings.connect_timeout, max(0.01, deadline - time.monotonic()))
    address = client.guard.resolve(host, port, lookup_limit)
    remaining = max(0.001, deadline - time.monotonic())
    # libcurl would rewrite a host such as "2130706433"; the Host header keeps it as written.
    host_header = host if parts.port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    sent = [client.user_agent, f"Accept: {accept}", f"Host: {host_header}"]
    if validators is not None:
        sent += [f"{name}: {value}" for name, value in validators.headers().items()]
    literal = f"[{address}]" if address.version == 6 else str(address)
    transfer = _Transfer(settings.max_bytes, settings.read_timeout)
    with client.handle() as curl:
        curl.setopt(pycurl.URL, f"{scheme}://{host}:{port}{parts.request_uri}")
        # The connection goes to the checked address; TLS checks the certificate against, and
        # sends SNI for, the URL's host.
        curl.setopt(pycurl.CONNECT_TO, [f"::{literal}:{port}"])
        curl.setopt(pycurl.HTTPHEADER, sent)
        curl.setopt(pycurl.TIMEOUT_MS, math.ceil(remaining * 1000))
        connect_ms = math.ceil(min(settings.connect_timeout, remaining) * 1000)
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, connect_ms)
        curl.setopt(pycurl.HEADERFUNCTION, transfer.header)
        curl.setopt(pycurl.WRITEFUNCTION, transfer.write)
        curl.setopt(pycurl.XFERINFOFUNCTION, transfer.progress)
        try:
            curl.perform()
        except pycurl.error as exc:
            if not transfer.unwanted:
                code, message = exc.args
                failure = _failure(int(code), str(message), transfer, curl, settings, deadline)
                raise failure from None
    if transfer.status is None:
        raise ConnectError("the server closed the connection before answering")
    return transfer.status, transfer.headers, transfer.body()


def _failure(
    code: int,
    message: str,
    transfer: _Transfer,
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


def _check_status(url: str, status: int, headers: dict[str, str]) -> None:
    if status == 429 or status >= 500:
        raise ServerError(
            f"the server answered HTTP {status}", subject=url, retry_after=_retry_after(headers)
        )
    if status >= 400:
        raise ClientError(f"the server answered HTTP {status}", subject=url)
