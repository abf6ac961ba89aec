"""Articles handed to us rather than polled: a page named by its URL, a page carried whole
(HTML), or plain text (``POST /v1/articles``, ``monitor.receiver``).

A submission becomes an entry like a feed's (``entry:<id>``), claimed under the same key
(``seen:<key>``): an article submitted twice, or submitted and also polled, is processed once
and alerts once. What it carries is kept beside it (``carried:<id>``) for the extraction,
which then fetches nothing. After processing, what was found is kept (``found:<id>``, the
fields of ``monitor check --json``) for ``GET /v1/articles/{id}``; all three for the seen
retention.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from monitor.context import Context, now_iso
from monitor.ingest.feeds import Entry, canonical_url
from monitor.text.extract import Article, article_from_text, extract_article

API_FEED = "api:"  # an entry's feed_url, followed by the submission's source


class Submission(BaseModel):
    """The body of ``POST /v1/articles``: ``url`` alone names a page to fetch; ``html`` (with
    the ``url`` it came from) or ``text`` (with an optional ``title``) carries the article."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str | None = Field(default=None, max_length=4096)
    html: str | None = None
    text: str | None = None
    title: str = Field(default="", max_length=1000)
    language: str | None = Field(default=None, max_length=35, pattern=r"^[A-Za-z]{2,8}(-\w+)*$")
    source: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _one_way(self) -> Submission:
        if self.html is not None and self.text is not None:
            raise ValueError("give html or text, not both")
        if self.html is not None and not self.url:
            raise ValueError("html needs the url it came from")
        if self.html is None and self.text is None and not self.url:
            raise ValueError("give a url, html with its url, or text")
        if self.url and not self.url.lower().startswith(("http://", "https://")):
            raise ValueError("url must be http or https")
        if self.text is not None and not self.text:
            raise ValueError("text is empty")
        return self

    @property
    def key(self) -> str:
        """The article's identity: its canonical URL, or for text alone a digest of it."""
        if self.url:
            return canonical_url(self.url)
        digest = hashlib.sha256(f"{self.title}\n{self.text}".encode()).hexdigest()
        return f"text:{digest}"

    def entry(self) -> Entry:
        url = self.url or f"urn:monitor:{self.key}"
        source = self.source or "api"
        return Entry(url=url, key=self.key, feed_url=API_FEED + source, title=self.title,
                     summary=self.text or "", source=source)  # fmt: skip


def submit(ctx: Context, submission: Submission) -> tuple[str, bool]:
    """Record a submission: its article id, and whether it is new (False: this article was
    submitted or polled before, and is processed once)."""
    entry = submission.entry()
    ident = entry.article_id
    mark = {"state": "queued", "at": time.time()}
    if not ctx.store.claim(f"seen:{entry.key}", ctx.retention, mark):
        return ident, False
    carried = {"html": submission.html, "text": submission.text, "language": submission.language}
    if any(value is not None for value in carried.values()):
        ctx.store.put(f"carried:{ident}", carried, ctx.retention)
    ctx.store.put(f"entry:{ident}", entry.to_dict(), ctx.retention)
    return ident, True


def submitted_article(ctx: Context, entry: Entry, fetched: Callable[[], Article]) -> Article:
    """The article of a submitted entry: the one it carried, else ``fetched()`` (its page);
    a language given with the submission wins over the one detected."""
    carried = ctx.store.get(f"carried:{entry.article_id}") or {}
    if carried.get("html") is not None:
        article = extract_article(str(carried["html"]), entry.url, entry)
    elif carried.get("text") is not None:
        article = article_from_text(str(carried["text"]), entry.url)
        article = replace(article, title=entry.title or article.title)
    else:
        article = fetched()
    language = carried.get("language")
    return replace(article, language=str(language)) if language else article


def is_submitted(entry: Entry) -> bool:
    return entry.feed_url.startswith(API_FEED)


def record_found(ctx: Context, ident: str, found: dict[str, Any]) -> None:
    """Keep what processing found, for ``state``; what the submission carried is not needed
    any more (a page may weigh megabytes)."""
    ctx.store.put(f"found:{ident}", {**found, "at": now_iso()}, ctx.retention)
    ctx.store.delete(f"carried:{ident}")


def state(ctx: Context, ident: str) -> dict[str, Any] | None:
    """What became of an article: ``queued`` (with its URL and title) until processed, then
    ``done`` with what was found (an article polled and processed before it was submitted is
    ``done`` with its URL and title only); None for an id we do not know (or that expired)."""
    found = ctx.store.get(f"found:{ident}")
    if found is not None:
        return {"id": ident, "state": "done", **found}
    data = ctx.store.get(f"entry:{ident}")
    if data is None:
        return None
    entry = Entry.from_dict(data)
    url = None if entry.url.startswith("urn:monitor:") else entry.url
    # Polled and processed before it was submitted: done, what it fired sent then.
    seen = ctx.store.get(f"seen:{entry.key}") or {}
    done = seen.get("state") == "done"
    return {"id": ident, "state": "done" if done else "queued", "url": url, "title": entry.title}
