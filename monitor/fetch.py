"""The one fetcher for every URL we read, feed or article.

Contract of ``fetch``:

* Only http and https. Every hop's host is resolved and checked by the SSRF guard
  (``monitor.ssrf``) and the connection is made to the checked address, the URL's host kept in
  the ``Host`` header and TLS SNI; redirects are followed here one hop at a time, each one
  checked, at most ``MAX_REDIRECTS``, a loop refused as soon as it closes.
* Deadlines: connect, read (between two reads) and a total deadline for the whole response,
  headers and body, so a server trickling one byte a second is cut at the total deadline
  (``Watchdog`` shuts the socket down when headers are still arriving at the deadline).
* A cap on the body read, while streaming and after decompression (gzip, deflate, brotli), so a
  compressed bomb stops at the cap; a declared ``Content-Length`` over the cap is refused unread.
* Conditional GET: given the validators of the last response (``Validators``), it sends
  ``If-None-Match`` / ``If-Modified-Since`` and a ``304`` comes back as a ``Fetched`` with
  ``not_modified`` true and no body.
* A User-Agent naming the product and a contact URL. Failures become the errors of
  ``monitor.errors``, transient or permanent, each one line naming the URL.

Built on urllib3: a request costs half what it costs through httpx (0.49 ms against 0.98 ms on
loopback), which matters when every article is one request.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import re
import socket
import ssl
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urljoin

import urllib3
from charset_normalizer import from_bytes
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    LocationParseError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import parse_url
from urllib3.util.request import ACCEPT_ENCODING

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
# Small reads: each one is followed by the size and deadline checks, and urllib3 decompresses
# at most this much per read, so a bomb never inflates far past the cap in memory.
CHUNK = 16384
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NOT_ASCII = re.compile(rb"[\x80-\xff]")
_LONG_ASCII = re.compile(rb"[\x00-\x7f]{64,}")
# Enough text for charset_normalizer to tell a charset by, at a bounded cost.
_CHARSET_SAMPLE = 65536
_DEFAULT_PORTS = {"http": 80, "https": 443}


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


class Watchdog:
    """One thread that shuts down the socket of a request whose total deadline has passed.

    A socket timeout bounds each read, not their sum: a server sending its status line and
    headers a byte at a time would hold a thread for hours, and they are read inside
    http.client, where no deadline is checked. The body's reads check the deadline themselves
    (``_read_capped``), so only the wait for the headers is watched.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._due: list[tuple[float, int]] = []
        self._watched: dict[int, socket.socket] = {}
        self._tickets = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, sock: socket.socket) -> int:
        """Shut ``sock`` down at ``deadline`` unless ``forget`` is called first."""
        with self._lock:
            ticket = next(self._tickets)
            self._watched[ticket] = sock
            heapq.heappush(self._due, (deadline, ticket))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="fetch-watchdog", daemon=True
                )
                self._thread.start()
            if self._due[0][1] == ticket:
                self._lock.notify()
        return ticket

    def forget(self, ticket: int) -> bool:
        """The request is answered: its socket is never touched again (it may be reused).
        False when too late: the socket was shut down."""
        with self._lock:
            return self._watched.pop(ticket, None) is not None

    def _run(self) -> None:
        with self._lock:
            while True:
                while self._due and self._due[0][1] not in self._watched:
                    heapq.heappop(self._due)
                if not self._due:
                    self._lock.wait()
                    continue
                deadline, ticket = self._due[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                heapq.heappop(self._due)
                with suppress(OSError):
                    self._watched.pop(ticket).shutdown(socket.SHUT_RDWR)


_WATCHDOG = Watchdog()
# The total deadline of the fetch running in this thread, for the connection reading headers.
_current = threading.local()


class _CutAtDeadline(Exception):
    """The watchdog shut the socket down before the headers were in."""


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response, its status line and headers read under the watchdog."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self._watched_socket = sock

    def begin(self) -> None:
        deadline: float | None = getattr(_current, "deadline", None)
        if deadline is None:
            super().begin()
            return
        ticket = _WATCHDOG.watch(deadline, self._watched_socket)
        try:
            super().begin()
        finally:
            # Whatever the cut socket produced (an error, or headers cut short that look
            # complete), it is not the answer.
            if not _WATCHDOG.forget(ticket):
                raise _CutAtDeadline


class _DeadlineHTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _DeadlineHTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


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


class Client:
    """Connection pools (keyed by checked address and host name), our headers and the guard.

    Thread-safe, as urllib3's ``PoolManager`` is: one client serves every thread of a poll.
    """

    def __init__(self, settings: Settings, pools_per_host: int = 4) -> None:
        self.guard = Guard.from_settings(settings.allow_private_networks, settings.allowed_networks)
        self.headers = {"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING}
        tls: dict[str, Any] = {}
        if settings.ca_bundle is not None:
            tls["ssl_context"] = _context_trusting(settings.ca_bundle)
        self.pools = urllib3.PoolManager(
            num_pools=256,
            maxsize=pools_per_host,
            timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
            retries=False,
            **tls,
        )
        self.pools.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def clear(self) -> None:
        self.pools.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.clear()


def _context_trusting(bundle: Path) -> ssl.SSLContext:
    """TLS settings that trust the system's authorities and those of ``bundle``."""
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=str(bundle))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"MONITOR_CA_BUNDLE={bundle}: not a readable PEM file of certificates ({exc})"
        ) from None
    return context


