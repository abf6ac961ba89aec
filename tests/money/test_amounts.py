"""Tests for monitor.money: a labelled corpus plus focused behaviour tests."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
import yaml

from monitor.money.amounts import Amount, find_amounts
from monitor.money.scan import candidate_starts
from monitor.text.words import FoldedText
from tests.support.files import FIXTURES

CASES_PATH = FIXTURES / "money_cases.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CASES_PATH.read_text(encoding="utf-8"))

# The paragraph from the first real document the product must handle.
SEED = (
    "وفقًا لصحيفة وول ستريت جورنال، كان رجل الأعمال إيلون ماسك على اتصال منتظم مع "
    "الرئيس الروسي بوتين منذ أواخر عام 2022. أُعلن اليوم أن ماسك استثمر 40 مليون يورو "
    "في حملة ترامب هذا الشهر وحده. بين يوليو وسبتمبر كان ذلك 70 مليون يورو. قام "
    "Nieuwsuur بعمل هذا الفيديو في أكتوبر 2022"
)

Key = tuple[str, Decimal, str | None]


def _gold(case: dict[str, Any]) -> list[Key]:
    return [(a["text"], Decimal(a["value"]), a["currency"]) for a in case["amounts"]]


def _got(text: str) -> list[Key]:
    return [(a.text, a.value, a.currency) for a in find_amounts(text)]


def _score(cases: list[dict[str, Any]]) -> tuple[int, int, int]:
    tp = fp = fn = 0
    for case in cases:
        gold = Counter(_gold(case))
        got = Counter(_got(case["text"]))
        hit = sum((gold & got).values())
        tp += hit
        fp += sum(got.values()) - hit
        fn += sum(gold.values()) - hit
    return tp, fp, fn


def _pr(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


def test_corpus_shape() -> None:
    langs = Counter(c["lang"] for c in CASES)
    traps = sum(1 for c in CASES if not c["amounts"])
    assert len(CASES) >= 330
    assert set(langs) == {"ar", "en", "fr", "de", "es", "ru"}
    assert min(langs.values()) >= 40
    assert traps / len(CASES) >= 0.40
    for case in CASES:
        for a in case["amounts"]:
            assert a["text"] in case["text"], a


def test_corpus_precision_recall() -> None:
    total = [0, 0, 0]
    for lang in sorted({c["lang"] for c in CASES}):
        tp, fp, fn = _score([c for c in CASES if c["lang"] == lang])
        p, r = _pr(tp, fp, fn)
        print(f"{lang}: tp={tp} fp={fp} fn={fn} precision={p:.3f} recall={r:.3f}")
        total = [total[0] + tp, total[1] + fp, total[2] + fn]
    p, r = _pr(*total)
    print(f"all: tp={total[0]} fp={total[1]} fn={total[2]} precision={p:.3f} recall={r:.3f}")
    assert p >= 0.98
    assert r >= 0.95


@pytest.mark.parametrize(
    "case", [c for c in CASES if not c["amounts"]], ids=lambda c: c["text"][:40]
)
def test_traps_give_nothing(case: dict[str, Any]) -> None:
    assert find_amounts(case["text"]) == []


def test_seed_paragraph() -> None:
    got = find_amounts(SEED)
    assert [(a.value, a.currency) for a in got] == [
        (Decimal(40_000_000), "EUR"),
        (Decimal(70_000_000), "EUR"),
    ]
    assert [a.text for a in got] == ["40 مليون يورو", "70 مليون يورو"]
    assert all(a.range_role is None and a.bound is None for a in got)
    assert "2022" not in " ".join(a.text for a in got)


def test_offsets_are_exact_over_corpus() -> None:
    for case in CASES:
        text = case["text"]
        found = find_amounts(text)
        assert [a.start for a in found] == sorted(a.start for a in found)
        for a in found:
            assert text[a.start : a.end] == a.text
            assert isinstance(a, Amount)


def test_offsets_with_prefix_text() -> None:
    text = "x" * 7 + " costs €40m, " + "وبلغت 5 ملايين دولار"
    found = find_amounts(text)
    assert [text[a.start : a.end] for a in found] == ["€40m", "5 ملايين دولار"]
    assert found[0].start == text.index("€")


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("٣٫٥ مليار دولار", "3500000000", "USD"),
        ("١٢٠ مليون يورو", "120000000", "EUR"),
        ("٧٥٠٬٠٠٠ ريال", "750000", "SAR"),
        ("۲۵ میلیون دلار است و ۱۲ مليون دولار", "12000000", "USD"),
        ("١٬٢٥٠٫٥ جنيه", "1250.5", "EGP"),
    ],
)
def test_arabic_indic_digits(text: str, value: str, currency: str) -> None:
    found = find_amounts(text)
    assert len(found) == 1
    assert found[0].value == Decimal(value)
    assert found[0].currency == currency


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,234,567.5 dollars", "1234567.5"),
        ("1.234.567,5 Euro", "1234567.5"),
        ("1 234 567,5 euros", "1234567.5"),
        ("1\u00a0234\u00a0567,5 euros", "1234567.5"),
        ("1\u202f234\u202f567,5 euros", "1234567.5"),
        ("1,500 dollars", "1500"),
        ("1.500 Euro", "1500"),
        ("3,5 Mrd. Euro", "3500000000"),
        ("2.5 billion dollars", "2500000000"),
        ("$1.500 billion", "1500000000"),
        ("1'000'000 CHF", "1000000"),
    ],
)
def test_grouping_and_decimals(text: str, value: str) -> None:
    found = find_amounts(text)
    assert len(found) == 1 and found[0].text == text
    assert found[0].value == Decimal(value)


@pytest.mark.parametrize(
    ("text", "lows", "highs", "currency"),
    [
        (
            "between 40 and 70 million euros",
            ("40", 40_000_000),
            ("70 million euros", 70_000_000),
            "EUR",
        ),
        ("بين 40 و70 مليون يورو", ("40", 40_000_000), ("70 مليون يورو", 70_000_000), "EUR"),
        ("$5-7bn", ("$5", 5_000_000_000), ("7bn", 7_000_000_000), "USD"),
        ("$5bn-$7bn", ("$5bn", 5_000_000_000), ("$7bn", 7_000_000_000), "USD"),
        (
            "from 10 to 20 million dollars",
            ("10", 10_000_000),
            ("20 million dollars", 20_000_000),
            "USD",
        ),
        (
            "zwischen 40 und 70 Millionen Euro",
            ("40", 40_000_000),
            ("70 Millionen Euro", 70_000_000),
            "EUR",
        ),
        (
            "entre 40 et 70 millions d'euros",
            ("40", 40_000_000),
            ("70 millions d'euros", 70_000_000),
            "EUR",
        ),
        (
            "de 40 a 70 millones de euros",
            ("40", 40_000_000),
            ("70 millones de euros", 70_000_000),
            "EUR",
        ),
        ("от 40 до 70 млн рублей", ("40", 40_000_000), ("70 млн рублей", 70_000_000), "RUB"),
        ("from 500 to 2 million dollars", ("500", 500), ("2 million dollars", 2_000_000), "USD"),
    ],
)
def test_ranges(text: str, lows: tuple[str, int], highs: tuple[str, int], currency: str) -> None:
    low, high = find_amounts(text)
    assert (low.text, low.value, low.currency, low.range_role) == (
        lows[0],
        Decimal(lows[1]),
        currency,
        "low",
    )
    assert (high.text, high.value, high.currency, high.range_role) == (
        highs[0],
        Decimal(highs[1]),
        currency,
        "high",
    )
    assert text[low.start : low.end] == low.text and text[high.start : high.end] == high.text


@pytest.mark.parametrize(
    "text",
    [
        "40 and 70 million euros",  # "and" without "between" is no range
        "بين يوليو وسبتمبر كان ذلك 70 مليون يورو",
        "it gave 5 million euros to 10 million people",
    ],
)
def test_not_ranges(text: str) -> None:
    found = find_amounts(text)
    assert len(found) == 1
    assert found[0].range_role is None


@pytest.mark.parametrize(
    ("text", "bound"),
    [
        ("more than 40 million euros", "min"),
        ("over $5bn", "min"),
        ("أكثر من 40 مليون دولار", "min"),
        ("plus de 3 millions d'euros", "min"),
        ("über 40 Millionen Euro", "min"),
        ("más de 3 millones de euros", "min"),
        ("более 100 млн долларов", "min"),
        ("up to €3m", "max"),
        ("less than $2 billion", "max"),
        ("حتى 20 مليون دولار", "max"),
        ("jusqu'à 20 millions d'euros", "max"),
        ("bis zu 20 Millionen Euro", "max"),
        ("hasta 20 millones de euros", "max"),
        ("до 3 млн рублей", "max"),
        ("40 million euros", None),
    ],
)
def test_bounds(text: str, bound: str | None) -> None:
    (found,) = find_amounts(text)
    assert found.bound == bound
    assert not found.approximate


@pytest.mark.parametrize(
    ("text", "approximate"),
    [
        ("about $2 billion", True),
        ("nearly 5 million dollars", True),
        ("حوالي 200 مليون دولار", True),
        ("بحوالي 200 مليون دولار", True),
        ("environ 800 000 euros", True),
        ("etwa 800 Euro", True),
        ("unos 800 millones de dólares", True),
        ("около 5 млрд евро", True),
        ("200 مليون دولار", False),
        ("$2 billion", False),
    ],
)
def test_approximate(text: str, approximate: bool) -> None:
    (found,) = find_amounts(text)
    assert found.approximate is approximate
    assert found.bound is None


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("two million dollars", 2_000_000, "USD"),
        ("twenty-five million dollars", 25_000_000, "USD"),
        ("half a billion dollars", 500_000_000, "USD"),
        ("a million dollars", 1_000_000, "USD"),
        ("ثلاثة ملايين جنيه", 3_000_000, "EGP"),
        ("مليون دولار", 1_000_000, "USD"),
        ("مليارا دولار", 2_000_000_000, "USD"),
        ("deux millions d'euros", 2_000_000, "EUR"),
        ("zwei Millionen Euro", 2_000_000, "EUR"),
        ("fünfundzwanzig Millionen Euro", 25_000_000, "EUR"),
        ("dos millones de dólares", 2_000_000, "USD"),
        ("treinta y cinco millones de euros", 35_000_000, "EUR"),
        ("два миллиона рублей", 2_000_000, "RUB"),
        ("двадцать пять тысяч рублей", 25_000, "RUB"),
        ("100 mil millones de dólares", 100_000_000_000, "USD"),
    ],
)
def test_numbers_in_words(text: str, value: int, currency: str) -> None:
    (found,) = find_amounts(text)
    assert (found.text, found.value, found.currency) == (text, Decimal(value), currency)


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("$5", "USD"),
        ("US$5", "USD"),
        ("C$5", "CAD"),
        ("A$5", "AUD"),
        ("HK$5", "HKD"),
        ("NZ$5", "NZD"),
        ("R$5", "BRL"),
        ("€5", "EUR"),
        ("£5", "GBP"),
        ("¥5", "JPY"),
        ("₽5", "RUB"),
        ("₹5", "INR"),
        ("₺5", "TRY"),
        ("₩5", "KRW"),
        ("₪5", "ILS"),
        ("USD 5", "USD"),
        ("5 EUR", "EUR"),
        ("5 CHF", "CHF"),
        ("5 dinars", None),
        ("5 pesos", None),
        ("5 pesos mexicanos", "MXN"),
        ("5 ريال", "SAR"),
        ("5 درهم", "AED"),
        ("5 جنيه", "EGP"),
        ("5 دولارات", "USD"),
        ("5 دينار", None),
        ("5 dollars américains", "USD"),
    ],
)
def test_currency_defaults(text: str, currency: str | None) -> None:
    (found,) = find_amounts(text)
    assert found.currency == currency
    assert found.value == Decimal(5)


@pytest.mark.parametrize(
    "text",
    [
        "40 million",
        "40 مليون",
        "the year 2022",
        "40%",
        "40 Prozent",
        "40 في المئة",
        "F-16",
        "Boeing 737",
        "iPhone 15",
        "3-1",
        "+44 20 7946 0958",
        "in 2022 dollars",
        "a million-dollar home",
        "euro-denominated 5",
        "USD/JPY 150.25",
        "12.03.2024 10:30",
    ],
)
def test_not_money(text: str) -> None:
    assert find_amounts(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "1" * 100_000,
        "1," * 50_000,
        "1.234," * 16_000,
        "1 234 " * 16_000,
        "$1-" * 30_000,
        "between 1 and " * 7_000,
        "مليون " * 16_000,
        "٣٫" * 50_000,
        "".join("0123456789,. \u00a0\u202f٫٬-$€"[(i * 7919) % 17] for i in range(100_000)),
    ],
)
def test_hostile_input_finishes(text: str) -> None:
    found = find_amounts(text)
    for a in found:
        assert text[a.start : a.end] == a.text


def test_empty_and_no_digits() -> None:
    assert find_amounts("") == []
    assert find_amounts("The euro and the dollar are currencies.") == []


# --- the scan for where amounts may begin ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("son offre d'une yen", "une"),  # elided article glued on
        ("دفع وثلاثة ملايين دولار", "وثلاثة"),  # proclitic و glued on
        ("قيمتها بمليون دولار", "بمليون"),  # proclitic ب glued on
        ("TWO million dollars", "TWO"),  # folded as rule matching folds
        ("أربعة ملايين دولار", "أربعة"),  # hamza folded
    ],
)
def test_number_words_are_found_among_the_words_of_the_folded_text(text: str, word: str) -> None:
    assert text.index(word) in candidate_starts(text)
    assert text.index(word) in candidate_starts(text, FoldedText(text))


@pytest.mark.parametrize("text", ["the plan of dollars", "the oneness of euros", "Twofold dollars"])
def test_a_number_word_inside_a_longer_word_is_no_start(text: str) -> None:
    assert candidate_starts(text) == []
