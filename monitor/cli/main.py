"""The ``monitor`` command: the group, and the commands that run the pipeline (``run``,
``poll --once``, ``health``); the other command groups live beside it, one module each."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import click

from monitor.cli.alerts import alerts
from monitor.cli.check import check
from monitor.cli.common import (
    opened_context,
    rules_option,
    rules_path,
    usable_rules,
    usable_store,
)
from monitor.cli.feeds import feeds
from monitor.cli.rules import rules
from monitor.cli.serve import serve
from monitor.cli.table import counted
from monitor.errors import MonitorError
from monitor.logs import configure_logging
from monitor.settings import Settings, load_settings


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
    _work(rules_path(rules, settings), settings, concurrency)


@main.command()
@click.option(
    "--every",
    type=click.FloatRange(min=1.0),
    default=3.0,
    show_default=True,
    help="Seconds between two sample articles.",
)
def demo(every: float) -> None:
    """Watch sample news in six languages with the real worker; each alert prints here.

    A news site on loopback publishes the samples one by one; the worker polls it, extracts
    each article, matches the demo's rules and sends every alert to the terminal. Its state
    is a temporary folder, removed at the end; no server, no network, nothing else touched.
    """
    from monitor.demo import HOST, Publisher, samples, write_rules

    items = samples()
    with (
        tempfile.TemporaryDirectory(prefix="news-monitor-demo-") as folder,
        Publisher(items, every) as site,
    ):
        path = write_rules(Path(folder), site.feed_url, every=1.0)
        for name in _DEMO_CLEARS:
            os.environ.pop(name, None)
        # The embedded default in a folder of its own; the publisher the one private address
        # the fetcher may reach; beat ticking every second so an article waits at most that.
        os.environ.update(
            MONITOR_STATE_DIR=str(Path(folder) / "state"),
            MONITOR_ALLOWED_NETWORKS=f"{HOST}/32",
            MONITOR_BEAT_INTERVAL="1",
        )
        languages = ", ".join(sorted({item.language for item in items}))
        click.echo(
            f"news-monitor demo: {len(items)} sample articles ({languages}), one every "
            f"{every:g} s, at {site.feed_url}\n"
            f"rules: {path} (alerts go to terminal:// and print below; Ctrl-C stops)\n",
        )
        _work(path, load_settings(), concurrency=2, banner=False)


# Settings the demo must not take from the environment: it runs on its own embedded state,
# reaches its own publisher only and converts amounts with the bundled rates.
_DEMO_CLEARS = (
    "REDIS_URL",
    "MONITOR_REDIS_URL",
    "MONITOR_RULES",
    "MONITOR_ALLOW_PRIVATE_NETWORKS",
    "MONITOR_RATES_URL",
    "MONITOR_OPS_CHANNEL",
    "MONITOR_METRICS_PORT",
)


def _work(path: Path, settings: Settings, concurrency: int | None, banner: bool = True) -> None:
    """Start the worker with its scheduler on every queue, on the rules file at ``path``, after
    refusing a bad rules file (with its errors) or a store that cannot be used."""
    path = path.resolve()
    usable_rules(path)
    usable_store(settings)
    os.environ["MONITOR_RULES"] = str(path)
    from tasks import app
    from tasks.app import QUEUES

    argv = [] if banner else ["--quiet"]
    argv += ["worker", "--beat", "--queues", ",".join(QUEUES), "--loglevel", settings.log_level]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    app.worker_main(argv)


@main.command()
@rules_option
@click.option("--once", is_flag=True, required=True, help="Run one cycle and exit.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to keep trying alerts a target refused, each when its next attempt is due.",
)
def poll(rules: Path | None, once: bool, wait: float) -> None:
    """Poll every feed, process new articles and deliver their alerts, in this process. Exit 1
    when a feed failed or an alert is not sent (failed, or pending for a later attempt)."""
    from monitor.pipeline import run_cycle

    settings = load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    with opened_context(rules) as ctx:
        report = run_cycle(ctx, patience=wait)
    alerts = ", ".join(f"{n} {status}" for status, n in sorted(report.alerts.items())) or "none"
    click.echo(
        f"{counted(report.feeds, 'feed', 'feeds')} polled ({report.feeds_failed} failed), "
        f"{counted(report.articles, 'new article', 'new articles')}, alerts: {alerts}"
    )
    if report.feeds_failed or set(report.alerts) - {"sent"}:
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


for command in (check, rules, feeds, alerts, serve):
    main.add_command(command)
