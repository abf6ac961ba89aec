"""Worker-wide behaviour hooked to Celery's signals: logging, metrics, log context, beat's tick.

Per-task policies live here once rather than in every task: the ids each log line carries,
the duration and queue-latency histograms, and the record that beat is alive.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from celery import Task, signals

from monitor import metrics
from monitor.errors import MonitorError
from monitor.logs import bind, configure_logging, unbind
from monitor.probes import BEAT_TICK_KEY
from monitor.settings import load_settings
from tasks.steps import context

PUBLISHED_AT = "monitor_published_at"
M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
MALLOC_ARENAS = 2
# The argument each task is about, by task name: its log lines carry it under this key.
_SUBJECT = {
    "monitor.poll_feed": "feed",
    "monitor.process_article": "article",
    "monitor.deliver_alert": "alert",
}
# task id → when it started and the log-context token to restore when it ends
_running: dict[str, tuple[float, Any]] = {}


@signals.setup_logging.connect
def _logging(**_: Any) -> None:
    settings = load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)


@signals.worker_init.connect
def _few_malloc_arenas(**_: Any) -> None:
    """glibc's malloc gives each new thread an arena of its own, up to eight a core, and an
    arena keeps the memory it once needed. A worker's threads take turns at the work, so each
    arena's peak comes at its own time and the process holds the sum of those peaks: its
    resident memory crept up poll after poll while the memory in use stayed flat. Two arenas
    are shared by all threads; the threads hold the GIL for most of their allocations, so they
    seldom wait for one. ``MALLOC_ARENA_MAX`` in the environment, read by glibc itself, wins."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # None: not glibc
    if mallopt is not None:
        mallopt(M_ARENA_MAX, MALLOC_ARENAS)


@signals.worker_init.connect
def _refuse_to_start_unusable(**_: Any) -> None:
    """A worker whose rules or store cannot be used would take every message only to fail it:
    it says why, in one line, and does not start."""
    try:
        context()
    except MonitorError as exc:
        raise SystemExit(f"news-monitor: {exc}") from None


@signals.worker_init.connect
def _clear_old_metrics(**_: Any) -> None:
    # Each worker writes its metrics under metrics/<its pid>; folders of workers that are gone
    # would only pile up.
    mine = Path(os.environ.get(metrics.MULTIPROC_ENV, ""))
    if not mine.name:
        return
    for folder in mine.parent.glob("*"):
        if folder != mine and folder.name.isdigit() and not _alive(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@signals.worker_process_init.connect
def _leave_sigterm_to_the_main_process(**_: Any) -> None:
    """A SIGTERM sent to the whole process group (systemd's default KillMode, ``timeout``,
    a terminal's job control) reaches the pool's children too. One that dies while waiting for
    work holds the pool's queue lock for ever, and the main process hangs in its shutdown. The
    main process stops the children itself after its warm shutdown, as Celery already has
    them do for SIGINT."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@signals.worker_ready.connect
def _serve_metrics(**_: Any) -> None:
    settings = load_settings()
    if settings.metrics_port:
        metrics.serve(settings.metrics_port, settings.metrics_address)


@signals.worker_process_shutdown.connect
def _process_gone(pid: int | None = None, **_: Any) -> None:
    metrics.process_exited(pid or os.getpid())


@signals.before_task_publish.connect
def _stamp(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None:
        headers.setdefault(PUBLISHED_AT, time.time())


@signals.task_prerun.connect
def _task_starts(task_id: str, task: Task[Any, Any], args: tuple[Any, ...] = (), **_: Any) -> None:
    published = getattr(task.request, PUBLISHED_AT, None)
    queue = (task.request.delivery_info or {}).get("routing_key") or "unknown"
    if isinstance(published, int | float):
        metrics.QUEUE_SECONDS.labels(queue).observe(max(0.0, time.time() - published))
    ids = {"task": task.name}
    if task.name in _SUBJECT and args:
        ids[_SUBJECT[task.name]] = str(args[0])
    _running[task_id] = (time.perf_counter(), bind(**ids))
    if task.name == "monitor.poll_due_feeds":
        # Beat is alive when its tick reaches a worker: `monitor health` reads this.
        context().store.put(BEAT_TICK_KEY, {"at": time.time()})


@signals.task_postrun.connect
def _task_ends(task_id: str, task: Task[Any, Any], **_: Any) -> None:
    started = _running.pop(task_id, None)
    if started is None:
        return
    began, token = started
    metrics.TASK_SECONDS.labels(task.name).observe(time.perf_counter() - began)
    unbind(token)
