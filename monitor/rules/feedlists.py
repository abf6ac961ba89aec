"""Feed lists: the files of feeds a rules file names under ``feed_lists:``, read and written.

Two formats, told apart by their first character (``<`` is OPML):

* OPML 2.0, as feed readers export it: each ``outline`` with an ``xmlUrl`` is a feed. The
  folders it sits in (outlines around it, by their ``text`` or ``title``) and its ``category``
  (comma- and slash-separated) become its tags. Besides the standard attributes, ``every``
  and ``name`` set the feed's poll interval and name, as in ``feeds:``.
* Plain text: one URL a line, optionally followed by ``every=5m``, ``tags=a,b`` and
  ``name=world``; blank lines and ``#`` comments (a line, or the end of one) are ignored.

A list is read line by line: a line that is not a feed (a non-URL, an unknown option, an rss
outline without ``xmlUrl``) is a ``ListProblem`` at ``file:line`` and the others still load.
Whether such a problem refuses the rules is the loader's choice (``monitor.rules.load``).
OPML is parsed by expat through defusedxml with DOCTYPEs refused, so no entity is ever
expanded (billion laughs) or fetched.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # writing only: nothing from outside is parsed with it
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import chain
from pathlib import Path
from typing import Any
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import AttributesImpl, Locator

import defusedxml.sax
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from pydantic import ValidationError

from monitor.rules.model import Feed, did_you_mean, format_duration

MAX_LIST_BYTES = 100_000_000
TEXT_OPTIONS = ("every", "tags", "name")


class ListUnreadable(Exception):
    """The list as a whole cannot be read: missing, too large, not UTF-8."""


@dataclass(frozen=True)
class ListProblem:
    """A line of a list that is not a feed."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class ListDefaults:
    """What the rules file says of every feed of a list: a line's own ``every`` wins, tags add."""

    every: timedelta | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReadList:
    feeds: list[Feed]
    problems: list[ListProblem]
    mtime_ns: int | None = None


class _Collected:
    """Feeds and problems as the lines of one list give them."""

    def __init__(self, shown: str, defaults: ListDefaults) -> None:
        self.shown = shown
        self.defaults = defaults
        self.feeds: list[Feed] = []
        self.problems: list[ListProblem] = []

    def feed(self, line: int, fields: Mapping[str, Any]) -> None:
        try:
            self.feeds.append(feed_with_defaults(fields, self.defaults))
        except ValueError as exc:
            self.problem(line, str(exc))

    def problem(self, line: int, reason: str) -> None:
        self.problems.append(ListProblem(self.shown, line, reason))


def feed_with_defaults(fields: Mapping[str, Any], defaults: ListDefaults) -> Feed:
    """A ``Feed`` of a list's line; ``ValueError`` with the reason in the file's words."""
    given = {key: value for key, value in fields.items() if value is not None}
    if "every" not in given and defaults.every is not None:
        given["every"] = defaults.every
    if defaults.tags:
        given["tags"] = [*given.get("tags", ()), *defaults.tags]
    try:
        return Feed.model_validate(given)
    except ValidationError as exc:
        error = exc.errors()[0]
        reason = error["msg"].removeprefix("Value error, ")
        field = ".".join(map(str, error["loc"]))
        raise ValueError(reason if field == "url" else f"{field}: {reason}") from None


# --- plain text ------------------------------------------------------------------------------

_COMMENT = re.compile(r"(?:^|\s)#.*")  # a '#' inside a URL (its fragment) is not a comment


def text_fields(line: str) -> dict[str, Any] | None:
    """The feed a line of a text list writes (None for a blank or comment line);
    ``ValueError`` for an option it does not know."""
    words = _COMMENT.sub("", line).split()
    if not words:
        return None
    url, *options = words
    fields: dict[str, Any] = {"url": url}
    for option in options:
        key, equals, value = option.partition("=")
        if key not in TEXT_OPTIONS or not equals:
            raise ValueError(f"unknown option {key!r}{did_you_mean(key, TEXT_OPTIONS)}")
        fields[key] = value.split(",") if key == "tags" else value
    return fields


def parse_text_list(text: str, shown: str, defaults: ListDefaults = ListDefaults()) -> ReadList:
    collected = _Collected(shown, defaults)
    # split on "\n" only: splitlines() would also cut at characters editors do not count
    for number, line in enumerate(text.split("\n"), 1):
        try:
            fields = text_fields(line)
        except ValueError as exc:
            collected.problem(number, str(exc))
            continue
        if fields is not None:
            collected.feed(number, fields)
    return ReadList(collected.feeds, collected.problems)


def text_line(feed: Feed) -> str:
    """A feed as a line of a text list; ``ValueError`` when its name has a space, which the
    format cannot hold."""
    parts = [feed.url]
    if "every" in feed.model_fields_set:
        parts.append(f"every={format_duration(feed.every)}")
    if feed.tags:
        parts.append("tags=" + ",".join(feed.tags))
    if feed.name is not None:
        if not feed.name or re.search(r"\s", feed.name):
            raise ValueError(f"{feed.url}: the name {feed.name!r} needs an OPML list")
        parts.append(f"name={feed.name}")
    return "  ".join(parts)


# --- OPML ------------------------------------------------------------------------------------

_CATEGORY_SEPARATORS = re.compile(r"[,/]")
_FEED_TYPES = frozenset({"rss", "atom"})


class _NotOpml(Exception):
    pass


