"""Finding every term of every rule in a text in one pass: the presearcher.

A term (an entity alias, a keyword, a query word, phrase or ``prefix*``) occurs in a text when
its folded form (see ``monitor.text.normalize``) stands there as whole words: "Musk" is not in
"Muskrat", "ماسك" is not in "تماسك". The words of a phrase may be apart by any whitespace or
punctuation that does not end a sentence. A word may carry an Arabic proclitic in front
("وماسك", "لترامب", "بالكرملين", "للكرملين") and, where its term inflects, one ending of a
closed list (see ``monitor.text.inflect``).

Why words and not characters. Reverse-search engines run one multi-pattern automaton
(Aho-Corasick) over the text. Here the unit of matching is the whole word, and every rule of
word formation we honour is a function of one word: strip a proclitic, strip a listed ending and
look the stem up, look the word's first n letters up for ``prefix*``. So the text is cut into
its words once (``monitor.text.words.Words``: a few hundred distinct ones in an 8 KB article,
since news repeats itself), each new word is resolved against hash tables of the terms' first
words, stems and prefixes and the answer cached, and the same cut gives the offsets of the few
words that start a term, and the word numbers ``NEAR`` counts in. ``tests/bench/bench_rules.py``
measures this design against the per-rule regex baseline, and against a character automaton
(pyahocorasick) over the same folded terms: the automaton's raw pass is the faster of the two
(about half the time at 10,000 rules, a third at 100,000), but it still lacks the proclitic,
ending and phrase-gap checks, and both stay far inside the issue's floors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Generic, NamedTuple, TypeVar

from monitor.text.inflect import Inflection, inflection, proclitic_forms, stems_of
from monitor.text.normalize import Normalized, fold
from monitor.text.words import Words

# The words of a phrase may be apart by anything but a sentence end: a line break, ! ? ؟ or a
# full stop followed by a space (a full stop inside a word, as in "U.S." or "3.5", ends none).
_SENTENCE_END = re.compile(r"[!?؟۔\n]|\.\W*\s")
_WORD = re.compile(r"\w+")
_NEXT_WORD = re.compile(r"(\W*)(\w+)")
_WORD_CACHE_SIZE = 500_000
K = TypeVar("K")


class Hit(NamedTuple):
    """One occurrence of a term: ``start``/``end`` are offsets into the original text,
    ``folded_start``/``folded_end`` into the folded one (for distances in words)."""

    term: str
    start: int
    end: int
    folded_start: int = 0
    folded_end: int = 0


class TermSpec(NamedTuple, Generic[K]):
    """A term to find: reported under ``key``, as ``text`` (as the rule wrote it).

    ``inflect`` is ``monitor.text.inflect.NAMES`` or ``WORDS`` for the endings its words may
    take, or None; ``prefix`` makes the (single-word) term match every word that begins with it.
    """

    key: K
    text: str
    inflect: str | None = None
    prefix: bool = False


class _Term(NamedTuple, Generic[K]):
    key: K
    text: str
    words: tuple[str, ...]
    forms: tuple[Inflection | None, ...]


@lru_cache(maxsize=1_000_000)
def term_words(text: str) -> tuple[str, ...]:
    """The folded words of a term; empty when it has no letter or digit."""
    return tuple(_WORD.findall(fold(text)))


class TermSet(Generic[K]):
    """Terms found in one pass over the distinct words of a text.

    Each distinct word of the text is resolved once (and cached) against three tables: the
    terms' first words, the stems of first words that inflect, and the prefixes of
    wildcards; each form of the word without an Arabic proclitic is tried too. Phrases then
    check the words that follow and the gaps between them.
    """

    def __init__(self, specs: Iterable[TermSpec[K]]) -> None:
        self._exact: dict[str, list[_Term[K]]] = {}
        self._stems: dict[str, list[_Term[K]]] = {}
        self._prefixes: dict[str, list[_Term[K]]] = {}
        for spec in specs:
            words = term_words(spec.text)
            if not words:
                continue
            mode = spec.inflect
            forms = tuple([inflection(w, mode) for w in words]) if mode else (None,) * len(words)
            term = _Term(spec.key, spec.text, words, forms)
            if spec.prefix:
                self._prefixes.setdefault(words[0], []).append(term)
                continue
            self._exact.setdefault(words[0], []).append(term)
            first = forms[0]
            if first is not None and (len(first.endings) > 1 or "" not in first.endings):
                self._stems.setdefault(first.stem, []).append(term)
        self._prefix_lengths = sorted({len(p) for p in self._prefixes})
        # Every word met in a text so far, and those of them that may start a term: news
        # repeats its vocabulary, so after a few articles a text is two set operations away
        # from the few words worth a look.
        self._known: set[str] = set()
        # Per word: the one-word terms it is, and the phrases it may begin.
        self._starting: dict[str, tuple[tuple[_Term[K], ...], tuple[_Term[K], ...]]] = {}

    def phrases(self) -> set[str]:
        """Every term as its folded words, one space apart (what a character automaton over
        the folded text would look for)."""
        return {
            " ".join(term.words)
            for table in (self._exact, self._prefixes)
            for terms in table.values()
            for term in terms
        }

    def _terms_starting(self, word: str) -> tuple[_Term[K], ...]:
        found: dict[int, _Term[K]] = {}
        for form in proclitic_forms(word):
            for term in self._exact.get(form, ()):
                found[id(term)] = term
            if self._stems:
                for stem, _ in stems_of(form):
                    for term in self._stems.get(stem, ()):
                        first = term.forms[0]
                        if first is not None and first.matches(form):
                            found[id(term)] = term
            for n in self._prefix_lengths:
                if n > len(form):
                    break
                for term in self._prefixes.get(form[:n], ()):
                    found[id(term)] = term
        return tuple(found.values())

    def _learn(self, words: set[str]) -> None:
        if len(self._known) > _WORD_CACHE_SIZE:
            self._known.clear()
            self._starting.clear()
        for word in words:
            terms = self._terms_starting(word)
            if terms:
                self._starting[word] = (
                    tuple(t for t in terms if len(t.words) == 1),
                    tuple(t for t in terms if len(t.words) > 1),
                )
        self._known |= words

    def find(self, text: Normalized, words: Words | None = None) -> dict[K, list[Hit]]:
        """Every occurrence of every term, by key; overlapping hits of one key keep the
        longest. ``words`` are the words of ``text.text``, when the caller has cut them."""
        folded = text.text
        if words is None:
            words = Words(folded)
        unique = words.distinct
        self._learn(unique - self._known)
        starting = self._starting
        span = text.span
        found: dict[K, list[Hit]] = {}
        # Hits come in text order: only a key with a hit overlapping the one before (or
        # starting with it) needs sorting out.
        overlapping: set[K] = set()
        live: dict[str, tuple[_Term[K], ...]] = {}
        # The keys view iterates over the smaller side; set.intersection would walk every word
        # ever learned.
        for at, word in words.occurrences(starting.keys() & unique):
            singles, phrases = starting[word]
            if phrases:
                # A phrase whose other words are not all in the text cannot occur: checked
                # once per text, not at every occurrence of a common first word.
                kept = live.get(word)
                if kept is None:
                    kept = live[word] = tuple(t for t in phrases if _rest_present(t, unique))
                phrases = kept
            end = at + len(word)
            # Singles and phrases record their hits alike, written out for each: this runs per
            # occurrence, and one shared path costs the 100,000-rule pass about 5%.
            if singles:
                start, stop = span(at, end)
                for term in singles:
                    hits = found.get(term.key)
                    if hits is None:
                        hits = found[term.key] = []
                    elif start < hits[-1].end:
                        overlapping.add(term.key)
                    hits.append(Hit(term.text, start, stop, at, end))
            for term in phrases:
                last = _phrase_end(folded, end, term)
                if last is not None:
                    start, stop = span(at, last)
                    hits = found.get(term.key)
                    if hits is None:
                        hits = found[term.key] = []
                    elif start < hits[-1].end:
                        overlapping.add(term.key)
                    hits.append(Hit(term.text, start, stop, at, last))
        for key in overlapping:
            found[key] = _longest_first(found[key])
        return found


def _rest_present(term: _Term[K], unique: set[str]) -> bool:
    """Whether every word of a phrase after the first is among the text's words, as written
    or in one of its forms."""
    for word, form in zip(term.words[1:], term.forms[1:], strict=True):
        if word not in unique and (
            form is None or not any(form.stem + ending in unique for ending in form.endings)
        ):
            return False
    return True


def _phrase_end(text: str, pos: int, term: _Term[K]) -> int | None:
    """Where a phrase ends if its words after the first follow ``pos``, apart by anything but
    a sentence end; None if they do not."""
    for wanted, form in zip(term.words[1:], term.forms[1:], strict=True):
        step = _NEXT_WORD.match(text, pos)
        if step is None or _SENTENCE_END.search(step.group(1)):
            return None
        word = step.group(2)
        if word != wanted and (form is None or not form.matches(word)):
            return None
        pos = step.end()
    return pos


def _longest_first(hits: list[Hit]) -> list[Hit]:
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -(h.end - h.start))):
        if kept and hit.start < kept[-1].end:
            continue
        kept.append(hit)
    return kept
