"""Words in a text: where a word stands as a whole word (rule matching and the money scan each
with their own idea of what a word is made of), and the words of a folded text cut once for all
of rule matching.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate, compress, count
from operator import add


def is_word_char(ch: str) -> bool:
    """What ``\\w`` matches: letters, digits and the underscore."""
    return ch.isalnum() or ch == "_"


def whole_word_offsets(
    text: str, word: str, inside: Callable[[str], bool] = is_word_char
) -> list[int]:
    """Offsets where ``word`` stands with no ``inside`` character right before or after it.

    ``str.find`` does the scanning: far faster than a regex with lookarounds.
    """
    found = []
    at = text.find(word)
    while at != -1:
        end = at + len(word)
        if (at == 0 or not inside(text[at - 1])) and (end == len(text) or not inside(text[end])):
            found.append(at)
        at = text.find(word, end)
    return found


_NOT_IN_WORD = re.compile(r"[^\w ]")


class Words:
    """The words of a text (runs of ``\\w``), cut once: which words occur, where given words
    stand, and how many words come before an offset.

    Every character that is neither a word character nor a space becomes a space, which keeps
    every offset; splitting at spaces then gives each word, with empty strings between words
    apart by more than one character, and a word's offset is the length of what comes before
    it. All of that runs in C (``re``, ``str.split``, ``itertools``): a text of a thousand words
    costs no Python step per word, only per occurrence of a word asked for.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._chunks = _NOT_IN_WORD.sub(" ", text).split(" ")
        self.distinct = set(self._chunks)
        self.distinct.discard("")
        self._chunk_starts: list[int] | None = None
        self._word_starts: list[int] | None = None

    def _starts(self) -> list[int]:
        if self._chunk_starts is None:
            # The start of chunk i: the lengths of the chunks before it, plus one space each.
            lengths = accumulate(map(len, self._chunks), initial=0)
            self._chunk_starts = list(map(add, lengths, count()))
        return self._chunk_starts

    def occurrences(self, wanted: set[str]) -> list[tuple[int, str]]:
        """``(offset, word)`` of every occurrence of the wanted words, in text order."""
        chunks = self._chunks
        starts = self._starts()
        return [(starts[i], chunks[i]) for i in compress(count(), map(wanted.__contains__, chunks))]

    def number(self, offset: int) -> int:
        """The number (from 0) of the last word that starts at or before ``offset``."""
        if self._word_starts is None:
            self._word_starts = list(compress(self._starts(), self._chunks))
        return bisect_right(self._word_starts, offset) - 1
