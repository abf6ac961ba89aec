"""The demo: sample news in six languages, published on loopback as a news site would publish
it, for ``monitor demo`` to watch with the real worker.

The samples are the Arabic article the project was first given and short articles written for
the demo in English, French, German, Spanish and Russian (each says in its footer that it is
not real news); one of them mentions nothing the demo's rules watch. ``Publisher`` serves them
as a site with an RSS feed: the first at once, then one more every few seconds, so the worker
meets them as it meets news, one poll after another. The demo's rules (``rules.yaml`` beside
this module, with the publisher's feed added) send every alert to the ``terminal://`` channel.
"""

from __future__ import annotations

import html
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape

# In the order they are published: the article the project was given first.
SAMPLES = (
    "ar-musk-putin",
    "en-starlink-contract",
    "fr-kremlin-sanctions",
    "de-wahlkampf-spende",
    "es-campana-musk",
    "ru-kreml-sankcii",
    "en-rates-hold",
)
HOST = "127.0.0.1"
_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)


@dataclass(frozen=True)
class Sample:
    """One sample article: its page as served, and what its feed item says."""

    name: str
    language: str
    title: str
    page: bytes


def samples() -> list[Sample]:
    """The bundled sample articles, in the order they are published."""
    found = []
    for name in SAMPLES:
        page = (files(__package__) / "articles" / f"{name}.html").read_bytes()
        title = _TITLE.search(page.decode("utf-8"))
        found.append(
            Sample(
                name, name.split("-", 1)[0], html.unescape(title.group(1)) if title else name, page
            )
        )
    return found


class Publisher:
    """A news site on a free loopback port: ``/feed.xml`` lists the samples published so far,
    newest first; ``/<name>.html`` is each one's page. The first sample is published when the
    site starts, then one every ``every`` seconds."""

    def __init__(self, items: list[Sample], every: float) -> None:
        self.items = items
        self.every = every
        self._started = time.monotonic()
        self._dates: dict[str, datetime] = {}
        self._server = ThreadingHTTPServer((HOST, 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self._server.server_port}"

    @property
    def feed_url(self) -> str:
        return f"{self.base_url}/feed.xml"

    def published(self) -> list[Sample]:
        """The samples published by now, in order; each dated when first listed."""
        count = 1 + int((time.monotonic() - self._started) / self.every)
        shown = self.items[: min(count, len(self.items))]
        for item in shown:
            self._dates.setdefault(item.name, datetime.now(UTC))
        return shown

    def feed(self) -> bytes:
        items = "".join(
            f"<item><title>{escape(s.title)}</title><link>{self.base_url}/{s.name}.html</link>"
            f"<guid>{self.base_url}/{s.name}.html</guid>"
            f"<pubDate>{format_datetime(self._dates[s.name])}</pubDate></item>"
            for s in reversed(self.published())
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>news-monitor demo</title><link>{self.base_url}/</link>"
            f"<description>Sample articles</description>{items}</channel></rss>"
        ).encode()

    def page(self, path: str) -> bytes | None:
        for item in self.published():
            if path == f"/{item.name}.html":
                return item.page
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        publisher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body: bytes | None
                if self.path == "/feed.xml":
                    body, kind = publisher.feed(), "application/rss+xml; charset=utf-8"
                else:
                    body, kind = publisher.page(self.path), "text/html; charset=utf-8"
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Requests are not news: the demo's terminal shows alerts and the worker's log."""

        return Handler

    def __enter__(self) -> Publisher:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def write_rules(folder: Path, feed_url: str, every: float) -> Path:
    """The demo's rules file, written in ``folder``, with the publisher's feed polled every
    ``every`` seconds."""
    bundled = (files(__package__) / "rules.yaml").read_text(encoding="utf-8")
    path = folder / "rules.yaml"
    feeds = f"feeds:\n  - url: {feed_url}\n    every: {every:g}s\n    name: demo\n\n"
    path.write_text(feeds + bundled, encoding="utf-8")
    return path
