"""The ``query:`` form, ``language:``/``feeds:`` filters, and the term → rules index."""

from __future__ import annotations

from decimal import Decimal

import pytest

from monitor.errors import RulesError
from monitor.money.amounts import Amount
from monitor.rules.load import parse_rules
from monitor.rules.match import Matcher
from monitor.rules.query import QueryError, parse_query

HEAD = """\
feeds:
  - url: http://127.0.0.1:8000/world.xml
    name: world
  - url: http://127.0.0.1:8000/business.xml
entities:
  musk: ["Elon Musk", "Musk", "ماسك", "Маск"]
  putin: ["Putin", "بوتين", "Путин"]
  trump: ["Trump", "ترامب"]
channels:
  desk: ["json://127.0.0.1:9/hook"]
rules:
"""


def rules_with(*queries: str, extra: str = "") -> Matcher:
    body = "".join(
        f"  - name: r{i}\n    query: '{q}'\n{extra}    notify: [desk]\n"
        for i, q in enumerate(queries)
    )
    return Matcher(parse_rules(HEAD + body))


def fires(query: str, text: str, **filters: str) -> bool:
    return bool(rules_with(query).match(text, [], **filters).fired)


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("@musk AND @putin", "Musk met Putin", True),
        ("@musk AND @putin", "Musk met Trump", False),
        ("@musk @putin", "ماسك التقى بوتين", True),  # side by side means AND
        ("@musk OR @trump", "قال ترامب", True),
        ("@musk NOT @trump", "Musk and Trump", False),
        ("@musk NOT @trump", "Musk and Putin", True),
        ("@musk AND NOT (@trump OR @putin)", "Musk and Putin", False),
        ("(@trump OR @putin) AND rocket", "Putin saw a rocket", True),
        ("(@trump OR @putin) AND rocket", "Putin saw rockets", False),
        ('"space race"', "the space — race began", True),
        ('"space race"', "the space. Race began", False),  # a sentence end splits a phrase
        ("sanction*", "new sanctions on Russia", True),
        ("sanction*", "it was unsanctioned", False),  # a prefix, not a substring
        ("عقوب*", "فرض العقوبات", True),  # behind the article ال
        ("санкци*", "новые санкции против", True),
        ("@musk NEAR/2 @putin", "Musk, said Putin", True),
        ("@musk NEAR/2 @putin", "Putin told them Musk", True),  # either order
        ("@musk NEAR/2 @putin", "Musk told all of them Putin", False),
        ('@putin NEAR/0 "Elon Musk"', "Elon Musk Putin", True),
        ("(@trump OR @putin) NEAR/1 Маск", "Путин и Маск", True),
        ("U.S. AND @musk", "the U.S. and Musk", True),
    ],
)
def test_query_semantics(query: str, text: str, expected: bool) -> None:
    assert fires(query, text) is expected


def test_query_evidence_names_terms_not_negated() -> None:
    text = "Putin, said Musk"
    (fired,) = rules_with("@musk NEAR/3 @putin NOT rocket*").match(text, []).fired
    assert [(e.kind, e.name, text[e.start : e.end]) for e in fired.evidence] == [
        ("entity", "putin", "Putin"),
        ("entity", "musk", "Musk"),
    ]


def test_query_with_money() -> None:
    matcher = rules_with("@musk AND campaign", extra="    money: {min: 1000000, currency: EUR}\n")
    text = "Musk gave 2 million euros to the campaign"
    big = [Amount("2 million euros", Decimal(2_000_000), "EUR", 10, 25)]
    small = [Amount("2 million euros", Decimal(900_000), "EUR", 10, 25)]
    (fired,) = matcher.match(text, big).fired
    assert [e.kind for e in fired.evidence] == ["entity", "money", "keyword"]
    assert matcher.match(text, small).fired == []


def test_inflect_applies_to_query_words() -> None:
    assert not fires("حملة", "في حملته")
    matcher = rules_with("حملة", extra="    inflect: true\n")
    assert matcher.match("في حملته", []).fired


