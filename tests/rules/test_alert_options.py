"""Per-rule alert options in the rules file: cooldown, digest and templates, validated with
their position like every other key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.errors import RulesError
from monitor.rules.load import parse_rules

BASE = """
entities:
  musk: ["Musk"]
channels:
  desk: ["json://127.0.0.1:9/hook"]
rules:
  - name: musk
    entities: {any: [musk]}
    notify: [desk]
"""


def test_rule_options_default_to_off_and_parse_when_given() -> None:
    (plain,) = parse_rules(BASE).rules
    assert (plain.cooldown, plain.digest, plain.templates) == (None, None, {})
    text = BASE + "    cooldown: 30m\n    digest: hourly\n    templates: {text: '{{ title }}'}\n"
    (rule,) = parse_rules(text).rules
    assert rule.cooldown == timedelta(minutes=30)
    assert rule.digest == timedelta(hours=1)
    assert rule.templates == {"text": "{{ title }}"}
    (daily,) = parse_rules(BASE + "    digest: daily\n").rules
    assert daily.digest == timedelta(days=1)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("    digest: weekly\n", "'weekly' is not a duration"),
        ("    cooldown: soon\n", "'soon' is not a duration"),
        ("    templates: {sms: 'x'}\n", "template kind 'sms' is not one of email, markdown, text"),
        ("    templates: {text: '{% if %}'}\n", "the text template does not compile"),
    ],
)
def test_bad_options_are_refused_with_their_line(extra: str, reason: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(BASE + extra, "rules.yaml")
    (line,) = str(caught.value).splitlines()
    assert line.startswith("rules.yaml:10:") and reason in line, line
