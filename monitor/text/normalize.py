"""The one normaliser for every text we match: aliases, keywords and article bodies alike.

``normalize(text)`` returns the folded text together with a map back to the original, so a
match found in the folded text maps back to exact offsets in the original.

What folding is, per character (after canonical composition of combining sequences: a base
character and its combining marks fold as one unit, a *cluster*):

* Unicode NFKC, then case folding (``"Straße"`` → ``"strasse"``, ``"ﻻ"`` → ``"لا"``);
* Arabic: diacritics U+064B–U+0652 and U+0670 and tatweel U+0640 removed; أ إ آ ٱ → ا;
  ى → ي; ة → ه;
* Arabic-Indic (٠–٩) and Persian (۰–۹) digits → ASCII digits;
* Arabic decimal and thousands separators ٫ ٬ → ``.`` ``,``.

The folded text is the concatenation of the folds of the clusters, and each folded character
maps back to the span of the cluster it came from.

How it is fast. Going character by character in Python costs milliseconds per article, so
almost all of the work is done by ``str`` methods and the regex engine, in C. Every character
falls in one of three classes, decided once per process for each 256-character page of
Unicode the texts touch:

* *plain*: it folds as ``str.casefold`` folds it, to one character (almost all letters);
* *swapped*: it folds to one other character (أ → ا, ٣ → 3, a no-break space → a space),
  which ``str.replace`` puts in place before casefolding;
* *unusual*: anything else, such as folding to no character or to several (a diacritic,
  "ß" → "ss", "ﬁ" → "fi").

One regex pass gives the characters of a text that are not plain. Neither plain nor swapped
characters change the length, so the one map back that folding needs is the list of the few
places where an unusual character or a cluster stands: ``str.find`` finds them (a regex when
there are combining marks), each is folded on its own, and each stretch of text between them
is casefolded in one call.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

_ARABIC_DROP = {chr(c) for c in range(0x064B, 0x0653)} | {"\u0670", "\u0640"}
_ARABIC_MAP = {
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ى": "ي",
    "ة": "ه",
    "٫": ".",
    "٬": ",",
    **{chr(0x0660 + d): str(d) for d in range(10)},
    **{chr(0x06F0 + d): str(d) for d in range(10)},
}
# Combining marks that compose with a base letter (Latin accents and the like); Arabic
# diacritics are dropped instead, so they are not in this class.
_MARKS = r"\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_COMBINING = re.compile(f"[{_MARKS}]")


def fold_cluster(cluster: str) -> str:
    """The fold of one cluster: a character, or a base character and its combining marks."""
    if cluster in _ARABIC_DROP:
        return ""
    folded = unicodedata.normalize("NFKC", cluster).casefold()
    # NFKC may itself produce decomposed Arabic with diacritics (presentation forms).
    return "".join(_ARABIC_MAP.get(ch, ch) for ch in folded if ch not in _ARABIC_DROP)


_fold = lru_cache(maxsize=65536)(fold_cluster)


class _Classes:
    """The plain and swapped characters of the pages of Unicode met so far, and the regex that
    finds every other character in a text."""

    def __init__(self) -> None:
        self.pages: set[int] = set()
        self.plain: set[int] = set()
        self.swaps: dict[str, str] = {}
        self.learn({0})

    def learn(self, pages: set[int]) -> None:
        for page in pages - self.pages:
            for point in range(page << 8, (page + 1) << 8):
                ch = chr(point)
                if _COMBINING.match(ch):
                    continue  # a mark always folds with the character before it
                out = fold_cluster(ch)
                if out == ch.casefold() and len(out) == 1:
                    self.plain.add(point)
                elif len(out) == 1 and out.casefold() == out:
                    self.swaps[ch] = out
        # A character of a page not yet in the regex is taken as unusual, which folds it the
        # same way, only slower: so a text folded meanwhile (another thread) is still right.
        self.pages |= pages
        self.not_plain = re.compile(f"[^{_ranges(self.plain)}]")


def _ranges(points: set[int]) -> str:
    """A regex character class body for a set of code points, as ranges."""
    out: list[str] = []
    ordered = sorted(points)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(f"\\U{ordered[i]:08x}" + (f"-\\U{ordered[j]:08x}" if j > i else ""))
        i = j + 1
    return "".join(out)


_CLASSES = _Classes()


@dataclass(frozen=True, slots=True)
class Normalized:
    """A folded text and the map back to the text it came from.

    ``pieces`` lists, in order, each place where folding did not map one character to one
    character, as ``(folded start, folded end, original start, original end)``;
    ``piece_starts`` holds their folded starts, for bisection. Between two pieces, folded and
    original characters correspond one to one.
    """

    original: str
    text: str
    piece_starts: tuple[int, ...] = ()
    pieces: tuple[tuple[int, int, int, int], ...] = ()

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of the folded slice ``text[start:end]`` (``end > start``)."""
        pieces = self.pieces
        if not pieces:
            return start, end
        # Each end: inside the last piece that starts at or before it, the piece's original
        # span; past it, as far past the piece's original end.
        at = bisect_right(self.piece_starts, start) - 1
        if at >= 0:
            _, folded_end, original_start, original_end = pieces[at]
            start = original_start if start < folded_end else original_end + start - folded_end
        last = end - 1
        at = bisect_right(self.piece_starts, last, at if at > 0 else 0) - 1
        if at >= 0:
            _, folded_end, _, original_end = pieces[at]
            end = original_end if last < folded_end else original_end + last - folded_end + 1
        return start, end


