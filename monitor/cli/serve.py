"""``monitor serve``: the receiver role, articles pushed to us over HTTP and queued for the
workers (``monitor.receiver``)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from monitor.cli.common import opened_context, rules_option
from monitor.logs import configure_logging
from monitor.settings import load_settings

log = logging.getLogger(__name__)


@click.command()
@rules_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 in a container).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
def serve(rules: Path | None, host: str, port: int) -> None:
    """Receive articles over HTTP (the ingest API, POST /v1/articles) and queue them for the
    workers; GET /openapi.json describes it."""
    from monitor.receiver.serve import serve as run_receiver
    from tasks.steps import process_article_task  # the queue the workers take articles from

    settings = load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    if not settings.api_tokens.get_secret_value().strip():
        log.warning("MONITOR_API_TOKENS is not set: every request to the ingest API is refused")
    with opened_context(rules) as ctx:
        log.info("receiver listening on %s:%d", host, port)
        run_receiver(ctx, process_article_task.delay, host, port)
