"""From a fetched page to an article: title, body, language and published time.

The page is parsed once (twice only when the main extractor finds little and trafilatura's
fallbacks get their turn). The cheap metadata (``<html lang>``, ``<title>``, Open Graph and
``article:published_time``) is read from that tree before trafilatura extracts the body from
it, so the body is extracted once and no date is guessed from the text. What the feed entry
says wins over the page: its title and its date. When the page yields no body, the entry's own
content or summary is the body.

A page is a stranger's bytes, so before trafilatura sees it: a body that is not HTML (a PDF, an
image, an archive, compressed data: by its ``Content-Type`` in ``extract_page``, by its first
bytes in both) is never parsed; bytes are decoded here (UTF-8, else the charset
``charset_normalizer`` finds), so trafilatura never inflates a compressed body past the
fetcher's cap; HTML past ``MAX_HTML_CHARS`` is cut before parsing, a tree of more than
``MAX_TREE_SIZE`` elements is not extracted, and trafilatura's costly fallbacks run only on
trees up to ``FULL_EXTRACTION_MAX_ELEMENTS``. Extraction time grows with the elements (faster
than linearly for some markup, such as many tables), so these bounds are its time bound. Each
refusal is one log line and the feed's summary stands in for the page.
"""

from __future__ import annotations

import codecs
import copy
import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import lxml.html
import py3langid
import trafilatura
import trafilatura.settings
from lxml.etree import ParserError
from trafilatura.utils import load_html

from monitor.fetch import Fetched, guess_charset

log = logging.getLogger(__name__)


