"""The Celery app: broker, queues, delivery guarantees and beat's schedule.

With ``REDIS_URL`` set, Redis is the broker. Without it, kombu's filesystem transport keeps the
queues as files under ``MONITOR_STATE_DIR``: no server, same tasks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery
from kombu.entity import Exchange, Queue

from monitor.errors import ConfigError
from monitor.settings import Settings, load_settings

# Polling and delivery wait on the network; extraction burns CPU. Separate queues let each be
# given its own workers and concurrency.
POLL_QUEUE, EXTRACT_QUEUE, DELIVER_QUEUE = "poll", "extract", "deliver"
QUEUES = (POLL_QUEUE, EXTRACT_QUEUE, DELIVER_QUEUE)
# The longest a delivery retry waits; the broker's visibility timeout must exceed it.
MAX_RETRY_DELAY = 1800


def broker_settings(settings: Settings) -> dict[str, object]:
    """Broker URL and transport options for the configured mode."""
    if settings.redis_url:
        return {
            "broker_url": settings.redis_url,
            # Redis hands an unacknowledged message to another worker after this long. It must
            # exceed the longest retry countdown, or a scheduled retry would run twice.
            "broker_transport_options": {"visibility_timeout": 2 * MAX_RETRY_DELAY},
        }
    folder = settings.state_dir / "queue"
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": "filesystem://localhost/",
        "broker_transport_options": {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            # Exchange bindings; kombu's default is a folder named "control" in the current
            # directory.
            "control_folder": str(settings.state_dir / "queue-control"),
            "store_processed": False,
            # How often an idle worker looks for new message files.
            "polling_interval": 0.2,
        },
    }


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        # Beat ticks often; which feeds (and the exchange rates) are due comes from each feed's
        # `every` in the rules file, read afresh at every tick (monitor.ingest.polling.due_feeds).
        "poll-due-feeds": {
            "task": "monitor.poll_due_feeds",
            "schedule": settings.beat_interval,
            "options": {"expires": settings.beat_interval * 2},
        },
        # WebSub subscriptions due to be asked for, renewed, given up or ended.
        "maintain-subscriptions": {
            "task": "monitor.maintain_subscriptions",
            "schedule": settings.beat_interval,
            "options": {"expires": settings.beat_interval * 2},
        },
        # Alerts a dead worker or a lost message left pending, and digests that are due.
        "sweep-alerts": {
            "task": "monitor.sweep_alerts",
            "schedule": min(30.0, settings.delivery_stale_after / 2),
            "options": {"expires": 30.0},
        },
    }


def metrics_dir(settings: Settings) -> Path:
    """Where this worker's processes write their metric values: one folder per worker, so two
    workers sharing a state directory do not add up or wipe each other's values."""
    return settings.state_dir / "metrics" / str(os.getpid())


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or load_settings()
    settings.state_dir.mkdir(parents=True, exist_ok=True)  # beat keeps its schedule file there
    # Set before prometheus_client is imported anywhere; the worker's children inherit it.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir(settings)))
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    app = Celery("monitor")
    app.conf.update(
        broker_settings(settings),
        # Each queue on its own direct exchange and key (Celery would bind them all to the
        # default queue's exchange and key otherwise, which reads as if they shared messages).
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],  # type: ignore[no-untyped-call]
        task_default_queue=POLL_QUEUE,
        task_routes={
            "monitor.poll_due_feeds": {"queue": POLL_QUEUE},
            "monitor.poll_feed": {"queue": POLL_QUEUE},
            "monitor.refresh_rates": {"queue": POLL_QUEUE},
            "monitor.maintain_subscriptions": {"queue": POLL_QUEUE},
            "monitor.process_article": {"queue": EXTRACT_QUEUE},
            "monitor.deliver_alert": {"queue": DELIVER_QUEUE},
            "monitor.sweep_alerts": {"queue": DELIVER_QUEUE},
        },
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # Acknowledge a message only after its task ran: a worker that dies mid-task leaves
        # the message to be delivered again. Every task is idempotent, so a repeat is harmless.
        task_acks_late=True,
        # A child process killed (SIGKILL, out of memory) requeues its message instead of
        # acknowledging it as failed, so the work is redone rather than lost.
        task_reject_on_worker_lost=True,
        # With late acks, messages reserved but not started would wait behind a slow task and
        # be redelivered if the worker died; take one at a time.
        worker_prefetch_multiplier=1,
        # When the broker connection drops, unacked messages go back to the queue; stop the
        # running copies so a task does not run twice at once.
        worker_cancel_long_running_tasks_on_connection_loss=True,
        broker_connection_retry_on_startup=True,
        # A hung fetch or extraction must not hold a worker forever; the fetcher's own
        # deadlines are shorter, this is the backstop.
        task_soft_time_limit=120,
        task_time_limit=150,
        worker_hijack_root_logger=False,
        # The terminal:// channel prints alerts on the worker's standard output; Celery would
        # turn them into log records.
        worker_redirect_stdouts=False,
        # On SIGTERM (a deploy, a scale-down) the worker stops taking messages and finishes the
        # tasks it runs; with REMAP_SIGTERM=SIGQUIT this becomes a soft shutdown that waits this
        # long, then stops, and the unacknowledged messages go back to the queue.
        worker_soft_shutdown_timeout=25.0,
        beat_schedule=beat_schedule(settings),
        beat_schedule_filename=str(settings.state_dir / "beat-schedule"),
    )
    return app


try:
    app = create_app()
except ConfigError as exc:  # every role reads these settings first: one line, not a traceback
    raise SystemExit(f"news-monitor: {exc}") from None
