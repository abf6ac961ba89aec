"""Delivering alerts: one alert to one target, exactly once as the analyst sees it.

The ledger is the store's ``alert:<id>`` records, one per (rule, article, channel target),
created only if absent (the id is derived from the three, see ``monitor.alerts.make``).
A delivery:

1. claims ``sending:<id>`` (a lease of ``MONITOR_DELIVERY_LEASE`` seconds); whoever does not
   get it sends nothing;
2. reads the record again under the lease and sends only if it is still ``pending``;
3. sends through apprise to that one target, and records ``sent`` before it returns (before
   the Celery task is acknowledged).

So a redelivered task, a second feed carrying the same item, or two workers racing find the
record ``sent`` (or the lease taken) and send nothing. A failed send counts one attempt on the
record and sets when the next is due, with exponential backoff and jitter, per target: the
other targets of the same rule and article are separate alerts and are not sent again. After
``MONITOR_DELIVERY_ATTEMPTS`` attempts, or ``MONITOR_DELIVERY_MAX_HOURS`` after the alert was
made, it is recorded ``failed`` with its last error: the dead letter, which ``monitor alerts``
lists and ``monitor alerts retry`` sends again.

Nothing is lost when a worker dies: the record stays ``pending`` and the lease expires; the
queue gives the message back, and ``stale_alerts`` finds any pending alert whose delivery is
overdue by ``MONITOR_DELIVERY_STALE_AFTER`` so the beat task queues it again.

The one window no sender can close alone: a worker killed after the target accepted the alert
and before step 3 recorded it. The alert is then sent again, under the same idempotency key
(``monitor.alerts.send``: the ``Idempotency-Key`` header of webhooks, the ``Message-ID`` of
email), so a receiver that honours the key shows it once; chat services take no key, and there
only the width of the window (one store write) is kept small. ``tests/bench/bench_kill.py``
measures how often a kill lands in it.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from monitor import metrics
from monitor.alerts.ledger import alert_records
from monitor.alerts.make import Alert
from monitor.alerts.secrets import redact, secrets_of
from monitor.alerts.send import send
from monitor.console import local_time
from monitor.context import Context, now_iso
from monitor.errors import ConfigError, DeliveryFailed
from monitor.rules.model import env_names, expand_env

log = logging.getLogger(__name__)

# The longest wait between attempts; tasks.app.MAX_RETRY_DELAY, which the broker's visibility
# timeout is derived from, is the same.
BACKOFF_MAX = 1800.0


def retry_delay(attempts: int, base: float, retry_after: float | None = None) -> float:
    """Seconds to wait after ``attempts`` failed attempts: ``base`` (``MONITOR_DELIVERY_BACKOFF``)
    doubling, capped, with jitter (half to all of it, so targets that failed together do not
    come back together). A target's own ``Retry-After`` wins."""
    if retry_after:
        return retry_after
    delay = min(BACKOFF_MAX, base * 2.0 ** max(0, attempts - 1))
    return delay * random.uniform(0.5, 1.0)  # noqa: S311  (jitter, not cryptography)


def _target_url(ctx: Context, alert: Alert) -> tuple[str, list[str]]:
    """The expanded URL of the alert's target and the environment values it took."""
    urls = ctx.rules.channels.get(alert.channel, ())
    if alert.target >= len(urls):
        raise ConfigError(f"channel {alert.channel!r} no longer has target #{alert.target}")
    written = urls[alert.target]
    values = [os.environ.get(name, "") for name in env_names(written)]
    return expand_env(written), values


def _templates(ctx: Context, alert: Alert) -> dict[str, str]:
    """The alert's rule's own templates, by channel kind."""
    for rule in ctx.rules.rules:
        if rule.name == alert.rule:
            return rule.templates
    return {}


def _age_hours(alert: Alert) -> float:
    made = datetime.fromisoformat(alert.created)
    return (datetime.now(UTC) - made).total_seconds() / 3600


