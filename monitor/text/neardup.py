"""Near-duplicate bodies: a 64-bit SimHash of an article's text, and the keys that find a
fingerprint within a few bits of it without comparing it with every recent one.

The fingerprint (Charikar's SimHash): the text folded as for matching
(``monitor.text.normalize``: case, Arabic letter forms and diacritics, digits), cut into words,
every run of ``SHINGLE`` words hashed to 64 bits; a bit of the fingerprint is set when more than
half of the shingles have it set. Texts that share most of their shingles get fingerprints a few
bits apart: a syndicated copy with another credit line and a word changed; a different story on
the same topic shares few runs of three words and lands about half the bits away. Texts shorter
than ``MIN_WORDS`` words get no fingerprint: a few dozen words (a caption, a feed's summary, a
breaking-news line) match too many unrelated texts.

Written here rather than taken from PyPI: the ``simhash`` package (last release 2022) hashes
character 4-grams of its own lower-casing rather than our folding, brings numpy along, and
keeps its index in process memory, while ours must be shared by every worker through the
store; the fingerprint itself is a dozen lines. BLAKE2b rather than ``hash()``, whose value
changes with each process.

The lookup: the 64 bits are four 16-bit quarters. Two fingerprints at most ``distance`` bits
apart differ in at most ``distance // 4`` bits in at least one quarter (pigeonhole: were every
quarter more bits apart, the whole would be more than ``distance``). So each fingerprint is
filed under its four quarter values (``filing_keys``), and a lookup reads every value within
``distance // 4`` bits of each quarter (``probe_keys``): 4 keys up to a distance of 3, 68 up
to 7, 548 up to 11, each holding the few recent fingerprints that share that quarter.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from monitor.settings import MAX_NEAR_DUPLICATE_DISTANCE
from monitor.text.normalize import fold

BITS = 64
QUARTER = 16
SHINGLE = 3  # words per shingle
MIN_WORDS = 50
_WORD = re.compile(r"\w+")
_QUARTER_MASK = (1 << QUARTER) - 1


def fingerprint(text: str) -> int | None:
    """The 64-bit SimHash of ``text``'s word shingles, or None for a text under ``MIN_WORDS``."""
    words = _WORD.findall(fold(text))
    if len(words) < MIN_WORDS:
        return None
    shingles = {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    hashes = [hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest() for s in shingles]
    # Column i of the hashes written out in binary holds bit i of every shingle's hash:
    # counting the ones in a strided slice is the bit count, done in C.
    columns = "".join(f"{int.from_bytes(h, 'big'):064b}" for h in hashes)
    half = len(hashes) / 2
    value = 0
    for bit in range(BITS):
        value = value << 1 | (columns[bit::BITS].count("1") > half)
    return value


def distance(a: int, b: int) -> int:
    """How many bits two fingerprints differ in (Hamming distance)."""
    return (a ^ b).bit_count()


def _quarters(value: int) -> list[int]:
    return [(value >> (QUARTER * i)) & _QUARTER_MASK for i in range(BITS // QUARTER)]


def _bucket(quarter: int, value: int) -> str:
    return f"near:{quarter}:{value:04x}"


def filing_keys(value: int) -> list[str]:
    """The four sets a fingerprint is filed in: one per quarter and its value."""
    return [_bucket(i, q) for i, q in enumerate(_quarters(value))]


def _within(value: int, radius: int) -> Iterable[int]:
    """Every 16-bit value at most ``radius`` bits from ``value``, itself first."""
    for flipped in range(radius + 1):
        for bits in combinations(range(QUARTER), flipped):
            yield value ^ sum(1 << b for b in bits)


def probe_keys(value: int, max_distance: int) -> list[str]:
    """The sets that hold every fingerprint within ``max_distance`` bits of ``value`` (and some
    farther ones: check each with ``distance``)."""
    if not 0 <= max_distance <= MAX_NEAR_DUPLICATE_DISTANCE:
        bound = MAX_NEAR_DUPLICATE_DISTANCE
        raise ValueError(f"distance must be 0 to {bound} bits, not {max_distance}")
    radius = max_distance // (BITS // QUARTER)
    return [_bucket(i, v) for i, q in enumerate(_quarters(value)) for v in _within(q, radius)]


@dataclass(frozen=True, slots=True)
class Filed:
    """One article's fingerprint as it is filed: a set member naming the article."""

    value: int
    key: str  # the article's key (its canonical URL)

    def member(self) -> str:
        return f"{self.value:016x} {self.key}"

    @classmethod
    def from_member(cls, member: str) -> Filed:
        value, key = member.split(" ", 1)
        return cls(int(value, 16), key)


def nearest(value: int, members: Iterable[str], max_distance: int, own_key: str) -> list[Filed]:
    """The filed fingerprints of other articles within ``max_distance`` bits of ``value``,
    nearest first (then by key, so every worker sees the same order)."""
    found = [Filed.from_member(m) for m in members]
    near = [f for f in found if f.key != own_key and distance(f.value, value) <= max_distance]
    return sorted(near, key=lambda f: (distance(f.value, value), f.key))
