"""Delivering alerts: one alert to one target, exactly once as the analyst sees it.

Alerts are created only if absent (their id is derived from rule, article and target, see
``monitor.alerts``). A delivery holds the ``sending:<id>`` claim while it sends and records
``sent`` before it returns: a redelivered or duplicate delivery finds ``sent`` and does nothing.
"""

from __future__ import annotations

import logging
import time

from monitor.alerts import Alert, send
from monitor.context import Context, now_iso
from monitor.errors import ConfigError, DeliveryFailed
from monitor.rules import expand_env

log = logging.getLogger(__name__)

SENDING_LEASE = 120.0  # seconds a delivery may hold an alert before another may try


def deliver_alert(ctx: Context, alert_id: str, *, last_attempt: bool = False) -> str:
    """Send one alert unless it was sent already; return its status afterwards.

    Raises ``DeliveryFailed`` when the target refused and attempts remain (the caller retries);
    on the last attempt, or on an error retrying cannot fix, the alert is recorded ``failed``.
    """
    data = ctx.store.get(f"alert:{alert_id}")
    if data is None:
        log.warning("alert %s: not in the store (expired?); nothing to send", alert_id)
        return "missing"
    if data["status"] != "pending":
        return str(data["status"])
    if not ctx.store.claim(f"sending:{alert_id}", SENDING_LEASE):
        return "sending"
    alert = Alert.from_dict(data)
    try:
        urls = ctx.rules.channels.get(alert.channel, ())
        if alert.target >= len(urls):
            raise ConfigError(f"channel {alert.channel!r} no longer has target #{alert.target}")
        send(alert, expand_env(urls[alert.target]))
    except (DeliveryFailed, ConfigError) as exc:
        alert.attempts += 1
        alert.last_error = str(exc)
        give_up = (
            last_attempt or not exc.transient or alert.attempts >= ctx.settings.delivery_attempts
        )
        alert.status = "failed" if give_up else "pending"
        ctx.store.put(f"alert:{alert_id}", alert.to_dict(), ctx.retention)
        log.warning(
            "alert %s to %s#%d (%s): %s",
            alert.rule,
            alert.channel,
            alert.target,
            "gave up" if give_up else "will retry",
            exc.reason,
        )
        if give_up:
            return alert.status
        raise
    finally:
        ctx.store.delete(f"sending:{alert_id}")
    alert.attempts += 1
    alert.status, alert.sent_at, alert.last_error = "sent", now_iso(), None
    ctx.store.put(f"alert:{alert_id}", alert.to_dict(), ctx.retention)
    log.info("alert sent: %s to %s#%d: %s", alert.rule, alert.channel, alert.target, alert.url)
    return alert.status


def pending_alerts(ctx: Context) -> list[str]:
    """Alerts left pending by earlier cycles or workers (not being sent right now)."""
    ids = [key.removeprefix("alert:") for key in ctx.store.keys("alert:")]
    return [i for i in ids if (ctx.store.get(f"alert:{i}") or {}).get("status") == "pending"]


def deliver_with_retries(ctx: Context, alert_id: str, attempts: int, pause: float) -> str:
    """Up to ``attempts`` tries in this process, pausing longer after each failure."""
    for attempt in range(1, attempts + 1):
        try:
            return deliver_alert(ctx, alert_id, last_attempt=attempt == attempts)
        except DeliveryFailed:
            time.sleep(pause * attempt)
    return "failed"


def await_other_sender(ctx: Context, alert_id: str) -> str:
    """Wait for another process's delivery of an alert to finish, up to its lease."""
    deadline = time.monotonic() + SENDING_LEASE + 1
    while time.monotonic() < deadline:
        if ctx.store.get(f"sending:{alert_id}") is None:
            status = str((ctx.store.get(f"alert:{alert_id}") or {}).get("status", "missing"))
            if status != "pending":
                return status
            return deliver_alert(ctx, alert_id, last_attempt=True)
        time.sleep(0.2)
    return "sending"