def _not_plain(text: str) -> set[str]:
    """The distinct characters of a text that are not plain, learning the pages it touches."""
    found = set(_CLASSES.not_plain.findall(text))
    new = {ord(ch) >> 8 for ch in found} - _CLASSES.pages
    if not new:
        return found
    _CLASSES.learn(new)
    return _not_plain(text)


def _places(text: str, unusual: list[str]) -> list[tuple[int, int]]:
    """The spans of the unusual characters of a text and of its clusters, in order."""
    if any(_COMBINING.match(ch) for ch in unusual):
        return [m.span() for m in _clusters_and(frozenset(unusual)).finditer(text)]
    # A few characters, each found by str.find: far faster than a regex class over the text.
    found = []
    for ch in unusual:
        at = text.find(ch)
        while at != -1:
            found.append((at, at + 1))
            at = text.find(ch, at + 1)
    found.sort()
    return found


@lru_cache(maxsize=1024)
def _clusters_and(unusual: frozenset[str]) -> re.Pattern[str]:
    """What finds the clusters of a text and its other unusual characters, one match each."""
    # A cluster first: a base character followed by marks, or marks with no base (only at the
    # very start of a text).
    clusters = f"[^{_MARKS}][{_MARKS}]+|[{_MARKS}]+"
    return re.compile(f"{clusters}|[{re.escape(''.join(sorted(unusual)))}]")


def normalize(text: str) -> Normalized:
    """Fold ``text`` for matching; see the module docstring for what folding does."""
    if text.isascii():
        return Normalized(text, text.lower())
    found = _not_plain(text)
    if not found:
        return Normalized(text, text.casefold())
    # One character for one: positions do not move, so the unusual places found in the
    # original text stand at the same offsets in the swapped one.
    swapped = text
    swaps = _CLASSES.swaps
    unusual = []
    for ch in found:
        if ch in swaps:
            swapped = swapped.replace(ch, swaps[ch])
        else:
            unusual.append(ch)
    if not unusual:
        return Normalized(text, swapped.casefold())
    parts: list[str] = []
    piece_starts: list[int] = []
    pieces: list[tuple[int, int, int, int]] = []
    last = 0
    shift = 0  # folded offset minus original offset, after the pieces so far
    for start, end in _places(text, unusual):
        out = _fold(text[start:end])
        parts.append(swapped[last:start].casefold())
        parts.append(out)
        last = end
        if end - start != 1 or len(out) != 1:
            folded_start = start + shift
            piece_starts.append(folded_start)
            pieces.append((folded_start, folded_start + len(out), start, end))
            shift += len(out) - (end - start)
    parts.append(swapped[last:].casefold())
    return Normalized(text, "".join(parts), tuple(piece_starts), tuple(pieces))


def fold(text: str) -> str:
    """Just the folded text, for terms and aliases where offsets do not matter."""
    if text.isascii():
        return text.lower()
    return normalize(text).text
