"""What the ``monitor`` commands share: the ``--rules`` option, the rules it names, and a
context opened on them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from monitor.context import Context, open_context
from monitor.probes import check_store
from monitor.rules.load import load_rules, skipped_lines
from monitor.rules.model import RulesFile
from monitor.settings import Settings, load_settings

rules_option = click.option(
    "--rules",
    "rules",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The rules file (default: $MONITOR_RULES).",
)


def rules_path(rules: Path | None, settings: Settings) -> Path:
    """``--rules``, else ``MONITOR_RULES``; a usage error when neither is given."""
    path = rules or settings.rules
    if path is None:
        raise click.UsageError("no rules file: pass --rules FILE or set MONITOR_RULES")
    return path


@contextmanager
def opened_context(rules: Path | None) -> Iterator[Context]:
    """A context on the rules file. A bad file is a ``RulesError`` here, never replaced by the
    stored copy as in a running worker; the command group reports it (``monitor.cli.main``)."""
    settings = load_settings()
    path = rules_path(rules, settings)
    usable_rules(path)
    ctx = open_context(settings, path)
    try:
        yield ctx
    finally:
        ctx.close()


def usable_rules(path: Path) -> RulesFile:
    """The rules at ``path``: a ``RulesError`` when the file does not validate; a bad line of
    a feed list said on standard error and left out, as the workers leave it out, so the other
    feeds are still polled."""
    loaded = load_rules(path, skip_bad_list_lines=True)
    for line in skipped_lines(loaded):
        click.echo(f"warning: {line}", err=True)
    return loaded.rules


def usable_store(settings: Settings) -> None:
    """Exit 1 with what is wrong when the store the settings name cannot be used."""
    problem = check_store(settings)
    if problem is not None:
        click.echo(problem, err=True)
        raise SystemExit(1)
