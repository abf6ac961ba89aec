"""Real loopback servers for tests and benchmarks: a web site and a webhook sink over HTTP
(and HTTPS, with a certificate authority of the tests' own), and what every loopback server
shares (a free port, stopping as a context manager). Redis and SMTP live beside them in
``redis_server`` and ``mail``.

Every server listens on 127.0.0.1 on a free port and is a plain class (no pytest needed),
usable as a context manager.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import urlsplit

import trustme

HOST = "127.0.0.1"
#: The machine's shared Redis; tests must never use it.
FORBIDDEN_PORTS = frozenset({6379})


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now (another process may still take it)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in FORBIDDEN_PORTS:
            return port


class _Stoppable:
    """Mixin giving servers `with` support: the block's end calls `stop()`."""

    def stop(self) -> None:
        """Stop the server and release its resources."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- HTTP helpers


class _QuietServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with daemon handler threads, carrying a back-reference to its owner."""

    daemon_threads = True
    owner: Any


class _QuietHandler(BaseHTTPRequestHandler):
    """Request handler that does not log to stderr and reads request bodies."""

    server: _QuietServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr log."""

    def read_body(self) -> bytes:
        """Read the request body (Content-Length or chunked)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_plain(self, status: int, body: bytes = b"", *, head: bool = False) -> None:
        """Answer `status` with a small text body."""
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


