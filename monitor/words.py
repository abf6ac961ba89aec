"""Words in a text: where a word stands as a whole word (rule matching and the money scan each
with their own idea of what a word is made of), and the words of a folded text cut once for all
of rule matching.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from functools import lru_cache
from itertools import accumulate, compress, count
from operator import add


def is_word_char(ch: str) -> bool:
    """What ``\\w`` matches: letters, digits and the underscore."""
    return ch.isalnum() or ch == "_"


def whole_word_offsets(
    text: str, word: str, inside: Callable[[str], bool] = is_word_char, surely: str = ""
) -> list[int]:
    """Offsets where ``word`` stands with no ``inside`` character right before or after it.

    ``surely``, a regex character class body of characters that are all ``inside``, lets the
    regex engine rule out in C the many hits of a short word inside longer ones ("a" in
    "plan"); ``inside`` then decides on the few left. Without it, ``str.find`` scans.
    """
    pattern = _standing(word, surely, inside) if surely else None
    if pattern is not None:
        size = len(text)
        return [
            at
            for at, end in map(re.Match.span, pattern.finditer(text))
            if (at == 0 or not inside(text[at - 1])) and (end == size or not inside(text[end]))
        ]
    found = []
    at = text.find(word)
    while at != -1:
        end = at + len(word)
        if (at == 0 or not inside(text[at - 1])) and (end == len(text) or not inside(text[end])):
            found.append(at)
        at = text.find(word, end)
    return found


@lru_cache(maxsize=4096)
def _standing(word: str, surely: str, inside: Callable[[str], bool]) -> re.Pattern[str] | None:
    """``word`` with no ``surely`` character right before or after it. None unless every
    character of the word is ``inside``: only then can no whole-word occurrence overlap a
    rejected one, so that the regex finds just what the ``str.find`` loop finds."""
    if not all(map(inside, word)):
        return None
    body = re.escape(word)
    return re.compile(f"{body}(?<![{surely}][\\s\\S]{{{len(word)}}})(?![{surely}])")


_NOT_IN_WORD = re.compile(r"[^\w ]")


class Words:
    """The words of a text (runs of ``\\w``), cut once: which words occur, where given words
    stand, and how many words come before an offset.

    Every character that is neither a word character nor a space becomes a space, which keeps
    every offset. Splitting that at spaces gives each word (with empty strings between words
    apart by more than one character); and in it, with a space added at each end, " word "
    occurs exactly where the word stands whole. All of that runs in C (``re``, ``str.split``,
    ``str.find``, ``itertools``): a text of a thousand words costs no Python step per word,
    only per occurrence of a word asked for.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        spaced = _NOT_IN_WORD.sub(" ", text)
        self._padded = f" {spaced} "
        self._chunks = spaced.split(" ")
        self.distinct = set(self._chunks)
        self.distinct.discard("")
        self._word_starts: list[int] | None = None

    def occurrences(self, wanted: set[str]) -> list[tuple[int, str]]:
        """``(offset, word)`` of every occurrence of the wanted words, in text order."""
        chunks = self._chunks
        padded = self._padded
        found = []
        at = 0
        for i in compress(count(), map(wanted.__contains__, chunks)):
            word = chunks[i]
            # No chunk between the last occurrence and this one is a wanted word, so the
            # first " word " after the last occurrence is this one. In the padded text it
            # starts one character later: its leading space stands at the word's offset.
            at = padded.find(f" {word} ", at)
            found.append((at, word))
            at += len(word) + 1
        return found

    def number(self, offset: int) -> int:
        """The number (from 0) of the last word that starts at or before ``offset``."""
        if self._word_starts is None:
            # Chunk i starts after the chunks before it and one space for each.
            lengths = accumulate(map(len, self._chunks), initial=0)
            self._word_starts = list(compress(map(add, lengths, count()), self._chunks))
        return bisect_right(self._word_starts, offset) - 1
