"""From a fetched page to an article: title, body, language and published time.

The page is parsed once (twice only when the main extractor finds little and trafilatura's
fallbacks get their turn). The cheap metadata (``<html lang>``, ``<title>``, Open Graph and
``article:published_time``) is read from that tree before trafilatura extracts the body from
it, so the body is extracted once and no date is guessed from the text. What the feed entry
says wins over the page: its title and its date. When the page yields no body, the entry's own
content or summary is the body.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import lxml.html
import py3langid
import trafilatura
import trafilatura.settings
from lxml.etree import ParserError
from trafilatura.utils import load_html

from monitor.feeds import Entry

log = logging.getLogger(__name__)

# Trees larger than this are not worth trafilatura's time: it would spend seconds on them.
MAX_TREE_SIZE = 50_000
_CONFIG = trafilatura.settings.use_config()
_CONFIG.set("DEFAULT", "MAX_TREE_SIZE", str(MAX_TREE_SIZE))
# A body shorter than this is a failed extraction (a paywall stub, a cookie wall).
MIN_BODY_CHARS = 40
# Longer bodies are cut: no news article is this long, and finding amounts and matching rules
# cost time in proportion to the text, so a hostile page must not get unbounded time.
MAX_BODY_CHARS = 200_000
# trafilatura's fallback extractors cost a third of its time and rarely change a news page's
# body; they run only when the main extractor alone found less than this.
FULL_EXTRACTION_BELOW = 500


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
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
        return parsed.isoformat().replace("+00:00", "Z")
    return parsed.isoformat()


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


def article_from_entry(entry: Entry) -> Article:
    """The article as the feed alone tells it, for when the page cannot be had."""
    text = _bounded(html_to_text(entry.summary), entry.url)
    return Article(
        url=entry.url,
        title=entry.title,
        text=text,
        language=detect_language(f"{entry.title}\n{text}"),
        published=entry.published,
        source=entry.source,
        from_page=False,
    )


def extract_article(page: bytes | str, url: str, entry: Entry | None = None) -> Article:
    """Extract the article from a page, completing it with what the feed entry says."""
    tree = load_html(page)
    if tree is None:
        log.warning("%s: the page is not HTML; using the feed's summary", url)
        return _fallback(url, entry)
    meta = read_metadata(tree)
    language = meta.language
    title = (entry.title if entry else "") or meta.title
    published = (entry.published if entry else None) or meta.published
    text = _body(tree, url, fast=True)
    if len(text) < FULL_EXTRACTION_BELOW:
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
    # Precision over recall: a watched name in a "related articles" box is a false alert.
    document = trafilatura.bare_extraction(
        tree, url=url, fast=fast, favor_precision=True, include_comments=False, config=_CONFIG
    )
    return str(getattr(document, "text", None) or "")


def _fallback(
    url: str, entry: Entry | None, title: str | None = None, published: str | None = None
) -> Article:
    if entry is None:
        return Article(url, title or "", "", None, published, from_page=False)
    article = article_from_entry(entry)
    if title and not article.title:
        article = Article(**{**article.to_dict(), "title": title})
    return article