class _OutlineReader(ContentHandler):
    """Feeds from the outlines of an OPML document, each tagged with the folders around it."""

    def __init__(self, collected: _Collected) -> None:
        super().__init__()
        self.collected = collected
        self.folders: list[tuple[str, ...]] = []  # per open element: the tag it adds, if any
        self.locator: Locator | None = None

    def setDocumentLocator(self, locator: Locator) -> None:
        self.locator = locator

    def line(self) -> int:
        line = self.locator.getLineNumber() if self.locator is not None else None
        return line or 1

    def startElement(self, name: str, attrs: AttributesImpl) -> None:
        if not self.folders and name != "opml":
            self.collected.problem(self.line(), f"not an OPML file: its root is <{name}>")
            raise _NotOpml
        folder: tuple[str, ...] = ()
        if name == "outline":
            url = attrs.get("xmlUrl")
            if url is not None:
                self._feed(url, attrs)
            elif attrs.get("type", "").lower() in _FEED_TYPES:
                self.collected.problem(self.line(), f"an {attrs['type']} outline without xmlUrl")
            else:
                title = attrs.get("text") or attrs.get("title")
                folder = (title,) if title and title.strip() else ()
        self.folders.append(folder)

    def _feed(self, url: str, attrs: AttributesImpl) -> None:
        categories = _CATEGORY_SEPARATORS.split(attrs.get("category", ""))
        tags = [*chain.from_iterable(self.folders), *(c for c in categories if c.strip())]
        fields = {"url": url, "every": attrs.get("every"), "name": attrs.get("name")}
        self.collected.feed(self.line(), {**fields, "tags": tags})

    def endElement(self, name: str) -> None:
        self.folders.pop()


def parse_opml(data: bytes, shown: str, defaults: ListDefaults = ListDefaults()) -> ReadList:
    collected = _Collected(shown, defaults)
    reader = _OutlineReader(collected)
    try:
        defusedxml.sax.parseString(data, reader, forbid_dtd=True)
    except SAXParseException as exc:
        reason = f"not well-formed OPML: {exc.getMessage()}"
        collected.problem(exc.getLineNumber() or 1, reason)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden):
        reason = "a DOCTYPE is not allowed in a feed list: no entity is declared or expanded"
        collected.problem(reader.line(), reason)
    except _NotOpml:
        pass
    return ReadList(collected.feeds, collected.problems)


def _outline(feed: Feed) -> ET.Element:
    attributes = {"type": "rss", "text": feed.name or feed.url, "xmlUrl": feed.url}
    if feed.tags:
        attributes["category"] = ",".join(feed.tags)
    if "every" in feed.model_fields_set:
        attributes["every"] = format_duration(feed.every)
    if feed.name is not None:
        attributes["name"] = feed.name
    return ET.Element("outline", attributes)


def opml_document(feeds: Iterable[Feed], title: str = "news-monitor feeds") -> str:
    """OPML 2.0 of the feeds, one outline each, its tags as its ``category``."""
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = title
    ET.SubElement(root, "body").extend(_outline(feed) for feed in feeds)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


# --- files -----------------------------------------------------------------------------------


def is_opml(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"


def parse_feed_list(data: bytes, shown: str, defaults: ListDefaults = ListDefaults()) -> ReadList:
    """The feeds of a list's bytes, in whichever format they are."""
    if is_opml(data):
        return parse_opml(data, shown, defaults)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ListUnreadable(f"the file is not UTF-8: {exc.reason}") from None
    return parse_text_list(text, shown, defaults)


def read_feed_list(path: Path, shown: str, defaults: ListDefaults = ListDefaults()) -> ReadList:
    """The feeds of a list file; ``ListUnreadable`` when there is no reading it at all. Its
    mtime is taken before it is read, so an edit made while reading is seen as a change."""
    try:
        status = path.stat()
        if status.st_size > MAX_LIST_BYTES:
            raise ListUnreadable(f"{status.st_size:,} bytes, more than {MAX_LIST_BYTES:,}")
        data = path.read_bytes()
    except OSError as exc:
        raise ListUnreadable(exc.strerror or str(exc)) from None
    read = parse_feed_list(data, shown, defaults)
    return ReadList(read.feeds, read.problems, status.st_mtime_ns)


def feed_list_text(feeds: Sequence[Feed], as_opml: bool) -> str:
    if as_opml:
        return opml_document(feeds)
    return "".join(text_line(feed) + "\n" for feed in feeds)


def wants_opml(path: Path) -> bool:
    """Whether a list written at ``path`` should be OPML (by its name: ``.opml``, ``.xml``)."""
    return path.suffix.lower() in (".opml", ".xml")


# --- merging ---------------------------------------------------------------------------------


def merge_feeds(feeds: Iterable[Feed]) -> tuple[Feed, ...]:
    """One feed per URL, in the order first met. A URL written twice (in two lists, or a list
    and ``feeds:``) is polled once: as often as the more frequent asks, with the tags of both
    and the first name given."""
    by_url: dict[str, Feed] = {}
    for feed in feeds:
        seen = by_url.get(feed.url)
        by_url[feed.url] = feed if seen is None else _merged(seen, feed)
    return tuple(by_url.values())


def _merged(first: Feed, second: Feed) -> Feed:
    update: dict[str, Any] = {}
    tags = tuple(dict.fromkeys(first.tags + second.tags))
    if tags != first.tags:
        update["tags"] = tags
    if second.every < first.every or (
        "every" in second.model_fields_set and "every" not in first.model_fields_set
    ):
        update["every"] = min(first.every, second.every)
    if first.name is None and second.name is not None:
        update["name"] = second.name
    return first.model_copy(update=update) if update else first
