"""The one normaliser: folding, and offsets that map back to the original text."""

from __future__ import annotations

import pytest

from monitor.normalize import fold, normalize


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
