"""Real loopback servers for tests and benchmarks: Redis, a web site, a webhook and an SMTP sink.

Every server listens on 127.0.0.1 on a free port and is a plain class (no pytest needed),
usable as a context manager.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self, cast
from urllib.parse import urlsplit

import redis
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

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


# --------------------------------------------------------------------------- Redis


class RedisServer(_Stoppable):
    """A private `redis-server` on a free 127.0.0.1 port with its data in a temporary directory."""

    START_ATTEMPTS = 5

    def __init__(self, *, appendonly: bool = False, start_timeout: float = 10.0) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError(
                "redis-server was not found on PATH; install it (e.g. `apt-get install "
                "redis-server`) to run the tests that need Redis"
            )
        self.executable = exe
        self.appendonly = appendonly
        self.start_timeout = start_timeout
        self.dir = Path(tempfile.mkdtemp(prefix="test-redis-"))
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        last_error: Exception | None = None
        for _ in range(self.START_ATTEMPTS):
            try:
                self._start(free_port())
                return
            except RuntimeError as exc:  # most likely the port was taken meanwhile
                last_error = exc
        shutil.rmtree(self.dir, ignore_errors=True)
        raise RuntimeError(
            f"redis-server failed to start {self.START_ATTEMPTS} times: {last_error}"
        )

    @property
    def url(self) -> str:
        """The redis:// URL of database 0."""
        return f"redis://{HOST}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        """The file redis-server writes its log to."""
        return self.dir / "redis.log"

    def client(self) -> redis.Redis:
        """A new redis-py client for this server (close it when done)."""
        return redis.Redis(host=HOST, port=self.port, db=0, socket_timeout=5)

    def _command(self, port: int) -> list[str]:
        cmd = [
            self.executable,
            "--port", str(port),
            "--bind", HOST,
            "--dir", str(self.dir),
            "--save", "",
            "--daemonize", "no",
            "--logfile", "",
        ]  # fmt: skip
        if self.appendonly:
            cmd += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            cmd += ["--appendonly", "no"]
        return cmd

    def _start(self, port: int) -> None:
        if port in FORBIDDEN_PORTS:
            raise ValueError(f"refusing to start a test Redis on the shared port {port}")
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self._command(port), stdout=self._log, stderr=subprocess.STDOUT, cwd=self.dir
        )
        self.port = port
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                self._reap()
                raise RuntimeError(f"redis-server exited on port {port}: {self._log_tail()}")
            try:
                with self.client() as conn:
                    if conn.ping():
                        return
            except redis.exceptions.RedisError:
                pass
            if time.monotonic() > deadline:
                self._terminate(signal.SIGKILL)
                raise RuntimeError(
                    f"redis-server did not answer PING on port {port} "
                    f"within {self.start_timeout}s: {self._log_tail()}"
                )
            time.sleep(0.02)

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def _reap(self) -> None:
        if self._proc is not None:
            self._proc.wait()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _terminate(self, sig: signal.Signals) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(sig)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._reap()

    @property
    def running(self) -> bool:
        """Whether the redis-server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def flush(self) -> None:
        """Delete every key in every database (FLUSHALL)."""
        with self.client() as conn:
            conn.flushall()

    def kill(self) -> None:
        """Crash the server with SIGKILL, keeping its data directory (for crash tests)."""
        self._terminate(signal.SIGKILL)

    def restart(self, *, hard: bool = False) -> None:
        """Stop (SIGTERM, or SIGKILL if `hard`) and start again on the same port and data dir."""
        self._terminate(signal.SIGKILL if hard else signal.SIGTERM)
        self._start(self.port)

    def stop(self) -> None:
        """Terminate redis-server, wait for it and delete its data directory."""
        self._terminate(signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)


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
        super().__init__(_SiteHandler, tls)

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

    def _record(self, method: str, target: str, headers: dict[str, str]) -> Route | None:
        with self._lock:
            self.requests.append((method, target, headers))
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
        item: dict[str, Any] = {"path": path, "headers": headers, "body": body, "json": parsed}
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


# --------------------------------------------------------------------------- SMTP


class MailEnvelope(NamedTuple):
    """SMTP envelope of one received message."""

    mail_from: str
    rcpt_tos: list[str]


class _SmtpHandler:
    """aiosmtpd handler that hands each DATA to the owning SmtpSink."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Parse and record the message."""
        content = envelope.content
        raw = content.encode("utf-8") if isinstance(content, str) else bytes(content or b"")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self.sink._record(message, MailEnvelope(envelope.mail_from or "", list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpSink(_Stoppable):
    """An SMTP server (aiosmtpd) on 127.0.0.1, no auth and no TLS, that keeps every message."""

    START_ATTEMPTS = 5

    def __init__(self) -> None:
        #: Received messages, parsed.
        self.messages: list[EmailMessage] = []
        #: The envelope of each message, same order as `.messages`.
        self.envelopes: list[MailEnvelope] = []
        self._lock = threading.Condition()
        last_error: Exception | None = None
        for _ in range(self.START_ATTEMPTS):
            port = free_port()
            controller = Controller(
                _SmtpHandler(self), hostname=HOST, port=port, enable_SMTPUTF8=True
            )
            try:
                controller.start()
            except Exception as exc:  # port taken meanwhile
                last_error = exc
                continue
            self._controller: Controller | None = controller
            self.port = port
            return
        raise RuntimeError(f"SMTP sink failed to start: {last_error}")

    def apprise_url(self, to: str = "desk@example.org", sender: str = "alerts@example.org") -> str:
        """An apprise mailto:// URL that delivers here in plain SMTP."""
        return f"mailto://{HOST}:{self.port}?from={sender}&to={to}&mode=insecure"

    def _record(self, message: EmailMessage, envelope: MailEnvelope) -> None:
        with self._lock:
            self.messages.append(message)
            self.envelopes.append(envelope)
            self._lock.notify_all()

    def wait_for(self, n: int, timeout: float = 30.0) -> list[EmailMessage]:
        """Wait until at least `n` messages arrived; return them all (AssertionError if not)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.messages) >= n, timeout):
                summary = [
                    (m["Subject"], e) for m, e in zip(self.messages, self.envelopes, strict=True)
                ]
                raise AssertionError(
                    f"SMTP sink got {len(self.messages)} of {n} messages in {timeout}s: {summary!r}"
                )
            return list(self.messages)

    def stop(self) -> None:
        """Stop the SMTP server."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def text_parts(msg: EmailMessage) -> tuple[str, str | None]:
    """Return the decoded text/plain body ("" if none) and text/html body (None if none)."""
    plain: str | None = None
    html: str | None = None
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = part.get_content()
        elif ctype == "text/html" and html is None:
            html = part.get_content()
    return plain or "", html
