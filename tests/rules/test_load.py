"""The rules file: the minimum contract loads; every bad file says file:line:column: reason."""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.errors import ConfigError, RulesError
from monitor.rules.live import RulesSource
from monitor.rules.load import load_rules, parse_rules
from monitor.rules.model import expand_env

CONTRACT = """\
feeds:
  - url: https://example.org/world/rss.xml
    every: 5m
entities:
  musk: ["Elon Musk", "Musk", "إيلون ماسك", "ماسك"]
  putin: ["Vladimir Putin", "Putin", "بوتين"]
channels:
  desk: ["mailtos://alerts:${SMTP_PASSWORD}@smtp.example.org?to=desk@example.org"]
rules:
  - name: musk-putin
    entities: {all: [musk, putin]}
    notify: [desk]
  - name: campaign-money
    entities: {any: [musk]}
    keywords: {any: ["campaign", "حملة"]}
    money: {min: 50000000, currency: EUR}
    notify: [desk]
"""


def test_the_documented_minimum_loads() -> None:
    rules = parse_rules(CONTRACT)
    assert rules.feeds[0].every == timedelta(minutes=5)
    assert rules.entities["musk"][3] == "ماسك"
    assert [r.name for r in rules.rules] == ["musk-putin", "campaign-money"]
    money = rules.rules[1].money
    assert money is not None
    assert (money.min, money.currency) == (50_000_000, "EUR")


@pytest.mark.parametrize(
    ("broken", "line", "column", "reason"),
    [
        (CONTRACT.replace("every: 5m", "every: 5x"), 3, 12, "not a duration"),
        (
            CONTRACT.replace("all: [musk, putin]", "all: [musk, putn]"),
            11,
            28,
            "unknown entity 'putn'",
        ),
        (
            CONTRACT.replace(
                "notify: [desk]\n  - name: campaign", "notify: [dsk]\n  - name: campaign"
            ),
            12,
            14,
            "unknown channel 'dsk'",
        ),
        (
            CONTRACT.replace("name: campaign-money", "name: musk-putin"),
            13,
            11,
            "duplicate rule name",
        ),
        (CONTRACT.replace('"Musk", "إيلون', '"", "إيلون'), 5, 23, "empty alias"),
        (
            CONTRACT.replace(
                "    notify: [desk]\n  - name: campaign", "    notfy: [desk]\n  - name: campaign"
            ),
            12,
            5,
            "unknown key 'notfy'",
        ),
        (CONTRACT.replace("currency: EUR", "currency: EURO"), 16, 38, "not an ISO 4217 code"),
        (CONTRACT.replace("url: https", "url: ftp"), 2, 10, "not an http or https URL"),
        (CONTRACT.replace("[musk, putin]}", "[musk, putin}"), 11, 33, "not valid YAML"),
        ("", 1, 1, "empty"),
    ],
)
def test_errors_carry_position_and_reason(broken: str, line: int, column: int, reason: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(broken, "rules.yaml")
    problems = str(caught.value).splitlines()
    assert any(p.startswith(f"rules.yaml:{line}:{column}: ") and reason in p for p in problems), (
        problems
    )


def test_a_rule_without_condition_is_refused() -> None:
    broken = CONTRACT.replace("    entities: {all: [musk, putin]}\n", "")
    with pytest.raises(RulesError, match="states no condition"):
        parse_rules(broken)


def test_env_references_resolve_at_send_time_only() -> None:
    url = "mailtos://alerts:${SMTP_PASSWORD}@smtp.example.org"
    assert (
        expand_env(url, {"SMTP_PASSWORD": "s3cret"}) == "mailtos://alerts:s3cret@smtp.example.org"
    )
    with pytest.raises(ConfigError, match="SMTP_PASSWORD is not set"):
        expand_env(url, {})


def test_live_source_refuses_a_bad_edit_and_keeps_the_last_good_rules(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(CONTRACT, encoding="utf-8")
    source = RulesSource(path)
    assert len(source.current().rules) == 2

    def edit(text: str) -> None:
        path.write_text(text, encoding="utf-8")
        stamp = time.time_ns() + 10_000_000  # a visibly newer mtime, whatever the clock grain
        os.utime(path, ns=(stamp, stamp))

    edit(CONTRACT.replace("all: [musk, putin]", "all: [musk, putn]"))
    with caplog.at_level(logging.ERROR):
        assert len(source.current().rules) == 2
    assert "refused" in caplog.text and "putn" in caplog.text

    edit(
        CONTRACT.replace(
            "  - name: campaign-money",
            "  - name: other\n    entities: {any: [putin]}\n    notify: [desk]\n  - name: campaign-money",
        )
    )
    assert [r.name for r in source.current().rules] == ["musk-putin", "other", "campaign-money"]


def test_unreadable_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


def test_a_process_that_missed_a_valid_edit_takes_it_from_the_others(tmp_path: Path) -> None:
    from monitor.context import StoredRules
    from monitor.store import SqliteStore

    path = tmp_path / "rules.yaml"
    shared = StoredRules(SqliteStore(tmp_path / "state.db"))

    def edit(text: str) -> None:
        path.write_text(text, encoding="utf-8")
        stamp = time.time_ns() + 10_000_000
        os.utime(path, ns=(stamp, stamp))

    edit(CONTRACT)
    seen_every_edit, slept_through_one = RulesSource(path, shared), RulesSource(path, shared)
    second = CONTRACT.replace(
        "  - name: campaign-money",
        "  - name: other\n    entities: {any: [putin]}\n    notify: [desk]\n  - name: campaign-money",
    )
    edit(second)
    assert len(seen_every_edit.current().rules) == 3
    edit(second.replace("all: [musk, putin]", "all: [musk, putn]"))  # refused everywhere
    assert len(slept_through_one.current().rules) == 3  # the valid edit, not its own older rules
    assert len(seen_every_edit.current().rules) == 3

    starting_now = RulesSource(path, shared)  # the file is invalid as it starts
    assert [r.name for r in starting_now.current().rules] == [
        "musk-putin",
        "other",
        "campaign-money",
    ]
    with pytest.raises(RulesError):
        RulesSource(path)  # with nothing shared, an invalid file stops the start


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("jsn://127.0.0.1:9/x", "jsn:// is not a service apprise knows; did you mean json://?"),
        ("notaservice://x", "notaservice:// is not a service apprise knows (json://"),
        ("127.0.0.1:9/hook", "not a URL (service://...)"),
    ],
)
def test_a_channel_apprise_would_not_know_is_refused_with_the_nearest_it_knows(
    url: str, said: str
) -> None:
    text = (
        "entities: {musk: [Musk]}\n"
        f"channels:\n  desk: ['{url}']\n"
        "rules:\n  - {name: r, entities: {any: [musk]}, notify: [desk]}\n"
    )
    with pytest.raises(RulesError) as refused:
        parse_rules(text, "rules.yaml")
    assert str(refused.value).startswith(f"rules.yaml:3:10: channel 'desk': {said}")