def test_language_and_feed_filters() -> None:
    extra = "    language: [ar, ru]\n    feeds: [world]\n"
    matcher = rules_with("@putin", extra=extra)
    world, business = "http://127.0.0.1:8000/world.xml", "http://127.0.0.1:8000/business.xml"
    assert matcher.match("بوتين", [], language="ar", feed=world).fired
    assert not matcher.match("Putin", [], language="en", feed=world).fired
    assert not matcher.match("بوتين", [], language="ar", feed=business).fired
    assert matcher.match("Putin", []).fired  # unknown language and feed: no filter applies


def test_a_single_language_may_be_written_without_a_list() -> None:
    matcher = rules_with("@putin", extra="    language: ru\n")
    assert matcher.match("Путин", [], language="ru").fired
    assert not matcher.match("Putin", [], language="en").fired


def test_only_rules_anchored_on_found_terms_are_candidates() -> None:
    text = HEAD + (
        "  - name: musk-and-rocket\n    query: '@musk AND rocket'\n    notify: [desk]\n"
        "  - name: putin-or-trump\n    query: '@putin OR @trump'\n    notify: [desk]\n"
        "  - name: money-only\n    money: {min: 1, currency: EUR}\n    notify: [desk]\n"
        "  - name: not-musk\n    query: 'NOT @musk'\n    money: {min: 1, currency: EUR}\n"
        "    notify: [desk]\n"
    )
    matcher = Matcher(parse_rules(text))
    names = lambda keys: [matcher.rules.rules[i].name for i in matcher.candidates(keys)]  # noqa: E731
    assert names([]) == ["money-only", "not-musk"]
    assert names(["@trump"]) == ["putin-or-trump", "money-only", "not-musk"]
    # an AND is indexed under its most selective operand only
    assert names(["=rocket"]) == ["money-only", "not-musk"]
    assert names(["@musk"]) == ["musk-and-rocket", "money-only", "not-musk"]


@pytest.mark.parametrize(
    ("query", "at", "reason"),
    [
        ("(@musk OR @putin", 0, "'(' is never closed"),
        ("@musk OR @putin)", 15, "')' closes nothing"),
        ("@musk NEAR @putin", 6, "NEAR without a number"),
        ("@musk AND", 9, "ends where a term was expected"),
        ('"elon musk', 0, "never closed"),
        ("sa*", 0, "at least 3 letters"),
        ("s*nction", 0, "may only end a single word"),
        ('"defence contract*"', 0, "not a phrase"),
        ("(a AND b) NEAR/2 c", 10, "NEAR joins terms"),
        ("", 0, "empty"),
    ],
)
def test_query_syntax_errors(query: str, at: int, reason: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert caught.value.at == at and reason in caught.value.reason


@pytest.mark.parametrize(
    ("rule", "line", "column", "reason"),
    [
        ("    query: '@musk AND (@putin OR @trump'\n", 13, 23, "'(' is never closed"),
        ('    query: "@musk NEAR @putin"\n', 13, 19, "NEAR without a number"),
        ('    query: "@musk AND @ptin"\n', 13, 23, "unknown entity 'ptin'"),
        ("    query: '@musk'\n    feeds: [sports]\n", 14, 13, "feed 'sports'"),
        ("    query: '@musk'\n    language: [arabic]\n", 14, 15, "not an ISO 639-1"),
        ("    keywords: {any: ['---']}\n", 13, 22, "no letter or digit"),
    ],
)
def test_rule_errors_point_at_the_problem(rule: str, line: int, column: int, reason: str) -> None:
    text = HEAD + "  - name: bad\n" + rule + "    notify: [desk]\n"
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "rules.yaml")
    problems = str(caught.value).splitlines()
    assert any(p.startswith(f"rules.yaml:{line}:{column}: ") and reason in p for p in problems), (
        problems
    )


def test_an_alias_with_nothing_to_match_is_refused() -> None:
    text = HEAD.replace('"Elon Musk"', '"..."') + "  - name: r\n    query: x\n    notify: [desk]\n"
    with pytest.raises(RulesError, match=r"rules.yaml:6:10: alias '\.\.\.' of entity 'musk'"):
        parse_rules(text, "rules.yaml")
