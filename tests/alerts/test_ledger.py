"""Listing alerts costs the alerts, not the store: the sweep and ``monitor alerts`` read an
index, never a scan of every key (a store behind 100,000 feeds holds millions); a store written
before the index is indexed once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import redis

from monitor.alerts.delivery import alerts_with_status, pending_alerts
from monitor.alerts.ledger import ALERTS, BUILT
from monitor.context import Context
from monitor.ingest.submitted import Submission, submit
from monitor.pipeline import process_article
from monitor.settings import Settings

RULES = """
entities:
  musk: ["Musk"]
channels:
  desk: ['json://127.0.0.1:9/x', 'json://127.0.0.1:9/y']
rules:
  - {name: musk, entities: {any: [musk]}, notify: [desk]}
"""


def make_alerts(ctx: Context) -> None:
    ident, _ = submit(ctx, Submission(text="Elon Musk said so.", title="Musk"))
    assert len(process_article(ctx, ident)) == 2  # one alert per target, pending


def test_listing_alerts_scans_no_key_of_the_store(
    contexts: Callable[[Settings, str], Context], redis_url: str, tmp_path: Path
) -> None:
    ctx = contexts(
        Settings(redis_url=redis_url, state_dir=tmp_path / "state"), f"feeds: []\n{RULES}"
    )
    ctx.store.put_all({f"seen:article-{i}": {"state": "done"} for i in range(3000)}, 600)
    make_alerts(ctx)
    pending_alerts(ctx)  # a store written before the index is indexed here, once
    server = redis.Redis.from_url(redis_url)
    server.config_resetstat()
    assert [a.status for a in pending_alerts(ctx)] == ["pending", "pending"]
    assert len(alerts_with_status(ctx)) == 2
    assert "cmdstat_scan" not in server.info("commandstats")


def test_alerts_made_before_the_index_are_found_once_indexed(
    open_contexts: Callable[..., Context],
) -> None:
    ctx = open_contexts(f"feeds: []\n{RULES}")
    make_alerts(ctx)
    ctx.store.delete(ALERTS)  # as a store written by a version without the index
    ctx.store.delete(BUILT)
    assert len(pending_alerts(ctx)) == 2
    assert ctx.store.get(BUILT) is not None and len(ctx.store.members([ALERTS])) == 2
