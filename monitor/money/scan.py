"""Where in a text an amount may begin: the cheap pass that rules out most of a text before
``monitor.money.amounts`` parses the few places left.

An amount begins at digits, a currency symbol, an upper-case code or prefix ("USD", "US$",
"U.S. $"), letters glued to "$" ("Mex$"), or a number word ("two", "ثلاثة", "مليون") that a
magnitude or a currency follows within a few words. Plain character classes and set
operations do the work, in C: number words are the words of the folded text
(``monitor.text.words.FoldedText``, cut for rule matching anyway) that are in the set of words
an amount may start with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from monitor.money import words as W
from monitor.text.normalize import fold
from monitor.text.words import FoldedText

DIGITS = "0-9\u0660-\u0669\u06f0-\u06f9"  # Latin, Arabic-Indic and Persian, for a class


def is_letter(ch: str) -> bool:
    """A letter, or an Arabic diacritic riding on one."""
    return ch.isalpha() or "\u064b" <= ch <= "\u065f"


def _first_words(*tables: Mapping[str, object]) -> frozenset[str]:
    return frozenset(re.split(r"[ .\-]", key)[0] for table in tables for key in table)


# Words that may begin a number in words or a bare magnitude ("two", "مليون", "half").
_STARTERS = _first_words(W.WORD_NUMBERS, W.NEED_MAG, W.MAGNITUDES)
# The same, folded as texts are, and behind the proclitics و and ب ("وثلاثة", "بمليون").
_FOLDED_STARTERS = frozenset(
    form for word in map(fold, _STARTERS) for form in (word, f"و{word}", f"ب{word}")
)
_DIGIT_OR_SYMBOL = re.compile(rf"[{DIGITS}$€£¥₽₹₺₩₪₴₦₱฿₫₸]+")
_CAPITALS = re.compile(r"[A-Z][A-Z.]+")  # "USD", "U.S."; "Mex$", "C$" start at their "$"
_LETTERS = re.compile(r"[^\W\d_]+")


# A number in words is money only if a magnitude or a currency follows within a few words.
_MONEY_WORDS = frozenset({*W.MAGNITUDES, *W.CURRENCY_NAMES, *(c.lower() for c in W.ISO_CODES)})
_SYMBOLS = frozenset("$€£¥₽₹₺₩₪₴₦₱฿₫₸")


def _money_word_ahead(text: str, pos: int) -> bool:
    window = text[pos : pos + _WORDS_AHEAD]
    return not _SYMBOLS.isdisjoint(window) or any(map(_is_money_word, _LETTERS.findall(window)))


@lru_cache(maxsize=100_000)
def _is_money_word(word: str) -> bool:
    return W.norm(word) in _MONEY_WORDS


_WORDS_AHEAD = 60  # characters: "two hundred and fifty million dollars" fits


def candidate_starts(text: str, folded: FoldedText | None = None) -> list[int]:
    """Offsets where an amount may begin, in order. Most of a text is ruled out here by
    regexes and set operations, before any per-word work. ``folded`` is ``text`` folded, when
    the caller has it."""
    starts = {m.start() for m in _DIGIT_OR_SYMBOL.finditer(text)}
    for at in list(starts):
        letters = at
        while letters > 0 and text[letters - 1].isalpha() and at - letters < 4:
            letters -= 1  # "US$", "Mex$", "C$": the prefix starts the amount
        starts.add(letters)
    starts.update(
        m.start()
        for m in _CAPITALS.finditer(text)
        if m.start() == 0 or not is_letter(text[m.start() - 1])
    )
    if folded is None:
        folded = FoldedText(text)
    words = folded.words
    span = folded.normalized.span
    for at, word in words.occurrences(words.distinct & _FOLDED_STARTERS):
        start, end = span(at, at + len(word))
        if _money_word_ahead(text, end):
            starts.add(start)
    return sorted(starts)
