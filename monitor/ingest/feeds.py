"""Reading feeds: bytes we fetched in, entries out, each with the keys that say "seen before".

An entry's key is its canonical URL: scheme and host lower-cased, default port and fragment
dropped, tracking parameters removed (courlan's list of trackers: ``utm_*``, ``fbclid``,
``gclid``, ``mc_*``, ``ref``, ...), remaining query sorted (w3lib). So the same article carried
by two feeds, or twice by one, is processed once. Its GUID is a second key
(``Entry.guid_key``): the same GUID under another URL is the same article.

Feeds are parsed by feedparser from bytes we fetched within our limits (it never fetches
anything itself), after three precautions against what a stranger's feed may hold:

* The DOCTYPE is dropped before parsing, with its internal subset (``<!DOCTYPE rss [...]>``):
  no feed needs to declare entities, and declared ones are the billion-laughs bomb (expat
  expands up to 100 times its input before its own limit trips) and external entities
  (``file://``, ``http://``, an external DTD). Their references are left as text.
  feedparser strips only those that begin a line, and expat is told to read no external
  entity; this holds whatever either does.
* A feed whose bytes do not decode in the charset it declares (or, declaring none, in UTF-8)
  is read in the charset ``charset_normalizer`` finds (an Arabic feed in windows-1256 sent as
  UTF-8), instead of feedparser's windows-1252 mojibake.
* A document that is not a feed is a ``FeedParseError`` in one line; an HTML page says so and
  names the feed it links to, if any. A malformed feed is read leniently, in one log line.

Every value an entry takes from the feed is bounded: only the first ``MAX_ENTRIES`` entries
are read (the document is cut before feedparser sees the rest, so a feed of 100,000 items
costs what one of 500 does), a title past ``MAX_TITLE_CHARS`` is clipped, an entry whose link
is longer than ``MAX_URL_CHARS`` is skipped, a long GUID is kept as its hash, and a date no
calendar holds (year 0, or past 9999 once in UTC) leaves the entry undated.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import logging
import re
import xml.sax
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import lxml.html
from courlan.clean import TRACKERS_RE
from lxml.etree import ParserError
from w3lib.url import canonicalize_url

from monitor.errors import FeedParseError
from monitor.fetch import Fetched, guess_charset
from monitor.text.extract import clip_title

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}
# A feed lists its latest stories first; one that lists more than this is an archive, and its
# older entries were seen long ago or never will matter.
MAX_ENTRIES = 500
MAX_URL_CHARS = 4096  # browsers and servers give up around 8 KB; article links are far shorter
MAX_GUID_CHARS = 512
_ENTRY_START = re.compile(rb"<(?:[\w-]+:)?(?:item|entry)[\s>/]")


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
        if len(guid) > MAX_GUID_CHARS:
            guid = "sha256:" + hashlib.sha256(guid.encode("utf-8")).hexdigest()
        if "://" in guid or guid.lower().startswith(("urn:", "tag:", "sha256:")):
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
    """feedparser's UTC time as ISO 8601; None for a date no calendar holds."""
    if not parsed:
        return None
    year, month, day, hour, minute, second = parsed[:6]
    try:
        stamp = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (ValueError, OverflowError, TypeError):
        return None  # the entry is kept, undated, as one without a date would be
    return stamp.isoformat().replace("+00:00", "Z")


def _parsed_date(item: dict[str, Any]) -> Any:
    # dict.get: feedparser's own get warns when it maps one of these keys to the other
    return dict.get(item, "published_parsed") or dict.get(item, "updated_parsed")


def _first_entries(content: bytes, url: str) -> bytes:
    """The document cut before its entry number ``MAX_ENTRIES + 1``, if it has that many.

    Cut unclosed: feedparser reads the entries before the cut and notes the document as
    malformed, which it is not to us."""
    starts = _ENTRY_START.finditer(content)
    for count, found in enumerate(starts, start=1):
        if count > MAX_ENTRIES:
            log.warning("%s: the feed lists more than %d entries; read the first %d",
                        url, MAX_ENTRIES, MAX_ENTRIES)  # fmt: skip
            return content[: found.start()]
    return content


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """A feed as read: its entries, the publisher's ``<ttl>`` (seconds), and the WebSub hub and
    topic it names (``<link rel="hub">``, ``<link rel="self">``), if any."""

    entries: list[Entry]
    ttl: float | None = None
    hub: str | None = None
    topic: str | None = None


