"""The parsers of outside input, fuzzed briefly in every run (``tests/bench/fuzz.py`` runs
them for minutes): feeds, pages, money in news text, the query language, rules files. Each
keeps its contract (``tests/support/fuzz.py``) on whatever Hypothesis makes of real inputs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fuzz import TARGETS, Target


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_a_parser_keeps_its_contract_on_fuzzed_input(target: Target) -> None:
    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        value: Any = data.draw(target.inputs)
        target.check(value)

    run()


ATOM = "<feed xmlns='http://www.w3.org/2005/Atom'><title>t</title></feed>"
FOUND = [
    # a tatweel alone before a digit: no word once normalised (IndexError)
    ("money", "ـ0"),
    # characters YAML refuses, and a lone "=" (YAML 1.1's value key): reader and constructor
    # errors, not RulesError
    ("rules", "\x0b"),
    ("rules", "\x00"),
    ("rules", "="),
    # an XML declaration whose encoding is not a name (feedparser failed decoding it)
    ("feeds", b'<?xml version="1.0" encoding="\x80utf-8"?>' + ATOM.encode()),
    ("feeds", b'<?xml version="1.0" encoding="\x00utf-8"?>' + ATOM.encode()),
    # a date feedparser cannot read: its fallback from one key to the other warned
    (
        "feeds",
        b"<rss version='2.0'><channel><title></title><item><title></title>"
        b"<link>https://x/a</link><pubDate>Mon, 31 Feb 2026 25:61:61 +9999</pubDate>"
        b"</item></channel></rss>",
    ),
]


@pytest.mark.parametrize(
    ("name", "value"), FOUND, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FOUND)]
)
def test_what_fuzzing_found_stays_fixed(name: str, value: Any) -> None:
    (target,) = [t for t in TARGETS if t.name == name]
    target.check(value)