def deliver_alert(ctx: Context, alert_id: str, *, last_attempt: bool = False) -> str:
    """Send one alert unless it was sent already; return its status afterwards.

    Returns ``sending`` when another delivery holds the lease. Raises ``DeliveryFailed`` when
    the target refused and attempts remain; its ``retry_after`` is when to try again. On the
    last attempt, or on an error retrying cannot fix, the alert is recorded ``failed``.
    """
    if ctx.store.get(f"alert:{alert_id}") is None:
        log.warning("alert %s: not in the store (expired?); nothing to send", alert_id)
        return "missing"
    if not ctx.store.claim(f"sending:{alert_id}", ctx.settings.delivery_lease, {"at": now_iso()}):
        return "sending"
    try:
        # Read under the lease: a delivery that finished just before we claimed has recorded
        # "sent" by now, and must not be repeated.
        data = ctx.store.get(f"alert:{alert_id}")
        if data is None or data["status"] != "pending":
            return str(data["status"]) if data else "missing"
        alert = Alert.from_dict(data)
        secrets: list[str] = []
        try:
            url, values = _target_url(ctx, alert)
            secrets = secrets_of(url, values)
            send(
                alert,
                url,
                zone=ctx.settings.timezone,
                templates=_templates(ctx, alert),
                secrets=tuple(secrets),
            )
        except (DeliveryFailed, ConfigError) as exc:
            return _record_failure(ctx, alert, exc, last_attempt, secrets)
        alert.attempts += 1
        alert.status, alert.sent_at, alert.last_error = "sent", now_iso(), None
        ctx.store.put(f"alert:{alert_id}", alert.to_dict(), ctx.retention)
        metrics.ALERTS.labels("sent").inc()
    finally:
        ctx.store.delete(f"sending:{alert_id}")
    log.info("alert sent: %s to %s#%d: %s", alert.rule, alert.channel, alert.target, alert.url)
    return alert.status


def _record_failure(
    ctx: Context,
    alert: Alert,
    exc: DeliveryFailed | ConfigError,
    last_attempt: bool,
    secrets: list[str],
) -> str:
    alert.attempts += 1
    alert.last_error = redact(str(exc), secrets)
    give_up = (
        last_attempt
        or not exc.transient
        or alert.attempts >= ctx.settings.delivery_attempts
        or _age_hours(alert) >= ctx.settings.delivery_max_hours
    )
    delay = retry_delay(
        alert.attempts, ctx.settings.delivery_backoff, getattr(exc, "retry_after", None)
    )
    alert.status = "failed" if give_up else "pending"
    alert.due_at = time.time() + delay
    metrics.ALERTS.labels("dead" if give_up else "failed").inc()
    ctx.store.put(f"alert:{alert.id}", alert.to_dict(), ctx.retention)
    log.warning(
        "alert %s to %s#%d, attempt %d of %d: %s; %s",
        alert.rule,
        alert.channel,
        alert.target,
        alert.attempts,
        ctx.settings.delivery_attempts,
        alert.last_error,
        "recorded failed (monitor alerts retry sends it again)"
        if give_up
        else f"next attempt due in {delay:.1f}s",
    )
    if give_up:
        return alert.status
    raise DeliveryFailed(
        redact(exc.reason, secrets), subject=exc.subject, retry_after=delay
    ) from None


def alerts_with_status(ctx: Context, *statuses: str) -> list[Alert]:
    """Every alert in one of ``statuses`` (all alerts when none is given), newest first."""
    found = [
        Alert.from_dict(data)
        for data in alert_records(ctx)
        if not statuses or data.get("status") in statuses
    ]
    return sorted(found, key=lambda a: a.created, reverse=True)


def pending_alerts(ctx: Context) -> list[Alert]:
    """Alerts left pending by earlier cycles or workers."""
    return alerts_with_status(ctx, "pending")


