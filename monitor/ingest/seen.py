"""Claiming entries as seen: what makes an article processed once, however often it comes and
by whatever way (a poll, a push, a submission; see ``monitor.ingest.polling``)."""

from __future__ import annotations

import time

from monitor.context import Context
from monitor.ingest.feeds import Entry


def claim_new(ctx: Context, entries: list[Entry]) -> list[str]:
    """Claim the entries not seen before (and those queued too long ago: their message was
    lost) and record them; the ids of their articles. A few round trips to the store for the
    whole feed, whatever its number of entries."""
    now = time.time()
    mark = {"state": "queued", "at": now}
    by_seen_key = {f"seen:{entry.key}": entry for entry in entries}
    claimed = ctx.store.claim_all(dict.fromkeys(by_seen_key, mark), ctx.retention)
    earlier = ctx.store.get_all(key for key in by_seen_key if key not in claimed)
    lost = {
        key
        for key, previous in earlier.items()
        if previous.get("state") == "queued"
        and now - previous.get("at", now) >= ctx.settings.requeue_after
    }
    if lost:
        ctx.store.put_all(dict.fromkeys(lost, mark), ctx.retention)
    new = [by_seen_key[key] for key in by_seen_key if key in claimed]
    guids = {f"guid:{e.guid_key}": {"key": e.key} for e in new if e.guid_key}
    other_url = set(guids) - ctx.store.claim_all(guids, ctx.retention) if guids else set()
    # An entry whose GUID came before under another URL is that article again.
    fresh = [e for e in new if not e.guid_key or f"guid:{e.guid_key}" not in other_url]
    queued = fresh + [by_seen_key[key] for key in by_seen_key if key in lost]
    ctx.store.put_all({f"entry:{e.article_id}": e.to_dict() for e in queued}, ctx.retention)
    return [e.article_id for e in queued]
