"""Cooldown and digests: which alerts go out at once and which wait for a digest.

Per rule (``monitor.rules.model.Rule``):

* ``cooldown: 30m``: at most one alert per rule per 30 minutes for the same set of entities
  (the entities whose aliases made the rule fire). The first article sends at once and starts
  the cooldown; the others in it are held for the next digest.
* ``digest: hourly | daily | <duration>``: nothing is sent at once; every article that fired
  is held, and one message per period and target lists them all.

Held alerts wait in periods of the digest (or, for a rule with only a cooldown, of the
cooldown), aligned to midnight in the analyst's zone (``MONITOR_TIMEZONE``): a daily digest
goes out at the analyst's midnight, an hourly one on the analyst's hour (in Asia/Kolkata that
is half past a UTC hour). The zone's offset is read when an alert is held, so across a
daylight-saving change one period is an hour longer or shorter. A
digest is an alert like any other (``items`` lists the articles), made only if absent and
delivered through ``monitor.alerts.delivery``, so it too is sent once and retried per target.

Building a digest is crash-safe: under a lease per (rule, target), the list of held alerts it
takes is written first (``digest-open:<group>``); the digest is made, its alerts marked
``digested``, and the note removed. A build that died half way is finished by the next one
with the same list, so no article is left out or listed twice.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.alerts.ledger import file_alert, file_held, file_open_digest, held_notes, open_digests
from monitor.alerts.make import Alert, alert_id, make_alerts
from monitor.context import Context
from monitor.money.amounts import Amount
from monitor.rules.match import Match
from monitor.rules.model import Rule
from monitor.text.extract import Article

log = logging.getLogger(__name__)

DIGEST_LEASE = 60.0  # seconds one build of a digest may hold its group


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def _group(rule: str, channel: str, target: int) -> str:
    return _hash(rule, channel, str(target))


def _rule(ctx: Context, name: str) -> Rule | None:
    return next((r for r in ctx.rules.rules if r.name == name), None)


def period_end(now: float, period: float, zone: str = "UTC") -> float:
    """The end of the period that contains ``now``, periods counted from midnight in ``zone``."""
    offset = datetime.fromtimestamp(now, ZoneInfo(zone)).utcoffset() or timedelta()
    shift = offset.total_seconds()
    return (math.floor((now + shift) / period) + 1) * period - shift


def record_alerts(
    ctx: Context, article: Article, article_key: str, match: Match, amounts: list[Amount]
) -> list[str]:
    """Make the alerts of one fired rule (only if absent); return the ids to deliver now.

    A redelivered or repeated call makes the same ids and finds them made: the first call's
    decision (send now, or hold) stands.
    """
    alerts = make_alerts(
        article,
        article_key,
        match,
        amounts,
        ctx.rules.channels,
        ctx.rates,
        ctx.settings.display_currency,
    )
    rule = _rule(ctx, match.rule)
    now = time.time()
    hold = rule is not None and _should_hold(ctx, rule, match, article_key, alerts)
    period = (rule.digest or rule.cooldown) if rule is not None else None
    deliver: list[str] = []
    for alert in alerts:
        alert.due_at = now
        if hold and period is not None:
            alert.status = "held"
            due = period_end(now, period.total_seconds(), ctx.settings.timezone)
            group = _group(alert.rule, alert.channel, alert.target)
            # The note first: a crash after it leaves a note the build skips (the alert is
            # not "held"); a crash before the alert is made leaves nothing half done.
            file_held(
                ctx,
                group,
                alert.id,
                {"due": due, "rule": alert.rule, "channel": alert.channel, "target": alert.target},
            )
        file_alert(ctx, alert)
        stored = ctx.store.get(f"alert:{alert.id}") or {}
        if stored.get("status") == "pending":
            deliver.append(alert.id)
    return deliver


def _should_hold(
    ctx: Context, rule: Rule, match: Match, article_key: str, alerts: list[Alert]
) -> bool:
    if not alerts or ctx.store.get(f"alert:{alerts[0].id}") is not None:
        return False  # decided before; record_alerts keeps what is stored
    if rule.digest is not None:
        return True
    if rule.cooldown is None:
        return False
    entities = sorted({e.name for e in match.evidence if e.kind == "entity"})
    key = f"cooldown:{_hash(rule.name, *entities)}"
    if ctx.store.claim(key, rule.cooldown.total_seconds(), {"article": article_key}):
        return False
    # The article that started the cooldown, processed again, still goes out at once.
    return (ctx.store.get(key) or {}).get("article") != article_key


def flush_digests(ctx: Context, now: float | None = None) -> list[str]:
    """Make the digests that are due (one per rule and target); return their ids to deliver."""
    now = time.time() if now is None else now
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for member, note in held_notes(ctx).items():
        group, held_id = member.split(":", 1)
        groups.setdefault(group, []).append((held_id, note))
    for group in open_digests(ctx):
        groups.setdefault(group, [])
    made: list[str] = []
    for group, notes in groups.items():
        if not ctx.store.claim(f"digesting:{group}", DIGEST_LEASE):
            continue
        try:
            made += _build(ctx, group, notes, now)
        finally:
            ctx.store.delete(f"digesting:{group}")
    return [i for i in made if (ctx.store.get(f"alert:{i}") or {}).get("status") == "pending"]


def _build(
    ctx: Context, group: str, notes: list[tuple[str, dict[str, Any]]], now: float
) -> list[str]:
    made: list[str] = []
    unfinished = ctx.store.get(f"digest-open:{group}")
    if unfinished is not None:
        made.append(_finish(ctx, group, unfinished))
    done = set(unfinished["items"]) if unfinished else set()
    due = sorted(i for i, note in notes if note["due"] <= now and i not in done)
    held = [i for i in due if (ctx.store.get(f"alert:{i}") or {}).get("status") == "held"]
    for stray in set(due) - set(held):
        ctx.store.delete(f"held:{group}:{stray}")
    if not held:
        return made
    first = dict(notes)[held[0]]
    plan = {
        "id": alert_id(first["rule"], "digest:" + _hash(*held), first["channel"], first["target"]),
        "rule": first["rule"],
        "channel": first["channel"],
        "target": first["target"],
        "items": held,
    }
    file_open_digest(ctx, group, plan)
    made.append(_finish(ctx, group, plan))
    return made


def _finish(ctx: Context, group: str, plan: dict[str, Any]) -> str:
    """Make the digest a plan describes (if absent) and mark its alerts; idempotent."""
    records = [ctx.store.get(f"alert:{i}") for i in plan["items"]]
    items = [
        {k: r[k] for k in ("id", "title", "url", "source", "published", "evidence")}
        for r in records
        if r is not None
    ]
    digest = Alert(
        id=plan["id"],
        rule=plan["rule"],
        channel=plan["channel"],
        target=plan["target"],
        article_key=f"digest:{plan['id']}",
        url="",
        title=f"{len(items)} articles",
        source="",
        published=None,
        language=None,
        snippet="",
        snippet_html="",
        evidence=[],
        amounts=[],
        due_at=time.time(),
        items=items,
    )
    file_alert(ctx, digest)
    for held_id, record in zip(plan["items"], records, strict=True):
        if record is not None and record.get("status") == "held":
            record.update(status="digested", digest=digest.id)
            ctx.store.put(f"alert:{held_id}", record, ctx.retention)
        ctx.store.delete(f"held:{group}:{held_id}")
    ctx.store.delete(f"digest-open:{group}")
    log.info("digest made: %s to %s#%d, %d articles", digest.rule, digest.channel,
             digest.target, len(items))  # fmt: skip
    return digest.id
