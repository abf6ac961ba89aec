"""A loopback publisher for polling tests and benchmarks: conditional GET (ETag, Last-Modified,
304), gzip and brotli, latency, and misbehaviour on purpose (trickling, endless headers).

It counts what it served: requests, 304s, bytes sent and the bytes full answers would have
cost, and the most requests it had in flight at once.

Pages are served on exact paths (``serve``) or, for benchmarks with more pages than are worth
registering one by one, on every path under a prefix (``serve_prefix``: one page for all the
articles under ``/a/``); an exact path wins over a prefix, and a longer prefix over a shorter.
"""

from __future__ import annotations

import contextlib
import gzip
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import brotli

from tests.support.servers import _Stoppable


@dataclass
class Page:
    """What the publisher answers on one path."""

    body: bytes
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    compress: bool = False  # brotli or gzip, whichever the client accepts (brotli first)
    trickle: float = 0.0  # seconds between two bytes of the body
    raw_encoding: str | None = None  # send the body as is, with this Content-Encoding


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    owner: Publisher

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-connection (a worker stopped or killed) is no error of ours."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        owner = self.server.owner
        with owner.lock:
            owner.in_flight += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
            owner.requests.append((self.path, dict(self.headers.items())))
            owner.arrivals.append(time.monotonic())
            page = owner.pages.get(self.path)
            if page is None:
                page = owner._by_prefix(self.path)
        try:
            self._answer(owner, page)
        finally:
            with owner.lock:
                owner.in_flight -= 1

    def _answer(self, owner: Publisher, page: Page | None) -> None:
        latency = owner.latency + (page.delay if page else 0.0)
        if latency:
            time.sleep(latency)
        if page is None:
            self._send(404, {"Content-Type": "text/plain"}, b"not found")
            return
        headers = {"Content-Type": page.content_type, **page.headers}
        if page.etag:
            headers["ETag"] = page.etag
        if page.last_modified:
            headers["Last-Modified"] = page.last_modified
        full = len(page.body)
        if page.status == 200 and self._unchanged(page):
            with owner.lock:
                owner.not_modified += 1
                owner.bytes_full += full
            self._send(304, {k: v for k, v in headers.items() if k != "Content-Type"}, b"")
            return
        body = page.body
        accepted = self.headers.get("Accept-Encoding", "")
        if page.raw_encoding:
            headers["Content-Encoding"] = page.raw_encoding
        elif page.compress and "br" in accepted:
            body, headers["Content-Encoding"] = brotli.compress(body), "br"
        elif page.compress and "gzip" in accepted:
            body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
        with owner.lock:
            owner.bytes_full += full
        self._send(page.status, headers, body, page.trickle)

    def _unchanged(self, page: Page) -> bool:
        if page.etag and self.headers.get("If-None-Match") == page.etag:
            return True
        return bool(page.last_modified) and self.headers.get("If-Modified-Since") == (
            page.last_modified
        )

    def _send(
        self, status: int, headers: dict[str, str], body: bytes, trickle: float = 0.0
    ) -> None:
        owner = self.server.owner
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if trickle:
                for i in range(len(body)):
                    if owner.stopped:
                        return
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(trickle)
            else:
                self.wfile.write(body)
        with owner.lock:
            owner.bytes_sent += len(body)


class Publisher(_Stoppable):
    """An HTTP/1.1 site on a loopback address (``host``), answering each request after
    ``latency`` seconds. ``poll_interval`` is how often the idle server looks whether it was
    stopped (a benchmark running hundreds of publishers in one process raises it)."""

    def __init__(
        self, host: str = "127.0.0.1", latency: float = 0.0, *, poll_interval: float = 0.05
    ) -> None:
        self.host = host
        self.latency = latency
        self.pages: dict[str, Page] = {}
        self.prefixes: dict[str, Page] = {}  # longest first when looked up: ``serve_prefix``
        self._prefix_order: list[str] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.arrivals: list[float] = []  # when each of ``requests`` came (time.monotonic)
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.not_modified = self.bytes_sent = self.bytes_full = 0
        self.stopped = False
        self._httpd = _Server((host, 0), _Handler)
        self._httpd.owner = self
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def serve(self, path: str, body: bytes | str, **page: Any) -> str:
        """Answer ``path`` with ``body`` (``Page`` fields as keywords); returns its URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self.lock:
            self.pages[path] = Page(data, **page)
        return self.url(path)

    def serve_prefix(self, prefix: str, body: bytes | str, **page: Any) -> str:
        """Answer every path that begins with ``prefix`` and has no page of its own with
        ``body`` (``Page`` fields as keywords); returns the prefix's URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self.lock:
            self.prefixes[prefix] = Page(data, **page)
            self._prefix_order = sorted(self.prefixes, key=len, reverse=True)
        return self.url(prefix)

    def _by_prefix(self, path: str) -> Page | None:
        """The page of the longest prefix of ``path`` (called with ``lock`` held)."""
        for prefix in self._prefix_order:
            if path.startswith(prefix):
                return self.prefixes[prefix]
        return None

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for p, _ in self.requests if p == path)

    def since(self, index: int) -> list[tuple[str, float]]:
        """The paths requested from the ``index``-th request on (counted since the last
        ``reset_counts``), each with when it came (time.monotonic)."""
        with self.lock:
            paths = [path for path, _ in self.requests[index:]]
            return list(zip(paths, self.arrivals[index:], strict=True))

    def last_headers(self, path: str) -> dict[str, str]:
        with self.lock:
            return next(h for p, h in reversed(self.requests) if p == path)

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()
            self.arrivals.clear()
            self.max_in_flight = self.not_modified = self.bytes_sent = self.bytes_full = 0

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
