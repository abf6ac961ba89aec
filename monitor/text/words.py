"""The words of a folded text, cut once for rule matching and the money scan alike."""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate, compress, count
from operator import add

from monitor.text.normalize import Normalized, normalize

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


class FoldedText:
    """A text folded for matching (``monitor.text.normalize``) and the words of the folded
    text, made once per article for the money scan and rule matching."""

    __slots__ = ("normalized", "words")

    def __init__(self, text: str) -> None:
        self.normalized: Normalized = normalize(text)
        self.words = Words(self.normalized.text)