class _ThreadedHTTP(_Stoppable):
    """Runs a `_QuietServer` with the given handler in a daemon thread on a free port."""

    def __init__(self, handler: type[_QuietHandler], tls: ssl.SSLContext | None = None) -> None:
        self._lock = threading.Condition()
        self._httpd = _QuietServer((HOST, 0), handler)
        self._httpd.owner = self
        self.port = int(self._httpd.server_address[1])
        self.scheme = "http"
        if tls is not None:  # HTTPS: the handshake is made as each connection is accepted
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT (https:// when serving TLS)"""
        return f"{self.scheme}://{HOST}:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def new_authority(name: str, directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A certificate authority of the test's own: server-side TLS settings with its
    certificate for ``name`` (a host name or an IP address), and the PEM bundle a client must
    trust, written in ``directory``."""
    authority = trustme.CA()
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(name).configure_cert(server_side)
    bundle = directory / "authorities.pem"
    authority.cert_pem.write_to_path(str(bundle))
    return server_side, bundle


# --------------------------------------------------------------------------- web site


@dataclass(frozen=True)
class Route:
    """What SiteServer answers for one path."""

    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0


class _SiteHandler(_QuietHandler):
    """Serves the routes of the owning SiteServer."""

    protocol_version = "HTTP/1.0"

    def _serve(self, head: bool) -> None:
        site = cast(SiteServer, self.server.owner)
        with site.serving():
            self._answer(site, head)

    def _answer(self, site: SiteServer, head: bool) -> None:
        route = site._record(self.command, self.path, dict(self.headers.items()))
        if route is None:
            self.send_plain(404, b"not found", head=head)
            return
        if route.delay > 0:
            time.sleep(route.delay)
        self.send_response(route.status)
        names = {name.lower() for name in route.headers}
        if "content-type" not in names:
            self.send_header("Content-Type", route.content_type)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(route.body)))
        for name, value in route.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            # the client may have given up already (timeout tests)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(route.body)

    def do_GET(self) -> None:
        """Answer GET with the route's body."""
        self._serve(head=False)

    def do_HEAD(self) -> None:
        """Answer HEAD with the route's headers only."""
        self._serve(head=True)


class SiteServer(_ThreadedHTTP):
    """A web site on 127.0.0.1 whose pages (routes) tests set and change at run time."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._routes: dict[str, Route] = {}
        #: Every request as (method, path with query, headers).
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._arrivals: list[tuple[str, float]] = []
        #: Requests being answered now, and the most there were at once.
        self.in_flight = 0
        self.most_in_flight = 0
        super().__init__(_SiteHandler, tls)

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Counts a request being answered while the block runs."""
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def route(
        self,
        path: str,
        body: bytes | str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str = "text/html; charset=utf-8",
        delay: float = 0.0,
    ) -> str:
        """Serve `body` at `path` (exact, or without the query string); returns its URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            self._routes[path] = Route(data, status, dict(headers or {}), content_type, delay)
        return self.url(path)

    def remove(self, path: str) -> None:
        """Stop serving `path` (it answers 404 afterwards)."""
        with self._lock:
            self._routes.pop(path, None)

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this site."""
        return self.base_url + path

    def hits(self, path: str) -> int:
        """How many GET requests asked for `path` (exactly, or with any query string)."""
        with self._lock:
            return sum(
                1
                for method, target, _ in self.requests
                if method == "GET" and (target == path or urlsplit(target).path == path)
            )

    def arrivals(self, path: str) -> list[float]:
        """When each GET for `path` arrived (time.monotonic())."""
        with self._lock:
            return [at for target, at in self._arrivals if urlsplit(target).path == path]

    def _record(self, method: str, target: str, headers: dict[str, str]) -> Route | None:
        with self._lock:
            self.requests.append((method, target, headers))
            if method == "GET":
                self._arrivals.append((target, time.monotonic()))
            route = self._routes.get(target)
            if route is None:
                route = self._routes.get(urlsplit(target).path)
            return route


# --------------------------------------------------------------------------- webhook


class _WebhookHandler(_QuietHandler):
    """Records POSTs for the owning WebhookSink."""

    protocol_version = "HTTP/1.0"

    def _sink(self) -> WebhookSink:
        return cast(WebhookSink, self.server.owner)

    def do_POST(self) -> None:
        """Record the POST and answer 200, or the status a failure mode asks for."""
        body = self.read_body()
        status = self._sink()._record(self.path, dict(self.headers.items()), body)
        self.send_plain(status, b"ok" if status < 400 else b"failing on purpose")

    def _other(self, head: bool = False) -> None:
        status = 503 if self._sink().down else 405
        self.send_plain(status, head=head)

    def do_GET(self) -> None:
        """Non-POST requests: 503 while down, else 405."""
        self._other()

    def do_HEAD(self) -> None:
        """Non-POST requests: 503 while down, else 405."""
        self._other(head=True)

    do_PUT = do_PATCH = do_DELETE = do_GET


class WebhookSink(_ThreadedHTTP):
    """An HTTP endpoint on 127.0.0.1 that records every POST, and can fail on purpose."""

    def __init__(self) -> None:
        #: Successful POSTs: {"path", "headers", "body", "json"}.
        self.received: list[dict[str, Any]] = []
        #: POSTs answered with an error status (fail_next or down), plus their "status".
        self.failed: list[dict[str, Any]] = []
        #: While True every request gets 503.
        self.down = False
        self._fail_count = 0
        self._fail_status = 500
        super().__init__(_WebhookHandler)

    def apprise_url(self, path: str = "/hook") -> str:
        """An apprise JSON-webhook URL (json://) that posts to `path` here."""
        return f"json://{HOST}:{self.port}{path}"

    def url(self, path: str = "/hook") -> str:
        """The plain http:// URL of `path` here."""
        return self.base_url + path

    def fail_next(self, n: int, status: int = 500) -> None:
        """Answer the next `n` POSTs with `status` (they go to `.failed`)."""
        with self._lock:
            self._fail_count = n
            self._fail_status = status

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> int:
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        item: dict[str, Any] = {
            "path": path, "headers": headers, "body": body, "json": parsed, "at": time.monotonic()
        }  # fmt: skip
        with self._lock:
            if self.down:
                status = 503
            elif self._fail_count > 0:
                self._fail_count -= 1
                status = self._fail_status
            else:
                self.received.append(item)
                self._lock.notify_all()
                return 200
            self.failed.append({**item, "status": status})
            self._lock.notify_all()
            return status

    def wait_for(self, n: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until at least `n` POSTs were received; return them all (AssertionError if not)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.received) >= n, timeout):
                raise AssertionError(
                    f"webhook got {len(self.received)} of {n} POSTs in {timeout}s; "
                    f"received={self.received!r} failed={self.failed!r}"
                )
            return list(self.received)
