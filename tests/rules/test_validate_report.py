"""What ``monitor rules validate`` reports: every problem of a rules file in one pass, the
schema's and the references', each in the file's words (the key, what is expected, what was
written) with the nearest name when one is close, and no problem that only follows from another."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.errors import RulesError
from monitor.rules.load import load_rules
from monitor.rules.model import did_you_mean

HEAD = """\
entities:
  musk: [Elon Musk, Musk]
  putin: [Vladimir Putin, Putin]
channels:
  desk: ['json://127.0.0.1:9/hook']
feeds:
  - {url: 'https://example.org/rss.xml', name: world}
rules:
"""
GOOD_RULE = "  - {name: good, entities: {any: [musk]}, notify: [desk]}\n"


def problems(tmp_path: Path, text: str) -> list[str]:
    """The lines ``load_rules`` refuses the file with, the directory left out; none if it loads."""
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_rules(path)
    except RulesError as refused:
        return [line.removeprefix(f"{tmp_path}{os.sep}") for line in str(refused).splitlines()]
    return []


def refusal(tmp_path: Path, text: str) -> list[str]:
    """The lines ``load_rules`` refuses the file with, which it must."""
    lines = problems(tmp_path, text)
    assert lines, "the file loaded"
    return lines


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        (
            "  - {name: r, money: {min: lots, currency: EUR}, notify: [desk]}\n",
            "9:28: rules[0].money.min: a number is expected, got 'lots'",
        ),
        (
            "  - {name: r, money: {min: true, currency: EUR}, notify: [desk]}\n",
            "9:28: rules[0].money.min: a number is expected, got true",
        ),
        (
            "  - {name: r, money: {max: [1], currency: EUR}, notify: [desk]}\n",
            "9:28: rules[0].money.max: a number is expected, got a list",
        ),
        (
            "  - {name: r, money: {min: .inf, currency: EUR}, notify: [desk]}\n",
            "9:28: rules[0].money.min: a finite number is expected, got inf",
        ),
        (
            "  - {name: r, money: 5, notify: [desk]}\n",
            "9:22: rules[0].money: a mapping is expected, got 5",
        ),
        (
            "  - {name: r, entities: {any: [musk]}, notify: []}\n",
            "9:48: rules[0].notify: at least one channel is expected",
        ),
        (
            "  - {name: r, entities: {any: musk}, notify: [desk]}\n",
            "9:31: rules[0].entities.any: a list is expected, got 'musk'",
        ),
        (
            "  - {name: r, entities: [musk], notify: [desk]}\n",
            "9:25: rules[0].entities: a mapping is expected, got a list",
        ),
        (
            "  - {name: 5, entities: {any: [musk]}, notify: [desk]}\n",
            "9:12: rules[0].name: a string is expected, got 5",
        ),
        (
            "  - {name: , entities: {any: [musk]}, notify: [desk]}\n",
            "9:12: rules[0].name: a string is expected, got nothing",
        ),
        (
            "  - {name: '', entities: {any: [musk]}, notify: [desk]}\n",
            "9:12: rules[0].name: a string that is not empty is expected, got ''",
        ),
        (
            "  - {name: r, entities: {any: [musk]}, notify: [desk], inflect: maybe}\n",
            "9:65: rules[0].inflect: true or false is expected, got 'maybe'",
        ),
        (
            "  - {name: r, entities: {any: [musk]}, notify: [desk], inflect: [1]}\n",
            "9:65: rules[0].inflect: true or false is expected, got a list",
        ),
        (
            "  - {name: r, entities: {any: [musk]}, notify: [desk], templates: {text: 2024-01-01}}\n",
            "9:74: rules[0].templates.text: a string is expected, got 2024-01-01",
        ),
        (
            "  - {name: r, entities: {any: [musk]}, notify: [desk], query: !!binary /w==}\n",
            "9:63: rules[0].query: text in UTF-8 is expected, got binary data",
        ),
        (
            "  - {name: r, entities: {any: [musk]}, notify: [desk], cooldown: 2x}\n",
            "9:66: rules[0].cooldown: '2x' is not a duration; write it like 30s, 5m, 1h or 1d",
        ),
        ("  - {entities: {any: [musk]}, notify: [desk]}\n", "9:5: rules[0]: 'name' is missing"),
        ("  - 5\n", "9:5: rules[0]: a mapping is expected, got 5"),
        (
            "  - {name: r, entities: {any: [musk]}, notfiy: [desk]}\n",
            "9:40: rules[0]: unknown key 'notfiy'; did you mean 'notify'?",
        ),
        (
            "  - {name: r, entities: {any: [musk]}, notify: [desk], colour: red}\n",
            "9:56: rules[0]: unknown key 'colour'",
        ),
        (
            "  - {name: r, entities: {al: [musk]}, notify: [desk]}\n",
            "9:26: rules[0].entities: unknown key 'al'; did you mean 'all'?",
        ),
        (
            "  - {name: r, money: {min: 1, currency: EUR, maximum: 2}, notify: [desk]}\n",
            "9:46: rules[0].money: unknown key 'maximum'; did you mean 'max'?",
        ),
    ],
)
def test_a_schema_error_names_the_key_and_what_is_expected(
    tmp_path: Path, rule: str, said: str
) -> None:
    assert refusal(tmp_path, HEAD + rule) == [f"rules.yaml:{said}"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("rules: 5\n", "1:8: rules: a list is expected, got 5"),
        ("rules:\n", "1:7: rules: a list is expected, got nothing"),
        ("rulez: []\n", "1:1: unknown key 'rulez'; did you mean 'rules'?"),
        ("entities: [musk]\n", "1:11: entities: a mapping is expected, got a list"),
        ("entities: {musk: []}\n", "1:18: entities.musk: at least one alias is expected"),
        (
            "entities: {musk: [[Musk]]}\n",
            "1:19: entities.musk[0]: a string is expected, got a list",
        ),
        ("channels: {desk: []}\n", "1:18: channels.desk: at least one URL is expected"),
        (
            "feeds:\n  - {url: 'https://x.org', evry: 5m}\n",
            "2:28: feeds[0]: unknown key 'evry'; did you mean 'every'?",
        ),
        ("feeds:\n  - {every: 5m}\n", "2:5: feeds[0]: 'url' is missing"),
        (
            "feeds:\n  - {url: 'https://x.org', every: 5x}\n",
            "2:35: feeds[0].every: '5x' is not a duration; write it like 30s, 5m, 1h or 1d",
        ),
        ("rates: {SAR: lots}\n", "1:14: rates.SAR: a number is expected, got 'lots'"),
        (
            "rates: {SAR: -1}\n",
            "1:8: rates: the rate for SAR must be a positive number of units per euro",
        ),
    ],
)
def test_a_section_error_names_its_key(tmp_path: Path, text: str, said: str) -> None:
    assert refusal(tmp_path, text) == [f"rules.yaml:{said}"]


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (".inf", "a duration must be between one second and 999999999 days"),
        (".nan", "a duration must be between one second and 999999999 days"),
        ("99999999999d", "a duration must be between one second and 999999999 days"),
        ("0s", "a duration must be between one second and 999999999 days"),
    ],
)
def test_a_duration_out_of_bounds_is_refused_not_a_crash(
    tmp_path: Path, written: str, said: str
) -> None:
    rule = f"  - {{name: r, entities: {{any: [musk]}}, notify: [desk], cooldown: {written}}}\n"
    assert refusal(tmp_path, HEAD + rule) == [f"rules.yaml:9:66: rules[0].cooldown: {said}"]


# pydantic's own wording, which the file's author never sees
PYDANTIC_WORDS = re.compile(
    r"Input should|should have|Field required|Extra inputs|instance of|Decimal input|unable to"
)
ODD_VALUES = ["5", "1.5", "true", "", "lots", "[1]", "{a: 1}", "2024-01-01", "!!binary /w==", "''"]
FIELDS = [
    "rules:\n  - {name: r, notify: [desk], money: {currency: EUR, min: %s}}\n",
    "rules:\n  - {name: r, notify: [desk], money: {currency: %s}}\n",
    "rules:\n  - {name: r, notify: [desk], money: %s}\n",
    "rules:\n  - {name: r, notify: [desk], entities: {all: %s}}\n",
    "rules:\n  - {name: r, notify: [desk], entities: {none: [%s]}}\n",
    "rules:\n  - {name: r, notify: [desk], keywords: %s}\n",
    "rules:\n  - {name: r, notify: [desk], query: %s}\n",
    "rules:\n  - {name: r, notify: [desk], inflect: %s}\n",
    "rules:\n  - {name: r, notify: [desk], language: %s}\n",
    "rules:\n  - {name: r, notify: [desk], feeds: %s}\n",
    "rules:\n  - {name: r, notify: %s}\n",
    "rules:\n  - {name: r, notify: [%s]}\n",
    "rules:\n  - {name: %s, notify: [desk]}\n",
    "rules:\n  - {name: r, notify: [desk], cooldown: %s}\n",
    "rules:\n  - {name: r, notify: [desk], digest: %s}\n",
    "rules:\n  - {name: r, notify: [desk], templates: %s}\n",
    "rules:\n  - {name: r, notify: [desk], templates: {text: %s}}\n",
    "rules:\n  - %s\n",
    "rules: %s\n",
    "feeds: %s\n",
    "feeds:\n  - %s\n",
    "feeds:\n  - {url: %s}\n",
    "feeds:\n  - {url: 'https://x.org', every: %s}\n",
    "feeds:\n  - {url: 'https://x.org', name: %s}\n",
    "entities: %s\n",
    "entities: {musk: %s}\n",
    "entities: {musk: [%s]}\n",
    "channels: %s\n",
    "channels: {desk: %s}\n",
    "channels: {desk: [%s]}\n",
    "rates: %s\n",
    "rates: {SAR: %s}\n",
]


@pytest.mark.parametrize("field", FIELDS)
def test_no_value_in_any_key_gets_pydantic_s_words(tmp_path: Path, field: str) -> None:
    for value in ODD_VALUES:
        for line in problems(tmp_path, field % value):
            assert not PYDANTIC_WORDS.search(line), (value, line)


def test_schema_and_reference_errors_come_in_one_pass_sorted_by_line(tmp_path: Path) -> None:
    text = HEAD + (
        "  - {name: one, money: {min: lots, currency: EUR}, notify: [desk]}\n"
        "  - {name: two, entities: {all: [musk, ptin]}, notify: [desk]}\n"
        "  - {name: three, query: '@musk AND @elon', notify: [dsek]}\n"
        "  - {name: two, entities: {any: [putin]}, notify: [desk], colour: red}\n"
        "  - {name: two, entities: {any: [putin]}, notify: [desk]}\n"
    )
    assert refusal(tmp_path, text) == [
        "rules.yaml:9:30: rules[0].money.min: a number is expected, got 'lots'",
        "rules.yaml:10:40: unknown entity 'ptin' in rule 'two'; did you mean 'putin'?",
        "rules.yaml:11:37: unknown entity 'elon' in rule 'three'",
        "rules.yaml:11:54: unknown channel 'dsek' in rule 'three'; did you mean 'desk'?",
        "rules.yaml:12:12: duplicate rule name 'two'",
        "rules.yaml:12:59: rules[3]: unknown key 'colour'",
        "rules.yaml:13:12: duplicate rule name 'two'",
    ]


def test_a_duplicate_key_is_reported_with_the_rest(tmp_path: Path) -> None:
    text = HEAD + (
        "  - {name: one, entities: {any: [musk]}, notify: [desk], notify: [desk]}\n"
        "  - {name: two, entities: {any: [musk]}, notify: [desk], inflect: maybe}\n"
        "  - {name: three, entities: {any: [elon]}, notify: [desk]}\n"
    )
    assert refusal(tmp_path, text) == [
        "rules.yaml:9:58: duplicate key 'notify'",
        "rules.yaml:10:67: rules[1].inflect: true or false is expected, got 'maybe'",
        "rules.yaml:11:36: unknown entity 'elon' in rule 'three'",
    ]


def test_a_rule_the_schema_refused_is_still_checked_for_its_references(tmp_path: Path) -> None:
    rule = "  - {name: r, entities: {any: [nobody]}, notify: [nowhere], inflect: maybe}\n"
    assert refusal(tmp_path, HEAD + rule) == [
        "rules.yaml:9:32: unknown entity 'nobody' in rule 'r'",
        "rules.yaml:9:51: unknown channel 'nowhere' in rule 'r'",
        "rules.yaml:9:70: rules[0].inflect: true or false is expected, got 'maybe'",
    ]


def test_a_misspelt_key_is_read_as_the_key_meant_and_a_broken_condition_is_not_missed(
    tmp_path: Path,
) -> None:
    """Its value is checked as what it was meant to be, and a rule whose only condition is
    broken is not said to state none as well."""
    text = HEAD + (
        "  - {name: a, entities: {all: [ptin]}, notfiy: [dsek]}\n"
        "  - {name: b, money: {min: lots, currency: EUR}, notify: [desk]}\n"
    )
    assert refusal(tmp_path, text) == [
        "rules.yaml:9:32: unknown entity 'ptin' in rule 'a'; did you mean 'putin'?",
        "rules.yaml:9:40: rules[0]: unknown key 'notfiy'; did you mean 'notify'?",
        "rules.yaml:9:49: unknown channel 'dsek' in rule 'a'; did you mean 'desk'?",
        "rules.yaml:10:28: rules[1].money.min: a number is expected, got 'lots'",
    ]


def test_a_name_the_schema_refused_is_still_declared(tmp_path: Path) -> None:
    text = (
        "entities: {musk: [Musk, [Elon]]}\n"
        "channels: {desk: ['json://127.0.0.1:9/hook'], pager: 5}\n"
        "feeds:\n  - {url: 'https://example.org/rss.xml', name: world, every: never}\n"
        "rules:\n  - {name: r, entities: {any: [musk]}, query: '@musk', notify: [desk, pager], feeds: [world]}\n"
    )
    assert refusal(tmp_path, text) == [
        "rules.yaml:1:25: entities.musk[1]: a string is expected, got a list",
        "rules.yaml:2:54: channels.pager: a list is expected, got 5",
        "rules.yaml:4:62: feeds[0].every: 'never' is not a duration; write it like 30s, 5m, 1h or 1d",
    ]


DESK = "channels: {desk: ['json://127.0.0.1:9/hook']}\n"
MUSK = "entities: {musk: [Musk]}\n"
FEED = "feeds: [{url: 'https://example.org/rss.xml'}]\n"
USE_ALL = "rules:\n  - {name: r, entities: {any: [musk]}, notify: [desk], feeds: ['https://example.org/rss.xml']}\n"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            DESK + "entities: [musk]\n" + FEED + USE_ALL,
            "2:11: entities: a mapping is expected, got a list",
        ),
        (
            MUSK + "channels: desk\n" + FEED + USE_ALL,
            "2:11: channels: a mapping is expected, got 'desk'",
        ),
        (
            MUSK + DESK + "feeds:\n  - https://example.org/rss.xml\n" + USE_ALL,
            "4:5: feeds[0]: a mapping is expected, got 'https://example.org/rss.xml'",
        ),
    ],
)
def test_names_are_not_judged_against_a_section_that_is_unreadable(
    tmp_path: Path, text: str, said: str
) -> None:
    assert refusal(tmp_path, text) == [f"rules.yaml:{said}"]


def test_a_misspelled_section_still_declares_its_names(tmp_path: Path) -> None:
    text = HEAD.replace("entities:", "entites:") + GOOD_RULE
    assert refusal(tmp_path, text) == [
        "rules.yaml:1:1: unknown key 'entites'; did you mean 'entities'?"
    ]


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        (
            "  - {name: r, entities: {none: [msk]}, notify: [desk]}\n",
            "9:33: unknown entity 'msk' in rule 'r'; did you mean 'musk'?",
        ),
        (
            "  - {name: r, query: 'Tesla AND @mask', notify: [desk]}\n",
            "9:33: unknown entity 'mask' in rule 'r'; did you mean 'musk'?",
        ),
        (
            "  - {name: r, entities: {any: [musk]}, notify: [desks]}\n",
            "9:49: unknown channel 'desks' in rule 'r'; did you mean 'desk'?",
        ),
        (
            "  - {name: r, entities: {any: [musk]}, notify: [pager]}\n",
            "9:49: unknown channel 'pager' in rule 'r'",
        ),
        (
            "  - {name: r, entities: {any: [musk]}, notify: [desk], feeds: [wrld]}\n",
            "9:64: feed 'wrld' of rule 'r' is not in the file's feeds; did you mean 'world'?",
        ),
        (
            "  - {name: r, entities: {any: [musk]}, notify: [desk], feeds: ['https://example.org/rss']}\n",
            "9:64: feed 'https://example.org/rss' of rule 'r' is not in the file's feeds; did you mean 'https://example.org/rss.xml'?",
        ),
        (
            "  - {name: r, entities: {any: [musk]}, notify: [desk], feeds: [sport]}\n",
            "9:64: feed 'sport' of rule 'r' is not in the file's feeds",
        ),
    ],
)
def test_an_unknown_name_comes_with_the_nearest_declared_one(
    tmp_path: Path, rule: str, said: str
) -> None:
    assert refusal(tmp_path, HEAD + rule) == [f"rules.yaml:{said}"]


def test_did_you_mean_names_the_closest_only_when_one_is_close() -> None:
    assert did_you_mean("notfiy", ["name", "notify"]) == "; did you mean 'notify'?"
    assert did_you_mean("colour", ["name", "notify"]) == ""
    assert did_you_mean("jsn", ["json", "xml"], "{}://".format) == "; did you mean json://?"


def test_the_terminal_channel_is_known_wherever_rules_are_read(tmp_path: Path) -> None:
    """terminal:// is ours, registered with apprise: a process that reads rules and nothing
    else (no alert module imported) must know it too."""
    path = tmp_path / "rules.yaml"
    path.write_text(
        "entities: {musk: [Musk]}\nchannels: {desk: ['terminal://']}\n"
        "rules: [{name: r, entities: {any: [musk]}, notify: [desk]}]\n",
        encoding="utf-8",
    )
    code = f"from monitor.rules.load import load_rules; load_rules({str(path)!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
