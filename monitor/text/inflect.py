"""Word forms: Arabic proclitics, and closed lists of endings per language and script.

Everything here works on folded words (see ``monitor.text.normalize``). Nothing is an open prefix
match: a form matches a term only when what is left after removing a listed proclitic or a
listed ending is exactly the term's word (or its stem). So "Газпромбанк" is not "Газпром"
("банк" is no case ending), "الترامبولين" is not "ترامب" and "trumpeted" is not "trump".

Two modes:

* ``NAMES`` (entity aliases, always on): Russian case endings on Cyrillic words (Путина,
  Путину, Газпромом), the genitive ``s`` on Latin words (Putins, Teslas). Arabic names take no
  endings.
* ``WORDS`` (keywords, when a rule asks for ``inflect: true``): the same, plus Arabic pronoun,
  dual and plural suffixes (حملة → حملته، حملتها، حملات) and Latin plural endings (sanctions,
  Sanktionen).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

NAMES = "names"
WORDS = "words"


def _is_arabic_letter(ch: str) -> bool:
    return "\u0621" <= ch <= "\u064a" or "\u0671" <= ch <= "\u06d3"


_RUSSIAN = frozenset(
    [
        "а",
        "я",
        "у",
        "ю",
        "ом",
        "ем",
        "ём",
        "е",
        "ы",
        "и",
        "ой",
        "ей",
        "ою",
        "ею",
        "ым",
        "им",
        "ых",
        "их",
        "ыми",
        "ими",
        "ов",
        "ев",
        "ам",
        "ям",
        "ами",
        "ями",
        "ах",
        "ях",
        "ого",
        "его",
        "ому",
        "ему",
    ]
)
# A final vowel or soft sign that the case endings replace: Москва → Москвы, Игорь → Игоря.
_RUSSIAN_STEM_FINAL = "аяйь"
_LATIN_NAMES = frozenset({"s"})
_LATIN_WORDS = frozenset({"s", "es", "e", "en", "n", "x"})
_ARABIC_PRONOUNS = ("ه", "ها", "هما", "هم", "هن", "ك", "كما", "كم", "كن", "ي", "ني", "نا")
_ARABIC_SUFFIXES = frozenset({*_ARABIC_PRONOUNS, "ان", "ين", "ون", "وا", "ات"})
# A word ending in ة (folded to ه) writes it ت before a suffix: حملة → حملته، حملتان، حملات.
_ARABIC_TA_MARBUTA = frozenset(
    {
        "ه",
        "ات",
        "تان",
        "تين",
        *("ت" + p for p in _ARABIC_PRONOUNS),
        *("ات" + p for p in _ARABIC_PRONOUNS),
    }
)
MIN_STEM = 2


@dataclass(frozen=True, slots=True)
class Inflection:
    """The forms of one word: ``stem`` followed by exactly one of ``endings`` ("" included
    when the bare stem is a form)."""

    stem: str
    endings: frozenset[str]

    def matches(self, word: str) -> bool:
        return word.startswith(self.stem) and word[len(self.stem) :] in self.endings


# The ending sets, built once and shared by every word that takes them.
_RUSSIAN_BARE = _RUSSIAN | {""}
_RUSSIAN_REPLACING = {final: _RUSSIAN | {final} for final in _RUSSIAN_STEM_FINAL}
_LATIN_ENDINGS = {NAMES: _LATIN_NAMES | {""}, WORDS: _LATIN_WORDS | {""}}
_ARABIC_BARE = _ARABIC_SUFFIXES | {""}


@lru_cache(maxsize=200_000)
def inflection(word: str, mode: str) -> Inflection | None:
    """How a folded word inflects in ``mode`` (``NAMES`` or ``WORDS``), or None if it does
    not (a digit, a script with no endings here, or Arabic in ``NAMES`` mode)."""
    if not word:
        return None
    first = word[0]
    if "\u0400" <= first <= "\u04ff":  # Cyrillic
        if word[-1] in _RUSSIAN_STEM_FINAL and len(word) > MIN_STEM + 1:
            return Inflection(word[:-1], _RUSSIAN_REPLACING[word[-1]])
        return Inflection(word, _RUSSIAN_BARE)
    if "a" <= first <= "z" or "\u00c0" <= first <= "\u024f":  # Latin
        return Inflection(word, _LATIN_ENDINGS[NAMES if mode == NAMES else WORDS])
    if mode == WORDS and _is_arabic_letter(first):
        if word.endswith("ه") and len(word) > MIN_STEM + 1:
            return Inflection(word[:-1], _ARABIC_TA_MARBUTA)
        return Inflection(word, _ARABIC_BARE)
    return None


ALL_ENDINGS = frozenset(
    {*_RUSSIAN, *_RUSSIAN_STEM_FINAL, *_LATIN_WORDS, *_ARABIC_SUFFIXES, *_ARABIC_TA_MARBUTA}
)
ENDING_LENGTHS = tuple(sorted({len(e) for e in ALL_ENDINGS}))


def stems_of(word: str) -> list[tuple[str, str]]:
    """Every ``(stem, ending)`` split of a word where the ending is one of any list here."""
    return [
        (word[:-n], word[-n:])
        for n in ENDING_LENGTHS
        if len(word) - n >= MIN_STEM and word[-n:] in ALL_ENDINGS
    ]


def _proclitic_prefixes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    plain = {
        conj + prep + article
        for conj in ("", "و", "ف")
        for prep in ("", "ب", "ك", "ل")
        for article in ("", "ال")
    } - {""}
    contracted = {conj + "لل" for conj in ("", "و", "ف")}
    by_length = sorted(plain, key=len, reverse=True)
    return tuple(by_length), tuple(sorted(contracted, key=len, reverse=True))


_PROCLITICS, _CONTRACTED = _proclitic_prefixes()


@lru_cache(maxsize=200_000)
def proclitic_forms(word: str) -> tuple[str, ...]:
    """The word itself and what it would be without an Arabic proclitic in front
    (و ف ب ك ل ال and their combinations; ل + ال contracts to لل: "للكرملين")."""
    if not _is_arabic_letter(word[:1]):
        return (word,)
    forms = [word]
    for prefix in _PROCLITICS:
        if word.startswith(prefix) and len(word) - len(prefix) >= MIN_STEM:
            forms.append(word[len(prefix) :])
    for prefix in _CONTRACTED:
        if word.startswith(prefix) and len(word) - len(prefix) >= MIN_STEM:
            forms.append("ال" + word[len(prefix) :])
    return tuple(forms)
