"""Prometheus metrics: what the worker did, counted where it happens, served by each worker.

A prefork worker is several processes; prometheus-client's multiprocess mode sums their values.
It needs ``PROMETHEUS_MULTIPROC_DIR`` set before this module is first imported, which the
Celery app does (``tasks.app``); without it (``monitor poll --once``) metrics are counted in
the one process and simply not served.
"""

from __future__ import annotations

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    multiprocess,
    start_http_server,
    values,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

if os.environ.get(MULTIPROC_ENV) and values.ValueClass is values.MutexValue:
    # prometheus-client picks its value class when first imported, and Celery's command line
    # may import it (through the flower plugin) before our app sets the directory. Our metrics
    # are created below, after this line, so they get the multiprocess class all the same.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]

FEEDS_POLLED = Counter(
    "monitor_feeds_polled_total", "Feed polls by outcome: ok, not_modified, error.", ["status"]
)
ARTICLES_PROCESSED = Counter(
    "monitor_articles_processed_total", "Articles extracted and matched, by body source.", ["body"]
)
EXTRACTION_FAILURES = Counter(
    "monitor_extraction_failures_total",
    "Article pages that could not be fetched or yielded no body (the feed's summary was used).",
)
NEAR_DUPLICATES = Counter(
    "monitor_near_duplicates_total",
    "Articles found to be near-duplicates of one seen earlier: their alerts are that one's.",
)
PUSH_EVENTS = Counter(
    "monitor_websub_events_total",
    "WebSub events: verified (a subscription or renewal), failed, pushed (a content "
    "distribution taken), refused (its signature was not valid).",
    ["event"],
)
RULE_FIRES = Counter("monitor_rule_fires_total", "Rules that fired on an article.", ["rule"])
ALERTS = Counter(
    "monitor_alerts_total",
    "Delivery attempts by outcome: sent; failed (to be retried); dead (given up, dead-lettered).",
    ["outcome"],
)
TASK_SECONDS = Histogram(
    "monitor_task_duration_seconds",
    "Time a task ran.",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 150),
)
QUEUE_SECONDS = Histogram(
    "monitor_queue_latency_seconds",
    "Time from a message's publication to the start of its task.",
    ["queue"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)


def serve(port: int, address: str = "0.0.0.0") -> None:  # noqa: S104  (scraped from outside the pod)
    """Serve /metrics on ``port``, summing every process of this worker."""
    registry = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr=address, registry=registry)


def process_exited(pid: int) -> None:
    """Drop a finished process's live gauges (counters and histograms are kept)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
