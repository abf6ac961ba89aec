"""The ``monitor`` command: the group, and the commands that run the pipeline (``run``,
``poll --once``, ``health``); the other command groups live beside it, one module each."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from monitor.cli.alerts import alerts
from monitor.cli.check import check
from monitor.cli.common import opened_context, rules_option, rules_path, usable_store
from monitor.cli.feeds import feeds
from monitor.cli.rules import rules
from monitor.errors import MonitorError
from monitor.rules.load import load_rules
from monitor.settings import Settings, load_settings


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


class _Commands(click.Group):
    """The command group: an error of ours ends a command with its message, one line a
    problem, and exit status 1; never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            click.echo(str(exc), err=True)
            ctx.exit(1)


@click.group(cls=_Commands)
@click.version_option(package_name="news-monitor")
def main() -> None:
    """Watch news feeds and alert when they mention what you watch."""


@main.command()
@rules_option
@click.option("--concurrency", type=int, default=None, help="Worker processes (default: cores).")
def run(rules: Path | None, concurrency: int | None) -> None:
    """Run the worker and its scheduler in one process (all queues)."""
    settings = load_settings()
    path = rules_path(rules, settings).resolve()
    load_rules(path)  # refuse to start on a bad file, with its errors
    usable_store(settings)
    os.environ["MONITOR_RULES"] = str(path)
    from tasks import app
    from tasks.app import QUEUES

    argv = ["worker", "--beat", "--queues", ",".join(QUEUES), "--loglevel", settings.log_level]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    app.worker_main(argv)


@main.command()
@rules_option
@click.option("--once", is_flag=True, required=True, help="Run one cycle and exit.")
def poll(rules: Path | None, once: bool) -> None:
    """Poll every feed, process new articles and deliver their alerts, in this process. Exit 1
    when a feed or an alert failed."""
    from monitor.pipeline import run_cycle

    _setup_logging(load_settings())
    with opened_context(rules) as ctx:
        report = run_cycle(ctx)
    alerts = ", ".join(f"{n} {status}" for status, n in sorted(report.alerts.items())) or "none"
    click.echo(
        f"{report.feeds} feeds polled ({report.feeds_failed} failed), "
        f"{report.articles} new articles, alerts: {alerts}"
    )
    if report.feeds_failed or report.alerts.get("failed"):
        raise SystemExit(1)


@main.command()
@rules_option
@click.option(
    "--beat/--no-beat",
    default=True,
    help="Also require a recent beat tick (off for probes of workers that run without beat).",
)
def health(rules: Path | None, beat: bool) -> None:
    """Exit 0 if the broker, the store and the rules are fine (and beat ticks); else say why."""
    from monitor.probes import problems

    settings = load_settings()
    found = problems(settings, rules or settings.rules, beat=beat)
    for problem in found:
        click.echo(f"unhealthy: {problem}", err=True)
    if found:
        raise SystemExit(1)
    click.echo("ok")


for command in (check, rules, feeds, alerts):
    main.add_command(command)