def parse_feed(fetched: Fetched) -> list[Entry]:
    """The entries of an RSS or Atom feed; ``FeedParseError`` when the bytes are not one."""
    return read_feed(fetched).entries


def _ttl(value: Any) -> float | None:
    text = str(value or "").strip()
    return float(text) * 60 if text.isdigit() else None


# Where a document's prolog may hold a DOCTYPE: the XML declaration, comments, PIs, blanks.
_PROLOG_ITEM = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.S)
# In a DOCTYPE, ``[`` opens the internal subset and ``>`` ends it, unless quoted.
_DOCTYPE_TOKEN = re.compile(rb'"[^"]*"|\'[^\']*\'|\[|>')
# Inside the internal subset, a ``]`` closes it unless quoted or in a comment.
_SUBSET_TOKEN = re.compile(rb'"[^"]*"|\'[^\']*\'|<!--.*?-->|\]', re.S)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# An XML declaration whose encoding is not a plain name: feedparser fails decoding the name.
_ODD_DECLARATION = re.compile(
    rb"""\A(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["'](?![A-Za-z0-9._:-]*["'])[^>]*>"""
)
_FEED_TYPES = ("application/rss+xml", "application/atom+xml")
_HTML_START = re.compile(rb"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.S | re.I)


@dataclass(frozen=True, slots=True)
class Doctype:
    """Where a document's DOCTYPE declaration lies, and whether it declares anything itself."""

    start: int
    end: int
    internal_subset: bool  # ``[...]``: entity (or other) declarations


def find_doctype(content: bytes) -> Doctype | None:
    """The DOCTYPE declaration in the document's prolog, if it has one."""
    position = 3 if content.startswith(codecs.BOM_UTF8) else 0
    while (item := _PROLOG_ITEM.match(content, position)) is not None:
        position = item.end()
    if not content.startswith(b"<!DOCTYPE", position):
        return None
    start, subset = position, False
    position += len(b"<!DOCTYPE")
    while (token := _DOCTYPE_TOKEN.search(content, position)) is not None:
        position = token.end()
        if token.group() == b">":
            return Doctype(start, position, subset)
        if token.group() == b"[":
            subset = True
            while (inner := _SUBSET_TOKEN.search(content, position)) is not None:
                position = inner.end()
                if inner.group() == b"]":
                    break
            else:
                break
    return Doctype(start, len(content), subset)  # never closed: nothing after it is a feed


def declared_charset(fetched: Fetched) -> str | None:
    """The charset the server or, failing that, the XML declaration gives."""
    if fetched.charset:
        return fetched.charset
    found = _XML_ENCODING.match(fetched.content.lstrip()[:200])
    return found.group(1).decode("ascii") if found else None


def _decodes(content: bytes, charset: str) -> bool:
    try:
        codecs.decode(content, charset)
    except (LookupError, UnicodeDecodeError):
        return False
    return True


def guessed_charset(fetched: Fetched) -> str | None:
    """The charset to read the feed in when what it declares (or UTF-8, declaring nothing)
    cannot decode its bytes; None when the declaration holds (or a BOM says it all)."""
    content = fetched.content
    if content.startswith(_BOMS):
        return None
    declared = declared_charset(fetched)
    if _decodes(content, declared or "utf-8") or (declared and _decodes(content, "utf-8")):
        return None
    return guess_charset(content)


def _not_a_feed(fetched: Fetched, problem: object) -> FeedParseError:
    if fetched.content_type in ("text/html", "application/xhtml+xml") or _HTML_START.match(
        fetched.content[:4096]
    ):
        feed = _linked_feed(fetched)
        named = f"; it links to the feed {feed}" if feed else "; it links to no feed"
        return FeedParseError(f"an HTML page, not an RSS or Atom feed{named}", subject=fetched.url)
    reason = f"not an RSS or Atom feed ({problem})" if problem else "not an RSS or Atom feed"
    return FeedParseError(reason, subject=fetched.url)


def _linked_feed(fetched: Fetched) -> str | None:
    """The feed an HTML page announces (``<link rel="alternate" type="application/rss+xml">``)."""
    try:
        page = lxml.html.document_fromstring(fetched.content)
    except (ValueError, ParserError):
        return None
    for link in page.iter("link"):
        if "alternate" in (link.get("rel") or "").lower().split() and (
            (link.get("type") or "").lower() in _FEED_TYPES
        ):
            href = str(link.get("href") or "").strip()
            if href:
                return urljoin(fetched.final_url, href)
    return None


def read_feed(fetched: Fetched) -> FeedDocument:
    """The entries and ``<ttl>`` of an RSS or Atom feed; ``FeedParseError`` when the bytes are
    not one, whatever went wrong reading them. The precautions of the module docstring apply."""
    try:
        return _read_feed(fetched)
    except FeedParseError:
        raise
    except Exception as exc:  # a stranger's bytes met a case no parser here foresaw
        log.debug("reading the feed %s failed", fetched.url, exc_info=True)
        reason = f"the feed could not be read ({type(exc).__name__}: {exc})"
        raise FeedParseError(reason[:500], subject=fetched.url) from exc


def _read_feed(fetched: Fetched) -> FeedDocument:
    headers = {"content-location": fetched.final_url}
    if "content-type" in fetched.headers:
        headers["content-type"] = fetched.headers["content-type"]
    doctype = find_doctype(fetched.content)
    cleaned = None
    if doctype is not None:
        cleaned = fetched.content[: doctype.start] + fetched.content[doctype.end :]
        if doctype.internal_subset:
            log.warning(
                "%s: the feed declares entities in its DOCTYPE; dropped them unread",
                fetched.url,
            )
    charset = guessed_charset(fetched)
    if charset is not None:
        declared = declared_charset(fetched)
        log.info(
            "%s: the feed is not in %s; read as %s",
            fetched.url,
            f"{declared}, as it declares" if declared else "UTF-8, the default",
            charset,
        )
        # The server's charset overrides the document's own declaration (RFC 7303).
        headers["content-type"] = f"application/xml; charset={charset}"
    whole = fetched.content if cleaned is None else cleaned
    if (odd := _ODD_DECLARATION.match(whole)) is not None:
        log.info("%s: the feed's XML declaration names no encoding; dropped it", fetched.url)
        whole = whole[odd.end() :]
    read = _first_entries(whole, fetched.url)
    parsed = feedparser.parse(io.BytesIO(read), response_headers=headers, sanitize_html=True)
    # A cut document ends unclosed by our doing, not the publisher's.
    problem = parsed.get("bozo_exception") if read is whole else None
    if not parsed.get("version") and not parsed.entries:
        raise _not_a_feed(fetched, problem)
    # Undefined entities are the expected trace of dropped declarations: one line said it.
    if isinstance(problem, xml.sax.SAXException) and not (doctype and doctype.internal_subset):
        log.info("%s: not well-formed XML (%s); read leniently", fetched.url, problem)
    source = clip_title(str(parsed.feed.get("title", ""))) or fetched.final_url
    entries: list[Entry] = []
    for item in parsed.entries[:MAX_ENTRIES]:
        link = item.get("link") or ""
        if not link.startswith(("http://", "https://")) or len(link) > MAX_URL_CHARS:
            continue
        content = item.get("content") or []
        summary = content[0].get("value", "") if content else item.get("summary", "")
        entries.append(
            Entry(
                url=link,
                key=canonical_url(link),
                feed_url=fetched.url,
                title=clip_title(str(item.get("title", ""))),
                summary=str(summary),
                published=_iso(_parsed_date(item)),
                guid=item.get("id"),
                source=source,
            )
        )
    links = [link for link in parsed.feed.get("links", []) if isinstance(link, dict)]
    return FeedDocument(
        entries,
        _ttl(parsed.feed.get("ttl")),
        hub=_link(links, "hub", fetched.final_url),
        topic=_link(links, "self", fetched.final_url),
    )


def _link(links: list[dict[str, Any]], rel: str, base: str) -> str | None:
    """The first http(s) URL of the feed's links with relation ``rel``."""
    for link in links:
        if str(link.get("rel", "")).lower() == rel and link.get("href"):
            url = absolute_link(base, str(link["href"]))
            if url is not None:
                return url
    return None


def absolute_link(base: str, href: str) -> str | None:
    """``href`` made absolute against ``base``, if it is then an http(s) URL we would fetch."""
    url = urljoin(base, href.strip())
    return url if url.startswith(("http://", "https://")) and len(url) <= MAX_URL_CHARS else None