# Trees larger than this are not worth trafilatura's time: it would spend seconds on them.
MAX_TREE_SIZE = 50_000
# Longer HTML is cut before parsing: the article is near the top, and parsing and extraction
# cost time in proportion. The fetcher's cap comes first, but a page may come from a file.
MAX_HTML_CHARS = 5_000_000
_CONFIG = trafilatura.settings.use_config()
_CONFIG.set("DEFAULT", "MAX_TREE_SIZE", str(MAX_TREE_SIZE))
# Extraction options built once: trafilatura reads its configuration anew for each options
# object, a sixth of its own time on a news page. Precision over recall: a watched name in a
# "related articles" box is a false alert.
_OPTIONS = {
    fast: trafilatura.settings.Extractor(
        config=_CONFIG, output_format="python", fast=fast, precision=True, comments=False
    )
    for fast in (True, False)
}
# A body shorter than this is a failed extraction (a paywall stub, a cookie wall).
MIN_BODY_CHARS = 40
# Titles come from strangers' feeds and pages. Headlines stay under 200 characters; past this
# the rest is clipped, since mail servers refuse header lines past 998 characters and building
# a message costs more than linear time in its subject.
MAX_TITLE_CHARS = 300
# Longer bodies are cut: no news article is this long, and finding amounts and matching rules
# cost time in proportion to the text, so a hostile page must not get unbounded time.
MAX_BODY_CHARS = 200_000
# trafilatura's fallback extractors cost a third of its time and rarely change a news page's
# body; they run only when the main extractor alone found less than this, and only on trees
# this small (on 10,000 elements they cost up to 2 s; on 30,000 tables, 8 s).
FULL_EXTRACTION_BELOW = 500
FULL_EXTRACTION_MAX_ELEMENTS = 10_000
# Media types a web page comes as (some servers label pages as bytes or XML, some send none);
# any other is refused unread. Whatever the type, the first bytes must not be a binary format.
_PAGE_TYPES = frozenset(
    {"", "text/html", "application/xhtml+xml", "text/plain"}
    | {"application/octet-stream", "application/xml", "text/xml"}
)
# What a body that is not a web page begins with.
_SIGNATURES = (
    (b"%PDF-", "a PDF"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x00\x00\x01\x00", "an icon"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"ID3", "an MP3 file"),
    (b"OggS", "an Ogg file"),
    (b"\x1aE\xdf\xa3", "a WebM or Matroska video"),
    (b"wOFF", "a web font"),
    (b"wOF2", "a web font"),
)
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\x1b")
# Every byte but the control characters text does not use: deleting these from a head of
# bytes leaves its stray controls, counted in C rather than byte by byte in Python.
_NOT_STRAY_CONTROLS = bytes(b for b in range(256) if b >= 32 or b in _TEXT_CONTROLS)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class Listing(Protocol):
    """What a feed says of an article before its page is read; a feed entry
    (``monitor.ingest.feeds.Entry``) is one. It wins over the page for title and date, and its
    summary is the body when the page yields none."""

    @property
    def url(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def published(self) -> str | None: ...
    @property
    def source(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Article:
    """What we match rules against."""

    url: str
    title: str
    text: str
    language: str | None
    published: str | None  # ISO 8601, UTC when the source gave a zone
    source: str = ""
    from_page: bool = True  # False when the body is the feed entry's summary

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PageMetadata:
    """What the page says of itself, read in one pass over its head-like elements."""

    language: str | None = None
    title: str | None = None
    published: str | None = None


_META_TAGS = ("meta", "h1", "title", "time")


def read_metadata(tree: Any) -> PageMetadata:
    """``<html lang>`` or ``og:locale``; ``og:title``, the first ``<h1>`` or ``<title>``;
    ``article:published_time``, ``itemprop=datePublished`` or the first ``<time datetime>``."""
    found: dict[str, str] = {}
    for element in tree.iter(*_META_TAGS):
        tag = element.tag
        if tag == "meta":
            key = element.get("property") or element.get("itemprop") or ""
            value = (element.get("content") or "").strip()
            if value and key in (
                "og:locale",
                "og:title",
                "article:published_time",
                "datePublished",
            ):
                found.setdefault(key, value)
        elif tag == "time":
            found.setdefault("time", (element.get("datetime") or "").strip())
        else:
            found.setdefault(tag, " ".join(element.text_content().split()))
    return PageMetadata(
        language=_language_tag(tree.get("lang") or found.get("og:locale")),
        title=found.get("og:title") or found.get("h1") or found.get("title") or None,
        published=_iso_date(
            found.get("article:published_time") or found.get("datePublished") or found.get("time")
        ),
    )


def _language_tag(tag: str | None) -> str | None:
    if not tag:
        return None
    primary = re.split(r"[-_]", tag.strip().lower())[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def _iso_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")
    except (ValueError, OverflowError):  # no such date, or none once in UTC (year 0, 10000)
        return None
    return parsed.isoformat()


def clip_title(title: str) -> str:
    """A title on one line (runs of whitespace as one space), clipped to ``MAX_TITLE_CHARS``."""
    flat = " ".join(title[: 4 * MAX_TITLE_CHARS].split())
    return flat if len(flat) <= MAX_TITLE_CHARS else flat[: MAX_TITLE_CHARS - 1] + "…"


def detect_language(text: str) -> str | None:
    """The language of a text, when the page did not declare it."""
    if len(text.strip()) < 20:
        return None
    language, _score = py3langid.classify(text[:5000])
    return str(language)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (a feed entry's summary), paragraphs kept apart."""
    if "<" not in html:
        return html.strip()
    try:
        fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ParserError, ValueError):
        return re.sub(r"<[^>]+>", " ", html).strip()
    for block in fragment.iter("p", "br", "div", "li", "h1", "h2", "h3", "h4"):
        block.tail = "\n" + (block.tail or "")
    return re.sub(r"\n\s*\n+", "\n", fragment.text_content()).strip()


_MARKUP_START = re.compile(r"\s*<(?:!--|!doctype|\?xml|[a-z])", re.IGNORECASE)


def is_markup(text: str) -> bool:
    """Whether a text is HTML (or XML) rather than plain text: it begins with a tag, a
    comment or a declaration."""
    return _MARKUP_START.match(text[:4096].lstrip("\ufeff")) is not None


def article_from_text(text: str, url: str) -> Article:
    """Plain text (pasted, a .txt file) as the article: its first line the title, all of it
    the body."""
    body = _bounded(text.strip(), url)
    return Article(
        url=url,
        title=clip_title(body.split("\n", 1)[0]),
        text=body,
        language=detect_language(body),
        published=None,
    )


def article_from_entry(entry: Listing) -> Article:
    """The article as the feed alone tells it, for when the page cannot be had."""
    text = _bounded(html_to_text(entry.summary), entry.url)
    return Article(
        url=entry.url,
        title=clip_title(entry.title),
        text=text,
        language=detect_language(f"{entry.title}\n{text}"),
        published=entry.published,
        source=entry.source,
        from_page=False,
    )


def binary_kind(page: bytes) -> str | None:
    """What a body is when it is not text ("a PDF", "gzip-compressed data", ...), else None."""
    for signature, kind in _SIGNATURES:
        if page.startswith(signature):
            return kind
    if page[:4] == b"RIFF" and page[8:12] in (b"WEBP", b"AVI ", b"WAVE"):
        return "a WebP image, AVI video or WAV sound"
    if page[4:8] == b"ftyp":
        return "an MP4, MOV or HEIF file"
    head = page[:1024]
    if head.startswith(_UTF16_BOMS):
        return None
    if b"\x00" in head or len(head.translate(None, _NOT_STRAY_CONTROLS)) > 16:
        return "binary data"
    return None


def decode_page(page: bytes) -> str:
    """A page's text: UTF-8 when its bytes are, else the charset ``charset_normalizer`` finds
    in them, whatever the page or its server declare (a windows-1256 page sent as UTF-8 or
    ISO-8859-1 is common, and the bytes do not lie)."""
    if page.startswith(_UTF16_BOMS):
        return page.decode("utf-16", errors="replace")
    try:
        return page.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return page.decode(guess_charset(page) or "utf-8", errors="replace")
    except LookupError:
        return page.decode("utf-8", errors="replace")


def extract_page(fetched: Fetched, entry: Listing | None = None) -> Article:
    """``extract_article`` on a fetched page, refused unread when its ``Content-Type`` says it
    is no web page (a PDF, an image, ...). The article keeps the entry's URL, where there is
    one, whatever redirects the fetch followed: alerts link to what the feed linked to."""
    url = entry.url if entry is not None else fetched.url
    media = fetched.content_type
    if media not in _PAGE_TYPES:
        log.warning("%s: the page is %s, not HTML; using the feed's summary", url, media)
        return _fallback(url, entry)
    return extract_article(fetched.content, url, entry)


def extract_article(page: bytes | str, url: str, entry: Listing | None = None) -> Article:
    """Extract the article from a page, completing it with what the feed entry says."""
    if isinstance(page, bytes):
        kind = binary_kind(page)
        if kind is not None:
            log.warning("%s: the page is %s, not HTML; using the feed's summary", url, kind)
            return _fallback(url, entry)
        page = decode_page(page)
    if len(page) > MAX_HTML_CHARS:
        log.warning(
            "%s: page of %d characters cut to %d characters before parsing",
            url,
            len(page),
            MAX_HTML_CHARS,
        )
        page = page[:MAX_HTML_CHARS]
    tree = load_html(page)
    if tree is None:
        log.warning("%s: the page is not HTML; using the feed's summary", url)
        return _fallback(url, entry)
    elements = int(tree.xpath("count(//*)"))
    if elements > MAX_TREE_SIZE:
        log.warning(
            "%s: the page has %d elements, more than %d; using the feed's summary",
            url,
            elements,
            MAX_TREE_SIZE,
        )
        return _fallback(url, entry)
    meta = read_metadata(tree)
    language = meta.language
    title = clip_title((entry.title if entry else "") or meta.title or "")
    published = (entry.published if entry else None) or meta.published
    text = _body(tree, url, fast=True)
    if len(text) < FULL_EXTRACTION_BELOW and elements <= FULL_EXTRACTION_MAX_ELEMENTS:
        # Little found by the main extractor alone: let trafilatura compare it with its
        # fallbacks (readability, justext), on a fresh tree since extraction consumed this one.
        text = max(text, _body(load_html(page), url, fast=False), key=len)
    text = _bounded(text, url)
    if len(text) < MIN_BODY_CHARS:
        log.warning("%s: no article body found in the page; using the feed's summary", url)
        return _fallback(url, entry, title=title, published=published)
    return Article(
        url=url,
        title=title or "",
        text=text,
        language=language or detect_language(text),
        published=published,
        source=entry.source if entry else "",
    )


def _bounded(text: str, url: str) -> str:
    if len(text) <= MAX_BODY_CHARS:
        return text
    log.warning("%s: body of %d characters cut to %d", url, len(text), MAX_BODY_CHARS)
    return text[:MAX_BODY_CHARS]


def _body(tree: Any, url: str, *, fast: bool) -> str:
    if tree is None:
        return ""
    options = copy.copy(_OPTIONS[fast])  # trafilatura names the page in its own log lines
    options.url = options.source = url
    document = trafilatura.bare_extraction(tree, options=options)
    return str(getattr(document, "text", None) or "")


def _fallback(
    url: str, entry: Listing | None, title: str | None = None, published: str | None = None
) -> Article:
    if entry is None:
        return Article(url, title or "", "", None, published, from_page=False)
    article = article_from_entry(entry)
    if title and not article.title:
        article = Article(**{**article.to_dict(), "title": title})
    return article
