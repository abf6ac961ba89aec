"""The one normaliser for every text we match: aliases, keywords and article bodies alike.

``normalize(text)`` returns the folded text together with, for each folded character, the
span of original characters it came from, so a match found in the folded text maps back to
exact offsets in the original.

Folding, per character (after canonical composition of combining sequences):

* Unicode NFKC, then case folding (``"Straße"`` → ``"strasse"``, ``"ﻻ"`` → ``"لا"``);
* Arabic: diacritics U+064B–U+0652 and U+0670 and tatweel U+0640 removed; أ إ آ ٱ → ا;
  ى → ي; ة → ه;
* Arabic-Indic (٠–٩) and Persian (۰–۹) digits → ASCII digits;
* Arabic decimal and thousands separators ٫ ٬ → ``.`` ``,``.
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
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


@lru_cache(maxsize=65536)
def _fold(cluster: str) -> str:
    if cluster in _ARABIC_DROP:
        return ""
    folded = unicodedata.normalize("NFKC", cluster).casefold()
    # NFKC may itself produce decomposed Arabic with diacritics (presentation forms).
    return "".join(_ARABIC_MAP.get(ch, ch) for ch in folded if ch not in _ARABIC_DROP)


@dataclass(frozen=True, slots=True)
class Normalized:
    """A folded text and the map back to the text it came from.

    Either ``starts``/``ends`` give the original span of every folded character (when folding
    changed lengths), or ``cuts`` lists, for each run of folded text after a dropped
    character, ``(folded offset, characters dropped so far)``; with neither, offsets are the
    identity.
    """

    original: str
    text: str
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None
    cuts: tuple[tuple[int, ...], tuple[int, ...]] | None = None

    def _shift(self, index: int) -> int:
        positions, dropped = self.cuts or ((), ())
        at = bisect_right(positions, index) - 1
        return index + (dropped[at] if at >= 0 else 0)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of the folded slice ``text[start:end]`` (``end > start``)."""
        if self.starts is not None and self.ends is not None:
            return self.starts[start], self.ends[end - 1]
        if self.cuts is not None:
            return self._shift(start), self._shift(end - 1) + 1
        return start, end


def _clusters(text: str) -> list[tuple[int, str]]:
    """Split into (offset, base character plus its combining marks)."""
    out: list[tuple[int, str]] = []
    for i, ch in enumerate(text):
        if out and _COMBINING.match(ch):
            offset, cluster = out[-1]
            out[-1] = (offset, cluster + ch)
        else:
            out.append((i, ch))
    return out


def _fold_by_character(text: str) -> Normalized:
    """The general case: some character folds to more or fewer than one character."""
    pieces = [(offset, cluster, _fold(cluster)) for offset, cluster in _clusters(text)]
    starts: list[int] = []
    ends: list[int] = []
    for offset, cluster, out in pieces:
        starts.extend([offset] * len(out))
        ends.extend([offset + len(cluster)] * len(out))
    return Normalized(text, "".join(p[2] for p in pieces), tuple(starts), tuple(ends))


# Characters seen so far whose folding is just ``str.casefold`` to one character: a text made
# only of them needs no per-character work beyond casefolding.
_PLAIN: set[str] = set()


def _beyond_casefold(text: str) -> dict[str, str] | None:
    """What folding does beyond casefolding, as a map from casefolded character to its
    folded form ("" when dropped); None when that is not one character to at most one (the
    text must then be folded character by character)."""
    chars = set(text)
    if chars <= _PLAIN:
        return {}
    extra: dict[str, str] = {}
    for ch in chars - _PLAIN:
        out, low = _fold(ch), ch.casefold()
        if out == low:
            if len(low) == 1:
                _PLAIN.add(ch)
            continue
        if len(out) > 1 or extra.get(low, out) != out:
            return None
        extra[low] = out
    return extra


def normalize(text: str) -> Normalized:
    """Fold ``text`` for matching; see the module docstring for what folding does."""
    if text.isascii():
        return Normalized(text, text.lower())
    folded = text.casefold()
    if len(folded) != len(text) or _COMBINING.search(text):
        return _fold_by_character(text)
    # Fast path: every character folds to one character, or is dropped. Casefolding the
    # whole text runs in C; what folding does beyond it (NFKC, the Arabic map) is decided
    # once per distinct character and applied with one str.replace each.
    extra = _beyond_casefold(text)
    if extra is None:
        return _fold_by_character(text)
    positions: list[int] = []
    dropped: list[int] = []
    dropping = "".join(sorted(ch for ch, out in extra.items() if not out))
    if dropping:
        count = 0
        for m in _drop_class(dropping).finditer(folded):
            count += m.end() - m.start()
            positions.append(m.end() - count)
            dropped.append(count)
    result = folded
    for old, new in extra.items():
        result = result.replace(old, new)
    if not positions:
        return Normalized(text, result)
    return Normalized(text, result, cuts=(tuple(positions), tuple(dropped)))


@lru_cache(maxsize=1024)
def _drop_class(chars: str) -> re.Pattern[str]:
    return re.compile("[" + re.escape(chars) + "]+")


def fold(text: str) -> str:
    """Just the folded text, for terms and aliases where offsets do not matter."""
    if text.isascii():
        return text.lower()
    folded = text.casefold()
    if len(folded) == len(text) and not _COMBINING.search(text):
        extra = _beyond_casefold(text)
        if extra is not None:
            for old, new in extra.items():
                folded = folded.replace(old, new)
            return folded
    return normalize(text).text
