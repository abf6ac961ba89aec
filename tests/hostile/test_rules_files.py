"""Rules files that would burn the machine that reads them: aliases that contain themselves or
expand to hundreds of millions of values, nesting past Python's stack, queries nested hundreds
deep, templates whose constants weigh gigabytes, secrets written in clear. Each is refused as a
``RulesError`` with its line and column, having cost little: memory is measured, not time."""

from __future__ import annotations

import tracemalloc

import pytest

from monitor.errors import RulesError
from monitor.rules.load import parse_rules

HEAD = "entities: {musk: [Musk]}\nchannels:\n  desk: ['json://127.0.0.1:9/x']\n"


def rule(body: str) -> str:
    return f"{HEAD}rules:\n  - name: r\n    notify: [desk]\n{body}"


def bomb(levels: int) -> str:
    """Nine aliases a level: 9**levels values from a few hundred bytes."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n" + HEAD


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("a: &x [*x]\n", (1, 4), "an alias inside the value it names"),
        ("rules: " + "[" * 500 + "]" * 500 + "\n", (1, 40), "nested more than 32 levels deep"),
        ("rules: " + "[" * 20_000 + "]" * 20_000 + "\n", None, "not valid YAML"),
        (bomb(9), (5, 5), "aliases here expand to far more values than the file holds"),
        ("? [a, b]\n: 1\n", (1, 3), "a key must be a plain value"),
        (
            rule("    query: '" + "(" * 300 + "Musk" + ")" * 300 + "'\n"),
            (7, 53),
            "nested more than 40 deep",
        ),
        (rule("    query: '" + "NOT " * 5000 + "Musk'\n"), (7, 173), "nested more than 40 deep"),
    ],
    ids=[
        "self-alias",
        "deep-lists",
        "deeper-than-libyaml",
        "alias-bomb",
        "list-key",
        "deep-query",
        "nots",
    ],
)
def test_a_rules_file_that_recurses_or_explodes_is_refused_where_it_does(
    text: str, where: tuple[int, int] | None, reason: str
) -> None:
    with pytest.raises(RulesError) as refused:
        parse_rules(text, "rules.yaml")
    message = str(refused.value)
    assert reason in message and message.count("\n") == 0, message
    if where is not None:
        assert message.startswith(f"rules.yaml:{where[0]}:{where[1]}: ")


def test_an_alias_bomb_is_refused_within_a_few_megabytes() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(RulesError):
            parse_rules(bomb(9), "rules.yaml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_aliases_shared_as_rules_files_use_them_still_load() -> None:
    text = (
        "entities:\n  musk: &musk [Musk, ماسك]\n  also: *musk\n"
        "channels:\n  desk: ['json://127.0.0.1:9/x']\nrules:\n"
    ) + "".join(
        f"  - {{name: r{i}, entities: {{any: [musk, also]}}, notify: [desk]}}\n" for i in range(50)
    )
    assert len(parse_rules(text).rules) == 50


@pytest.mark.parametrize(
    "template",
    [
        '{{ "x" * 10**9 }}',
        '{{ ("x" ~ "y") * 10**9 }}',
        "{% for i in range(10**9) %}{{ i }}{% endfor %}",
        "{{ (2 ** 10) ** 9 ** 4 }}",
    ],
)
def test_validating_a_template_evaluates_none_of_it(template: str) -> None:
    """Jinja folds constant expressions while compiling: these took seconds and gigabytes in
    ``rules validate`` and then passed."""
    tracemalloc.start()
    try:
        parse_rules(rule(f"    entities: {{any: [musk]}}\n    templates: {{text: '{template}'}}\n"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ title|center(10**9) }}", "No filter named 'center'"),
        ("{{ title|format(1) }}", "No filter named 'format'"),
        ("{{ lipsum(10) }}", None),  # undefined only when rendered: it is not in the language
    ],
)
def test_filters_that_widen_a_value_are_not_in_the_language(
    template: str, reason: str | None
) -> None:
    text = rule(f"    entities: {{any: [musk]}}\n    templates: {{text: '{template}'}}\n")
    if reason is None:
        parse_rules(text)
        return
    with pytest.raises(RulesError) as refused:
        parse_rules(text)
    assert reason in str(refused.value) and str(refused.value).startswith("<rules>:8:")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("tgram://123456789:AAHdefghijklmnopqrstuvwxyz0123456789ab/-1001234", "A…b"),
        ("mailtos://alerts:hunter2-secret@smtp.example.org?to=desk@example.org", "h…t"),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general", "T…Q"),
    ],
)
def test_a_secret_written_in_clear_is_refused(url: str, shown: str) -> None:
    text = (
        "entities: {musk: [Musk]}\n"
        f"channels:\n  desk:\n    - '{url}'\n"
        "rules:\n  - {name: r, entities: {any: [musk]}, notify: [desk]}\n"
    )
    with pytest.raises(RulesError) as refused:
        parse_rules(text, "rules.yaml")
    message = str(refused.value)
    assert message.startswith("rules.yaml:4:7: channel 'desk': its URL holds a secret in clear")
    assert f"({shown})" in message and "${VAR}" in message
    assert url.split("://")[1][:20] not in message.split("(")[0]


@pytest.mark.parametrize(
    "url",
    [
        "tgram://${TG_TOKEN}/-1001234",
        "mailtos://alerts:${SMTP_PASSWORD}@smtp.example.org?to=desk@example.org",
        "${SLACK_URL}",
        "json://127.0.0.1:9/hooks/alerts",
        "mailto://127.0.0.1:2525?from=a@example.org&to=desk@example.org&mode=insecure",
    ],
)
def test_secrets_from_the_environment_are_fine(url: str) -> None:
    text = (
        "entities: {musk: [Musk]}\n"
        f"channels:\n  desk: ['{url}']\n"
        "rules:\n  - {name: r, entities: {any: [musk]}, notify: [desk]}\n"
    )
    assert parse_rules(text).channels["desk"] == (url,)