def make_client(settings: Settings) -> Client:
    """A client with our deadlines, User-Agent and SSRF guard; no automatic retries."""
    return Client(settings, pools_per_host=max(4, settings.per_host_concurrency))


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
            _current.deadline = deadline
            try:
                response = _request(client, current, settings, accept, validators, deadline)
            finally:
                _current.deadline = None
            headers = {k.lower(): v for k, v in response.headers.items()}
            location = headers.get("location")
            content = None
            try:
                if response.status in _REDIRECTS and location:
                    current = urljoin(current, location.strip())
                    _check_scheme(current, url)
                    continue
                _check_status(url, response.status, headers)
                if response.status == 304:
                    content = b""
                else:
                    content = _read_capped(response, url, settings, deadline)
            finally:
                # A body left unread (an error, a redirect, a cap) would spoil the connection
                # for the next request: close it; a body read in full hands it back to the pool.
                if content is not None:
                    response.release_conn()
                else:
                    response.close()
            return Fetched(url, current, response.status, headers, content)
    except MonitorError as exc:
        if exc.subject is None:
            exc.subject = url
            exc.args = (f"{url}: {exc.reason}",)
        raise
    except _CutAtDeadline:
        raise FetchTimeout(
            f"the headers took longer than {settings.total_timeout:g}s", subject=url
        ) from None
    except NewConnectionError as exc:  # before its base class, ConnectTimeoutError
        raise ConnectError(f"cannot connect ({exc.__cause__ or exc})", subject=url) from None
    except ConnectTimeoutError:
        limit = (
            f"the {settings.total_timeout:g}s deadline"
            if time.monotonic() >= deadline
            else f"{settings.connect_timeout:g}s"
        )
        raise FetchTimeout(f"could not connect within {limit}", subject=url) from None
    except ReadTimeoutError:
        raise FetchTimeout(f"no data for {settings.read_timeout:g}s", subject=url) from None
    except DecodeError as exc:
        raise ClientError(f"the body could not be decompressed: {exc}", subject=url) from None
    except (LocationParseError, ValueError):
        raise UnsupportedURL("not a URL we can parse", subject=url) from None
    except SSLError as exc:  # before its base class, HTTPError
        cause = exc.args[0] if exc.args else exc
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = f"the certificate was not accepted ({cause.verify_message})"
        else:
            reason = str(getattr(cause, "reason", None) or cause)
        raise ConnectError(f"TLS failed: {reason}", subject=url) from None
    except ProtocolError as exc:  # before its base class, HTTPError: we did connect
        cause = exc.args[1] if len(exc.args) > 1 else exc
        if isinstance(cause, (http.client.RemoteDisconnected, ConnectionError)):
            what = f"the server closed the connection before answering ({cause!r})"
        else:
            what = f"the server's answer is not HTTP we can read ({cause})"
        raise ConnectError(what, subject=url) from None
    except HTTPError as exc:
        cannot = getattr(exc, "reason", None) or exc
        raise ConnectError(f"cannot connect ({cannot})", subject=url) from None
    raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", subject=url)


def _request(
    client: Client,
    url: str,
    settings: Settings,
    accept: str,
    validators: Validators | None,
    deadline: float,
) -> Any:
    """One GET of one hop, connected to the address the guard checked (never resolved twice)."""
    parts = parse_url(url)
    scheme = (parts.scheme or "http").lower()
    host = parts.host or ""
    if not host:
        raise UnsupportedURL("the URL has no host")
    port = parts.port or _DEFAULT_PORTS[scheme]
    lookup_limit = min(settings.connect_timeout, max(0.01, deadline - time.monotonic()))
    address = client.guard.resolve(host, port, lookup_limit)
    # TLS checks the certificate against, and sends SNI for, the URL's host, not the address.
    tls = {"server_hostname": host, "assert_hostname": host} if scheme == "https" else None
    pool = client.pools.connection_from_host(str(address), port, scheme, pool_kwargs=tls)
    remaining = max(0.01, deadline - time.monotonic())
    headers = {
        **client.headers,
        "Accept": accept,
        "Host": host if parts.port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}",
        **(validators.headers() if validators else {}),
    }
    return pool.urlopen(
        "GET",
        parts.request_uri,
        headers=headers,
        preload_content=False,
        redirect=False,
        retries=False,
        assert_same_host=False,
        timeout=urllib3.Timeout(
            connect=min(settings.connect_timeout, remaining),
            read=min(settings.read_timeout, remaining),
        ),
    )


def _check_status(url: str, status: int, headers: dict[str, str]) -> None:
    if status == 429 or status >= 500:
        raise ServerError(
            f"the server answered HTTP {status}", subject=url, retry_after=_retry_after(headers)
        )
    if status >= 400:
        raise ClientError(f"the server answered HTTP {status}", subject=url)


def _read_capped(
    response: urllib3.BaseHTTPResponse, url: str, settings: Settings, deadline: float
) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_bytes:
        raise ResponseTooLarge(
            f"the body is {int(declared)} bytes, over the {settings.max_bytes}-byte cap",
            subject=url,
        )
    chunks: list[bytes] = []
    size = 0
    while True:
        # read1 returns what has arrived (never waits for a full chunk), so the deadline is
        # checked between any two packets however slowly they trickle.
        try:
            chunk = response.read1(CHUNK, decode_content=True)
        except ProtocolError:
            # Bytes as they came over the wire, as Content-Length counts them.
            got, expected = response.tell(), f" of the {declared} announced" * declared.isdigit()
            raise ConnectError(
                f"the connection broke after {got} bytes of the body{expected}", subject=url
            ) from None
        if not chunk:
            break
        size += len(chunk)
        if size > settings.max_bytes:
            raise ResponseTooLarge(
                f"the body passed the {settings.max_bytes}-byte cap", subject=url
            )
        if time.monotonic() > deadline:
            raise FetchTimeout(
                f"the body took longer than {settings.total_timeout:g}s", subject=url
            )
        chunks.append(chunk)
    return b"".join(chunks)
