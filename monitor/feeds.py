"""Reading feeds: bytes we fetched in, entries out, each with the key that says "seen before".

An entry's key is its canonical URL (scheme and host lower-cased, fragment dropped, tracking
parameters such as ``utm_*``, ``fbclid`` and ``gclid`` removed, remaining query sorted), so
the same article carried by two feeds, or twice by one, is processed once.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser
from w3lib.url import canonicalize_url

from monitor.errors import FeedParseError
from monitor.fetch import Fetched

_TRACKING = ("fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid")


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a feed, as much as the feed tells about it."""

    url: str
    key: str  # canonical URL: the identity of the article
    feed_url: str
    title: str = ""
    summary: str = ""  # the entry's content or summary (may be HTML): the fallback body
    published: str | None = None  # ISO 8601 in UTC
    guid: str | None = None
    source: str = ""  # the feed's own title

    @property
    def article_id(self) -> str:
        return article_id(self.key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(**data)


def canonical_url(url: str) -> str:
    """The URL that identifies an article, whatever tracking decorations it came with."""
    parts = urlsplit(url.strip())
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not (k.lower().startswith("utm_") or k.lower() in _TRACKING)
    ]
    cleaned = urlunsplit(parts._replace(query=urlencode(query), fragment=""))
    return str(canonicalize_url(cleaned, keep_fragments=False))


def article_id(key: str) -> str:
    """A short stable id for an article key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def _iso(parsed: Any) -> str | None:
    if not parsed:
        return None
    year, month, day, hour, minute, second = parsed[:6]
    stamp = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return stamp.isoformat().replace("+00:00", "Z")


def parse_feed(fetched: Fetched) -> list[Entry]:
    """The entries of an RSS or Atom feed; ``FeedParseError`` when the bytes are not one."""
    headers = {"content-location": fetched.final_url}
    if "content-type" in fetched.headers:
        headers["content-type"] = fetched.headers["content-type"]
    parsed = feedparser.parse(
        io.BytesIO(fetched.content), response_headers=headers, sanitize_html=True
    )
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        reason = f"not an RSS or Atom feed ({problem})" if problem else "not an RSS or Atom feed"
        raise FeedParseError(reason, subject=fetched.url)
    source = str(parsed.feed.get("title", "")) or fetched.final_url
    entries: list[Entry] = []
    for item in parsed.entries:
        link = item.get("link") or ""
        if not link.startswith(("http://", "https://")):
            continue
        content = item.get("content") or []
        summary = content[0].get("value", "") if content else item.get("summary", "")
        entries.append(
            Entry(
                url=link,
                key=canonical_url(link),
                feed_url=fetched.url,
                title=str(item.get("title", "")),
                summary=str(summary),
                published=_iso(item.get("published_parsed") or item.get("updated_parsed")),
                guid=item.get("id"),
                source=source,
            )
        )
    return entries
