"""Where in a text an amount may begin: the cheap pass that rules out most of a text before
``monitor.money`` parses the few places left.

An amount begins at digits, a currency symbol, an upper-case code or prefix ("USD", "US$",
"U.S. $"), letters glued to "$" ("Mex$"), or a number word ("two", "ثلاثة", "مليون") that a
magnitude or a currency follows within a few words. Plain character classes, set operations and
literal search do the work: the regex engine scans those far faster than patterns that open
with a lookaround (a number word is searched for as a literal with lookarounds after it, so the
hits of "a" inside "plan" are ruled out in C), and news repeats its vocabulary, so the per-word
tests are cached.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from monitor import money_words as W
from monitor.words import whole_word_offsets

DIGITS = "0-9\u0660-\u0669\u06f0-\u06f9"  # Latin, Arabic-Indic and Persian, for a class


def is_letter(ch: str) -> bool:
    """A letter, or an Arabic diacritic riding on one."""
    return ch.isalpha() or "\u064b" <= ch <= "\u065f"


# Letters of the scripts we read, all of them ``is_letter``: the regex rules out the hits of a
# number word inside longer words ("a" in "plan") before ``is_letter`` looks at the rest.
_SURELY_LETTERS = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0400-\u045f\u0620-\u065f"


def _first_words(*tables: Mapping[str, object]) -> frozenset[str]:
    return frozenset(re.split(r"[ .\-]", key)[0] for table in tables for key in table)


# Words that may begin a number in words or a bare magnitude ("two", "مليون", "half").
_STARTERS = _first_words(W.WORD_NUMBERS, W.NEED_MAG, W.MAGNITUDES)
_DIGIT_OR_SYMBOL = re.compile(rf"[{DIGITS}$€£¥₽₹₺₩₪₴₦₱฿₫₸]+")
_CAPITALS = re.compile(r"[A-Z][A-Z.]+")  # "USD", "U.S."; "Mex$", "C$" start at their "$"
_LETTERS = re.compile(r"[^\W\d_]+")
_PUNCTUATION = "\"'()[]{}«»“”„‘’‹›,.;:!?؟،؛…—–-/"


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


@lru_cache(maxsize=100_000)
def _may_start_in_words(word: str) -> bool:
    """Could an amount in words start at this word? False for the great majority of words."""
    key = W.norm(word)
    return key in _STARTERS or (key[:1] in "وب" and key[1:] in _STARTERS)


@lru_cache(maxsize=100_000)
def _number_word(token: str) -> str:
    """The token without the punctuation around it if an amount in words could start at it,
    else "" (decided once per token: news repeats its vocabulary)."""
    word = token.strip(_PUNCTUATION)
    return word if word and _may_start_in_words(word) else ""


def candidate_starts(text: str) -> list[int]:
    """Offsets where an amount may begin, in order. Most of a text is ruled out here by
    regexes, set operations and string search, before any per-word work."""
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
    words = set(map(_number_word, set(text.replace("-", " ").split())))
    words.discard("")
    for word in words:
        starts.update(
            at
            for at in whole_word_offsets(text, word, is_letter, _SURELY_LETTERS)
            if _money_word_ahead(text, at + len(word))
        )
    return sorted(starts)
