"""Reading feeds: bytes we fetched in, entries out, each with the keys that say "seen before".

An entry's key is its canonical URL: scheme and host lower-cased, default port and fragment
dropped, tracking parameters removed (courlan's list of trackers: ``utm_*``, ``fbclid``,
``gclid``, ``mc_*``, ``ref``, ...), remaining query sorted (w3lib). So the same article carried
by two feeds, or twice by one, is processed once. Its GUID is a second key
(``Entry.guid_key``): the same GUID under another URL is the same article.

Feeds are parsed by feedparser from bytes we fetched within our limits (it never fetches
anything itself); its XML parser does not expand external entities, and a document it cannot
read (malformed, billion laughs, HTML) is a ``FeedParseError``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser
from courlan.clean import TRACKERS_RE
from w3lib.url import canonicalize_url

from monitor.errors import FeedParseError
from monitor.fetch import Fetched

_DEFAULT_PORTS = {"http": 80, "https": 443}


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

    @property
    def guid_key(self) -> str | None:
        """The GUID as an identity: global when it is a URL, URN or tag, else per feed host
        (a bare ``1234`` from two publishers is two articles)."""
        guid = (self.guid or "").strip()
        if not guid or guid == self.url:
            return None
        if "://" in guid or guid.lower().startswith(("urn:", "tag:")):
            return guid
        return f"{(urlsplit(self.feed_url).hostname or '').lower()}|{guid}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(**data)


def is_tracker(name: str) -> bool:
    """True for a query parameter that tracks the reader rather than names the page.

    courlan's pattern, matched on the whole name or a prefix ending in ``_`` (so ``gallery``
    and ``reference`` stay, ``ga_x``, ``ref`` and ``utm_source`` go).
    """
    lowered = name.lower()
    found = TRACKERS_RE.search(lowered)
    return found is not None and (found.end() == len(lowered) or lowered[found.end() - 1] == "_")


def canonical_url(url: str) -> str:
    """The URL that identifies an article, whatever tracking decorations it came with."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracker(k)]
    netloc = parts.netloc.lower()
    if parts.port is not None and _DEFAULT_PORTS.get(parts.scheme.lower()) == parts.port:
        netloc = netloc.rsplit(":", 1)[0]
    cleaned = urlunsplit(parts._replace(netloc=netloc, query=urlencode(query), fragment=""))
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


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """A feed as read: its entries and the publisher's ``<ttl>`` (seconds), if any."""

    entries: list[Entry]
    ttl: float | None = None


def parse_feed(fetched: Fetched) -> list[Entry]:
    """The entries of an RSS or Atom feed; ``FeedParseError`` when the bytes are not one."""
    return read_feed(fetched).entries


def _ttl(value: Any) -> float | None:
    text = str(value or "").strip()
    return float(text) * 60 if text.isdigit() else None


def read_feed(fetched: Fetched) -> FeedDocument:
    """The entries and ``<ttl>`` of an RSS or Atom feed; ``FeedParseError`` when the bytes are
    not one."""
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
    return FeedDocument(entries, _ttl(parsed.feed.get("ttl")))