def stale_alerts(ctx: Context, now: float | None = None) -> list[str]:
    """Pending alerts whose delivery is overdue: due more than ``MONITOR_DELIVERY_STALE_AFTER``
    ago, no delivery holding the lease, not queued again within that time. Each one returned
    is marked queued (``requeued:<id>``), so two sweeps do not both return it."""
    now = time.time() if now is None else now
    stale_after = ctx.settings.delivery_stale_after
    overdue: list[str] = []
    for alert in alerts_with_status(ctx, "pending"):
        due = alert.due_at or datetime.fromisoformat(alert.created).timestamp()
        if due + stale_after > now or ctx.store.get(f"sending:{alert.id}") is not None:
            continue
        if ctx.store.claim(f"requeued:{alert.id}", stale_after, {"at": now_iso()}):
            overdue.append(alert.id)
    return overdue


def reset_for_retry(ctx: Context, alert_id: str) -> bool:
    """Make a failed alert pending again with fresh attempts; False if it is not failed."""
    if not ctx.store.claim(f"sending:{alert_id}", ctx.settings.delivery_lease):
        return False
    try:
        data = ctx.store.get(f"alert:{alert_id}")
        if data is None or data.get("status") != "failed":
            return False
        alert = Alert.from_dict(data)
        alert.status, alert.attempts, alert.due_at = "pending", 0, time.time()
        alert.created = now_iso()  # the hours limit counts from the retry
        ctx.store.put(f"alert:{alert_id}", alert.to_dict(), ctx.retention)
        return True
    finally:
        ctx.store.delete(f"sending:{alert_id}")


def deliver_patiently(ctx: Context, due: Mapping[str, float], patience: float) -> dict[str, str]:
    """Deliver alerts, each when it is due (epoch seconds), trying a refused one again when its
    next attempt falls due (``MONITOR_DELIVERY_BACKOFF``, ``MONITOR_DELIVERY_ATTEMPTS``), for at
    most ``patience`` seconds; return each alert's status. An alert whose next attempt falls
    after that stays ``pending``, for a worker or a later cycle."""
    deadline = time.time() + patience
    waiting = dict(due)
    statuses: dict[str, str] = {}
    while waiting:
        for alert_id in [i for i, at in waiting.items() if at <= time.time()]:
            try:
                status = deliver_alert(ctx, alert_id)
            except DeliveryFailed as exc:
                waiting[alert_id] = time.time() + (exc.retry_after or 0.0)
                statuses[alert_id] = "pending"
                continue
            if status == "sending":
                status = await_other_sender(ctx, alert_id)
            statuses[alert_id] = status
            del waiting[alert_id]
        next_due = min(waiting.values(), default=deadline + 1)
        if next_due > deadline:
            break
        time.sleep(max(0.0, next_due - time.time()))
    for alert_id, at in waiting.items():
        statuses[alert_id] = "pending"
        log.info(
            "alert %s left pending: its next attempt is due at %s, after this run; a running "
            "worker or the next cycle makes it",
            alert_id,
            local_time(datetime.fromtimestamp(at, UTC).isoformat(), ctx.settings.timezone),
        )
    return statuses


def await_other_sender(ctx: Context, alert_id: str) -> str:
    """Wait for another process's delivery of an alert to finish, up to its lease."""
    log.info(
        "alert %s: another process is delivering it (or died doing so); waiting for it to "
        "end, at most %g s, the delivery lease (MONITOR_DELIVERY_LEASE)",
        alert_id,
        ctx.settings.delivery_lease,
    )
    deadline = time.monotonic() + ctx.settings.delivery_lease + 1
    while time.monotonic() < deadline:
        if ctx.store.get(f"sending:{alert_id}") is None:
            status = str((ctx.store.get(f"alert:{alert_id}") or {}).get("status", "missing"))
            if status != "pending":
                return status
            return deliver_alert(ctx, alert_id, last_attempt=True)
        time.sleep(0.2)
    return "sending"
