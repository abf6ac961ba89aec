"""Where the alerts and the notes of held alerts are found without reading the whole store.

Each alert (``alert:<id>``), held note (``held:<group>:<id>``) and open digest
(``digest-open:<group>``) is filed in an index as it is made: a store set whose members expire
with the retention (``index:alerts``, ``index:held``, ``index:digest-open``). Listing them then
costs the alerts of the retention, not every key of the store: a store behind 100,000 feeds holds
millions of article keys, and a scan of them all at every sweep cost Redis more than the polls.
The member is filed before the record, so a crash between the two leaves a member with no record
(skipped), never a record no listing finds.

A store written before the indexes existed is indexed once, by one scan, the first time a
listing is asked for (``index:built`` remembers it).
"""

from __future__ import annotations

from typing import Any

from monitor.alerts.make import Alert
from monitor.context import Context, now_iso

ALERTS = "index:alerts"
HELD = "index:held"
OPEN_DIGESTS = "index:digest-open"
BUILT = "index:built"
_INDEXED = {ALERTS: "alert:", HELD: "held:", OPEN_DIGESTS: "digest-open:"}


def file_alert(ctx: Context, alert: Alert) -> None:
    """Make the alert's record, unless it exists (a repeated call keeps the first decision)."""
    ctx.store.add_member(ALERTS, alert.id, ctx.retention)
    ctx.store.claim(f"alert:{alert.id}", ctx.retention, alert.to_dict())


def file_held(ctx: Context, group: str, held_id: str, note: dict[str, Any]) -> None:
    ctx.store.add_member(HELD, f"{group}:{held_id}", ctx.retention)
    ctx.store.put(f"held:{group}:{held_id}", note, ctx.retention)


def file_open_digest(ctx: Context, group: str, plan: dict[str, Any]) -> None:
    ctx.store.add_member(OPEN_DIGESTS, group, ctx.retention)
    ctx.store.put(f"digest-open:{group}", plan, ctx.retention)


def _records(ctx: Context, index: str) -> dict[str, dict[str, Any]]:
    """The live records of an index, by the key after their prefix."""
    _index_once(ctx)
    prefix = _INDEXED[index]
    members = ctx.store.members([index])
    found = ctx.store.get_all(prefix + member for member in members)
    return {key.removeprefix(prefix): record for key, record in found.items()}


def alert_records(ctx: Context) -> list[dict[str, Any]]:
    return list(_records(ctx, ALERTS).values())


def held_notes(ctx: Context) -> dict[str, dict[str, Any]]:
    """The notes of held alerts, by ``<group>:<alert id>``."""
    return _records(ctx, HELD)


def open_digests(ctx: Context) -> list[str]:
    """The groups whose digest was begun and not finished."""
    return list(_records(ctx, OPEN_DIGESTS))


def _index_once(ctx: Context) -> None:
    if ctx.store.get(BUILT) is not None:
        return
    for index, prefix in _INDEXED.items():
        for key in ctx.store.keys(prefix):
            ctx.store.add_member(index, key.removeprefix(prefix), ctx.retention)
    ctx.store.put(BUILT, {"at": now_iso()})
