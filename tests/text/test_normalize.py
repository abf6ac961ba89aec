"""The one normaliser: folding, and offsets that map back to the original text."""

from __future__ import annotations

import random

import pytest

from monitor.text.normalize import _COMBINING, fold, fold_cluster, normalize


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Elon MUSK", "elon musk"),
        ("Straße", "strasse"),
        ("أحمد إبراهيم آمال ٱلله", "احمد ابراهيم امال الله"),
        ("مُحَمَّد", "محمد"),  # diacritics
        ("مـــاسك", "ماسك"),  # tatweel
        ("مصطفى", "مصطفي"),
        ("حملة", "حمله"),
        ("٣٫٥ مليار و۱۲۳", "3.5 مليار و123"),
        ("ﻻ", "لا"),  # presentation form, through NFKC
        ("Cafe\u0301", "café"),  # decomposed accent composes
    ],
)
def test_folds(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(
    ("text", "needle", "original"),
    [
        ("قال إِيلُون مَاسْك إن", "ايلون ماسك", "إِيلُون مَاسْك"),
        ("Die Straße von Musk", "strasse", "Straße"),
        ("مـــاسك و بوتين", "ماسك", "مـــاسك"),
        ("plain ascii Musk here", "musk", "Musk"),
    ],
)
def test_offsets_map_back_to_the_original(text: str, needle: str, original: str) -> None:
    n = normalize(text)
    at = n.text.index(needle)
    start, end = n.span(at, at + len(needle))
    assert text[start:end] == original


def _by_character(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The definition, the slow way: cut into clusters (a character and the combining marks
    after it), fold each, and map every folded character to its cluster's span."""
    clusters: list[tuple[int, str]] = []
    for i, ch in enumerate(text):
        if clusters and _COMBINING.match(ch):
            offset, cluster = clusters[-1]
            clusters[-1] = (offset, cluster + ch)
        else:
            clusters.append((i, ch))
    folded: list[str] = []
    spans: list[tuple[int, int]] = []
    for offset, cluster in clusters:
        out = fold_cluster(cluster)
        folded.append(out)
        spans += [(offset, offset + len(cluster))] * len(out)
    return "".join(folded), spans


_VARIED = [
    "Die Straße nach Gießen, ﬁnanziert vom Fluß-Amt: STRASSE ẞ",  # multi-character folds
    "ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ ŉ ǰ ΐ ﬓ և",  # ligatures and letters that fold to two or three
    "İstanbul'da İİ ıI i̇",  # Turkish dotted and dotless I
    "قال إِيلُون مَاسْك إن ٣٫٥ مليار و۱۲۳ ﻻ مـــاسك، مصطفى حملة آمال ٱلله",  # Arabic
    "Путин заявил: «Газпромбанк» — ЁЛКА\xa0ok…",  # Russian, a no-break space, an ellipsis
    "Cafe\u0301 e\u0301\u0323x \u0301start q\u0303 a\u0640\u0301b",  # combining marks
    "\u0301\u0302 marks with no base first",
    "ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ ᾀ ᾳ ﬀ ½ ™ №5 ㎏ 𝐀𝐁𝐂",  # Greek final sigma, compatibility forms
    "日本語テキスト ｶﾀｶﾅ ＡＢＣ ㈱ 한국어",  # pages of Unicode first met mid-text
]


def _random_texts(count: int) -> list[str]:
    rng = random.Random(20240611)  # noqa: S311  (seeded for a reproducible corpus)
    alphabet = "aBz ß ẞﬁﬂİıIΣσςΩ é\u0301\u0323\u0640ًُّأإآةى٣۵٫٬ﻻﻼ\xa0…½™日ｶＡ𝐀\n.,-Жжё"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(count)]


@pytest.mark.parametrize("text", _VARIED + _random_texts(400))
def test_same_text_and_offsets_as_folding_character_by_character(text: str) -> None:
    folded, spans = _by_character(text)
    n = normalize(text)
    assert n.text == folded
    assert fold(text) == folded
    assert [n.span(i, i + 1) for i in range(len(folded))] == spans
    for start in range(len(folded)):
        end = len(folded) - start // 2
        if end > start:
            assert n.span(start, end) == (spans[start][0], spans[end - 1][1])


def test_offsets_after_a_multi_character_fold_are_shifted() -> None:
    text = "Straße, Maßnahme und ﬁnal Musk"
    n = normalize(text)
    at = n.text.index("musk")
    assert text[slice(*n.span(at, at + 4))] == "Musk"
    at = n.text.index("final")
    assert text[slice(*n.span(at, at + 5))] == "ﬁnal"
    at = n.text.index("massnahme")
    assert text[slice(*n.span(at, at + 9))] == "Maßnahme"
    # The two characters of "ss" each map to the one "ß".
    at = n.text.index("ss")
    assert n.span(at, at + 1) == n.span(at + 1, at + 2) == (4, 5)
