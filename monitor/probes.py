"""Health checks for container probes (``monitor health``): is this worker able to work?

Each check returns a problem in plain words, or None. The broker is reachable (Redis answers a
PING; the embedded queue folder is writable), the state store answers, the rules file loads,
and beat's last tick, as recorded by the worker that ran it, is recent.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import redis

from monitor.errors import MonitorError, RulesError
from monitor.rules.load import load_rules
from monitor.settings import Settings
from monitor.store import open_store

BEAT_TICK_KEY = "beat:last_tick"


def check_broker(settings: Settings) -> str | None:
    if settings.redis_url:
        try:
            redis.Redis.from_url(settings.redis_url, socket_timeout=3).ping()
        except redis.RedisError as exc:
            return f"broker: Redis does not answer ({type(exc).__name__}: {exc})"
        return None
    folder = settings.state_dir / "queue"
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        return f"broker: the queue folder {folder} is missing or not writable"
    return None


def check_store(settings: Settings) -> str | None:
    try:
        store = open_store(settings)
        try:
            store.ping()
        finally:
            store.close()
    except MonitorError as exc:
        return f"store: {exc}"
    except Exception as exc:
        return f"store: {type(exc).__name__}: {exc}"
    return None


def check_rules(path: Path | None) -> str | None:
    if path is None:
        return "rules: no rules file (set MONITOR_RULES)"
    try:
        # A bad line of a feed list is skipped by the workers, who poll the rest: not a fault.
        load_rules(path, skip_bad_list_lines=True)
    except RulesError as exc:
        return f"rules: {exc.reason}"
    return None


def check_beat(settings: Settings) -> str | None:
    store = open_store(settings)
    try:
        tick = store.get(BEAT_TICK_KEY)
    finally:
        store.close()
    if tick is None:
        return "beat: no tick recorded yet (is beat running, and a worker on the poll queue?)"
    age = time.time() - float(tick["at"])
    if age > settings.beat_max_age:
        return f"beat: last tick {age:.0f} s ago (limit {settings.beat_max_age:g} s)"
    return None


def problems(settings: Settings, rules: Path | None, *, beat: bool) -> list[str]:
    """Every check that fails, in order; empty when healthy.

    With Redis, the broker and the store are the same server: when it does not answer, that is
    said once, and the checks that would only repeat it (store, beat) are not run.
    """
    broker = check_broker(settings)
    redis_down = broker is not None and not settings.embedded
    checks: list[Callable[[], str | None]] = [lambda: broker]
    if not redis_down:
        checks.append(lambda: check_store(settings))
    checks.append(lambda: check_rules(rules))
    if beat and not redis_down:
        checks.append(lambda: check_beat(settings))
    return [problem for check in checks if (problem := check()) is not None]
