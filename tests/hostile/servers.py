"""Loopback servers that misbehave on purpose, and what they make of hostile documents.

``RawServer`` answers every connection with a ``Script``: bytes written as they are, so a test
can send what no well-behaved HTTP server would (headers a byte at a time, a body with no end,
a ``Content-Length`` that lies). It counts what it sent and whether the client hung up first.
Bodies are generated as they are sent, so a 50 MB page costs no 50 MB of memory.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tests.support.servers import HOST, _Stoppable

BLOCK = 65536


@dataclass
class Served:
    """What the server saw of one connection."""

    request: bytes = b""
    sent: int = 0  # bytes written, headers and body
    cut_by_client: bool = False  # the client closed the connection before the script ended
    done: threading.Event = field(default_factory=threading.Event)


Script = Callable[[], Iterator[bytes]]


def head(status: str = "200 OK", **headers: str) -> bytes:
    """A status line and headers (``Content_Type`` stands for ``Content-Type``)."""
    lines = [f"HTTP/1.1 {status}", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def endless_page(total: int, prefix: bytes = b"<html><body><p>") -> Iterator[bytes]:
    """``total`` bytes of one HTML line: a paragraph of words that never breaks."""
    yield prefix
    left = total - len(prefix)
    block = b"Musk and Putin met " * (BLOCK // 19)
    while left > 0:
        yield block[:left]
        left -= len(block)


def pause(seconds: float) -> Iterator[bytes]:
    """Nothing for ``seconds``, the connection left open."""
    time.sleep(seconds)
    yield b""


def trickle(data: bytes, every: float) -> Iterator[bytes]:
    """``data`` one byte at a time, ``every`` seconds apart."""
    for i in range(len(data)):
        yield data[i : i + 1]
        time.sleep(every)


class RawServer(_Stoppable):
    """A TCP server on 127.0.0.1 that writes ``script()`` to every connection it accepts."""

    def __init__(self, script: Script, tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.tls = tls  # HTTPS: the handshake is made before the script plays
        self.served: list[Served] = []
        self._lock = threading.Lock()
        self._sock = socket.create_server((HOST, 0))
        self._sock.settimeout(0.05)
        self.port = int(self._sock.getsockname()[1])
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def url(self, path: str = "/") -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}{path}"

    def first(self, timeout: float = 10.0) -> Served:
        """The first connection, once the script ended on it or the client hung up."""
        assert self.served, "no connection came"
        served = self.served[0]
        assert served.done.wait(timeout), "the client still reads"
        return served

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            served = Served()
            with self._lock:
                self.served.append(served)
            thread = threading.Thread(target=self._answer, args=(conn, served), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _answer(self, conn: socket.socket, served: Served) -> None:
        try:
            if self.tls is not None:
                conn.settimeout(5)
                conn = self.tls.wrap_socket(conn, server_side=True)
            self._play(conn, served)
        except OSError:  # the handshake failed: the client refused us
            conn.close()
            served.cut_by_client = True
        finally:
            served.done.set()

    def _play(self, conn: socket.socket, served: Served) -> None:
        with conn:
            conn.settimeout(5)
            request = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in request and len(request) < BLOCK:
                    data = conn.recv(4096)
                    if not data:
                        break
                    request += data
            served.request = request
            try:
                for piece in self.script():
                    if self._stopped.is_set():
                        return
                    conn.sendall(piece)
                    served.sent += len(piece)
            except OSError:  # reset, broken pipe: the client hung up
                served.cut_by_client = True

    def stop(self) -> None:
        self._stopped.set()
        self._sock.close()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)


# --------------------------------------------------------------------------- documents


def billion_laughs(levels: int, title: str = "&lol{top};") -> str:
    """An RSS feed whose title is ``levels`` levels of entities, each ten of the one below
    (10^levels times "lol" if expanded)."""
    entities = ['<!ENTITY lol0 "lol">']
    entities += [
        f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">' for level in range(1, levels + 1)
    ]
    # On the line of the XML declaration: feedparser strips DOCTYPEs and ENTITYs that begin
    # a line, not these.
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<!DOCTYPE rss [{''.join(entities)}]>\n"
        '<rss version="2.0"><channel><title>Laughs</title><link>http://127.0.0.1/</link>'
        "<description>d</description><item>"
        f"<title>{title.format(top=levels)}</title><link>http://127.0.0.1/laugh</link>"
        f"<description>{title.format(top=levels)}</description>"
        "</item></channel></rss>"
    )


def png(width: int, height: int) -> bytes:
    """A real PNG image (a colour gradient), as a photo linked from a feed would be."""
    row = bytes(i % 256 for i in range(width * 3))
    raw = b"".join(b"\x00" + row for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def pdf(text: str) -> bytes:
    """A one-page PDF whose content stream is compressed, as PDF writers do."""
    stream = zlib.compress(f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode("latin-1"))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    body = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    for number, content in enumerate(objects, 1):
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    return body + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
