"""``monitor rules validate`` and ``monitor rules test``: a rules file checked, and its cases
run, before it goes live."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.table import counted
from monitor.rules.load import load_rules
from monitor.rules.match import Matcher
from monitor.rules.model import missing_env


@click.group()
def rules() -> None:
    """Work with rules files."""


@rules.command("validate")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def rules_validate(file: Path) -> None:
    """Check a rules file; on error print file:line:column: reason and exit 1."""
    loaded = load_rules(file).rules
    for name in missing_env(loaded):
        click.echo(f"{file}: warning: environment variable {name} is not set here", err=True)
    click.echo(
        f"{file}: ok ({counted(len(loaded.feeds), 'feed', 'feeds')}, "
        f"{counted(len(loaded.entities), 'entity', 'entities')}, "
        f"{counted(len(loaded.rules), 'rule', 'rules')})"
    )


@rules.command("test")
@click.argument("rules_file", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("cases_file", type=click.Path(path_type=Path, dir_okay=False))
def rules_test(rules_file: Path, cases_file: Path) -> None:
    """Run the CASES of a cases file against RULES; exit 1 with a diff on any mismatch."""
    from monitor.rules.cases import describe, load_cases, run_case

    loaded = load_rules(rules_file).rules
    cases = load_cases(cases_file, {r.name for r in loaded.rules})
    matcher = Matcher(loaded)
    failed = 0
    for line, case in cases:
        try:
            outcome = run_case(matcher, case, line, cases_file.parent)
        except OSError as exc:
            click.echo(f"{cases_file}:{line}: case {case.name!r}: {exc}", err=True)
            failed += 1
            continue
        failed += not outcome.passed
        for text in describe(outcome, str(cases_file)):
            click.echo(text)
    click.echo(f"{len(cases)} cases, {failed} failed")
    if failed:
        raise SystemExit(1)
