"""WebSub (W3C Recommendation, formerly PubSubHubbub): feeds whose publisher pushes new items to
us through a hub, seconds after publication, instead of waiting for our next poll.

Discovery. A poll that reads a feed notes the hub and the topic it names (``<link rel="hub">``
and ``<link rel="self">`` in RSS and Atom, or HTTP ``Link`` headers, which win). With
``MONITOR_PUBLIC_URL`` set, a feed with a hub is to be subscribed to.

A subscription is kept in the store as ``push:<feed URL>``, with a callback of its own
(``/websub/<callback id>`` under the public URL: an id of 128 random bits, mapped back to its
feed by ``push-callback:<id>``) and a secret of its own (``hub.secret``). Its ``state``:

* ``wanted``: discovered; the next round of ``maintain`` asks the hub.
* ``pending``: asked; the hub has ``VERIFY_WAIT`` to verify our intent (a GET of the callback
  that we answer with its ``hub.challenge`` only for the subscription we asked for, topic
  and mode included), else the subscription failed.
* ``active`` until the lease the hub granted ends; renewed a fifth of the lease before (at
  most a day before).
* ``failed``, with the reason in one line (the hub refused, did not verify, denied us, could
  not be reached); asked again after a backoff that doubles up to ``MAX_RETRY``.
* ``leaving``: the feed left the rules, and we asked the hub to unsubscribe; the record goes
  once the hub verified it (or after ``VERIFY_WAIT``).

Each record's next step is due at a time in the schedule ``push-schedule``, so a round costs
the subscriptions due, not all of them. Every request to a hub goes through ``monitor.fetch``
(the SSRF guard, deadlines).

A content distribution (a POST to the callback) is taken only with a valid ``X-Hub-Signature``
(HMAC with the subscription's secret, SHA-256 or stronger, compared in constant time); its
entries are claimed like a poll's (``monitor.ingest.seen``), so an item pushed and also polled
is processed, and alerts, once.

Polling goes on. A feed with an active subscription is polled every ``MONITOR_PUSH_SAFETY_POLL``
(its ``every`` when longer), which catches what a push lost; when the subscription ends
(lapsed, refused, denied, hub gone, or a poll found items the hub should have pushed:
``check_missed``) the feed is due at once and back to its ``every``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from monitor import metrics
from monitor.context import Context, iso_at
from monitor.errors import FeedParseError, MonitorError
from monitor.fetch import Fetched, Request, fetch_all
from monitor.ingest.feeds import Entry, FeedDocument, absolute_link, read_feed
from monitor.ingest.schedule import SCHEDULE, feed_table
from monitor.ingest.seen import claim_new

log = logging.getLogger(__name__)

PUSH_SCHEDULE = "push-schedule"
VERIFY_WAIT = 300.0  # seconds a hub has to verify our intent
FIRST_RETRY = 300.0  # seconds before asking again after a failure; doubles each time
MAX_RETRY = 21600.0
MAX_RENEW_AHEAD = 86400.0
MAX_LEASE = 31_536_000.0  # a year: a longer grant is taken as a year
# An entry published this long ago that a poll, not the hub, brought was missed by the hub:
# hubs distribute in seconds to minutes.
MISSED_AFTER = 900.0
TAKE_AT_ONCE = 200  # subscriptions handled per round
SIGNATURES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_REL = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,]+))""", re.IGNORECASE)


class SignatureRefused(MonitorError):
    """A content distribution without a valid ``X-Hub-Signature``."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """One feed's subscription (see the module docstring). ``secret`` is ours to check pushes
    with: never logged, never shown."""

    feed: str
    hub: str
    topic: str
    callback: str
    secret: str
    state: str = "wanted"
    asked: float = 0.0  # when we last asked the hub
    until: float = 0.0  # end of the lease granted
    lease: float = 0.0  # seconds granted
    reason: str = ""
    failures: int = 0

    @classmethod
    def new(cls, feed: str, hub: str, topic: str) -> Subscription:
        return cls(feed, hub, topic, secrets.token_urlsafe(16), secrets.token_hex(32))

    @classmethod
    def of(cls, record: dict[str, Any] | None) -> Subscription | None:
        return None if record is None else cls(**record)

    def active(self, now: float) -> bool:
        return self.state == "active" and self.until > now

    def shown(self, now: float | None = None) -> str:
        """The state in a few words, for ``monitor feeds``."""
        now = time.time() if now is None else now
        if self.state == "active":
            if self.until <= now:
                return "lapsed"
            return f"active until {iso_at(self.until, 'seconds')}"
        if self.state == "failed":
            return f"failed: {self.reason}"
        return {"wanted": "pending", "leaving": "unsubscribing"}.get(self.state, self.state)

    def public(self) -> dict[str, Any]:
        """What ``monitor feeds --json`` shows: all but the secret and the callback."""
        return {
            "state": self.state, "shown": self.shown(), "hub": self.hub, "topic": self.topic,
            "until": iso_at(self.until, "seconds") if self.until else None,
            "reason": self.reason or None,
        }  # fmt: skip


def _key(feed: str) -> str:
    return f"push:{feed}"


def _callback_key(callback: str) -> str:
    return f"push-callback:{callback}"


def callback_url(ctx: Context, sub: Subscription) -> str:
    return f"{ctx.settings.public_url}/websub/{sub.callback}"


def link_header(value: str, rel: str, base: str) -> str | None:
    """The first URL of an HTTP ``Link`` header (RFC 8288) with the relation ``rel``."""
    for found in _LINK.finditer(value or ""):
        params = _REL.search(found.group(2) or "")
        if params is None:
            continue
        rels = (params.group(1) or params.group(2) or "").lower().split()
        url = absolute_link(base, str(found.group(1))) if rel in rels else None
        if url is not None:
            return url
    return None


def discovered(fetched: Fetched, document: FeedDocument) -> tuple[str, str] | None:
    """The hub and topic a feed names (its ``Link`` headers first, then the document), or None
    when it names no hub. With no ``self`` link the topic is the URL we fetched."""
    links = fetched.headers.get("link", "")
    hub = link_header(links, "hub", fetched.final_url) or document.hub
    if hub is None:
        return None
    topic = link_header(links, "self", fetched.final_url) or document.topic or fetched.final_url
    return hub, topic


def load(ctx: Context, feed: str) -> Subscription | None:
    return Subscription.of(ctx.store.get(_key(feed)))


def _save(ctx: Context, sub: Subscription, next_step: float | None) -> None:
    ctx.store.put(_key(sub.feed), asdict(sub))
    if next_step is not None:
        ctx.store.schedule(PUSH_SCHEDULE, {sub.feed: next_step})


def _forget(ctx: Context, sub: Subscription) -> None:
    ctx.store.delete(_key(sub.feed))
    ctx.store.delete(_callback_key(sub.callback))
    ctx.store.unschedule(PUSH_SCHEDULE, [sub.feed])


def noticed(
    ctx: Context, feed: str, sub: Subscription | None, found: tuple[str, str] | None
) -> None:
    """What a poll that read ``feed`` found of its hub: a feed with a new hub (or topic) is to
    be subscribed to, when ``MONITOR_PUBLIC_URL`` is set."""
    if found is None or ctx.settings.public_url is None:
        return
    hub, topic = found
    if sub is not None and (sub.hub, sub.topic) == (hub, topic):
        return
    if sub is not None:  # the publisher moved to another hub: the old subscription lapses
        ctx.store.delete(_callback_key(sub.callback))
    new = Subscription.new(feed, hub, topic)
    ctx.store.put(_callback_key(new.callback), {"feed": feed})
    _save(ctx, new, time.time())
    log.info("feed %s names the WebSub hub %s: subscribing", feed, hub)


def poll_every(ctx: Context, sub: Subscription | None, every: float, now: float) -> float:
    """Seconds between polls of a feed polled every ``every``: the safety interval while its
    subscription is active."""
    if sub is not None and sub.active(now):
        return max(every, ctx.settings.push_safety_poll)
    return every


def left(ctx: Context, feeds: list[str]) -> None:
    """Feeds that left the rules: their subscriptions are due, to be ended."""
    for at in range(0, len(feeds), TAKE_AT_ONCE):
        chunk = feeds[at : at + TAKE_AT_ONCE]
        found = ctx.store.get_all(_key(feed) for feed in chunk)
        now = time.time()
        ctx.store.schedule(PUSH_SCHEDULE, {feed: now for feed in chunk if _key(feed) in found})


def check_missed(ctx: Context, sub: Subscription, new: list[Entry], now: float) -> None:
    """A poll found ``new`` entries while ``sub`` is active. One published after the hub
    verified the subscription, and more than ``MISSED_AFTER`` ago, is one the hub should have
    pushed: the hub has stopped distributing (or lost the subscription), so the feed goes back
    to its own interval and the subscription is asked for again after the backoff."""
    verified = sub.until - sub.lease
    missed = 0
    for entry in new:
        published = _epoch(entry.published)
        if published is not None and verified < published < now - MISSED_AFTER:
            missed += 1
    if missed:
        items = "1 new item" if missed == 1 else f"{missed} new items"
        _failed(ctx, sub, f"the hub did not push {items} a poll found", now)


def _epoch(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


# Maintenance: one round of due steps (a beat task).


def maintain(ctx: Context) -> int:
    """Take the subscriptions whose next step is due and take it: ask the hub, renew, give up
    on an unverified request, leave a hub for a feed no longer listed. The number handled."""
    now = time.time()
    due = ctx.store.take_due(PUSH_SCHEDULE, now, TAKE_AT_ONCE, VERIFY_WAIT)
    if not due:
        return 0
    listed = feed_table(ctx.rules).by_url
    records = ctx.store.get_all(_key(feed) for feed in due)
    asks: list[tuple[Subscription, str]] = []  # (subscription, mode)
    for feed in due:
        sub = Subscription.of(records.get(_key(feed)))
        if sub is None:
            ctx.store.unschedule(PUSH_SCHEDULE, [feed])
            continue
        step = _next_step(ctx, sub, feed in listed, now)
        if step is not None:
            asks.append((sub, step))
    if asks:
        _ask(ctx, asks)
    return len(due)


def _next_step(ctx: Context, sub: Subscription, listed: bool, now: float) -> str | None:
    """The request to make to the hub for ``sub`` (``subscribe``, ``unsubscribe``), or None
    when there is none to make now (its state may have changed here)."""
    public = ctx.settings.public_url is not None
    if not (listed and public):
        if public and sub.state in ("active", "pending"):
            return "unsubscribe"
        if sub.state == "leaving" and now - sub.asked < VERIFY_WAIT:
            return None  # the hub has not verified yet: back after the round's lease
        if sub.active(now):  # MONITOR_PUBLIC_URL unset: the subscription lapses at its end
            _save(ctx, sub, sub.until)
            return None
        if listed and sub.state == "active":
            _back_to_polling(ctx, sub, now)
        _forget(ctx, sub)
        return None
    if sub.state == "pending":
        if now - sub.asked >= VERIFY_WAIT:
            _failed(ctx, sub, "the hub did not verify the subscription in time", now)
        return None
    if sub.state == "active":
        if sub.until <= now:  # lapsed: a renewal was not verified in time
            _back_to_polling(ctx, sub, now)
        elif now < _renew_at(sub):
            _save(ctx, sub, _renew_at(sub))
            return None
    return "subscribe"  # wanted, failed (its retry came), to renew, lapsed, or listed again


def _renew_at(sub: Subscription) -> float:
    return sub.until - min(MAX_RENEW_AHEAD, sub.lease / 5)


def _ask(ctx: Context, asks: list[tuple[Subscription, str]]) -> None:
    """Send the requests to the hubs, all at once. Each subscription is recorded as asked
    before its request goes: a hub may verify before it answers."""
    now = time.time()
    sent: list[Subscription] = []
    for sub, mode in asks:
        # A subscription being renewed stays active until the hub verifies the renewal.
        state = "active" if sub.active(now) else "pending"
        asked = replace(sub, state="leaving" if mode == "unsubscribe" else state, asked=now)
        _save(ctx, asked, now + VERIFY_WAIT)
        sent.append(asked)
    requests = [
        Request(sub.hub, "*/*", form=_form(ctx, sub, mode))
        for sub, (_, mode) in zip(sent, asks, strict=True)
    ]
    for index, outcome in fetch_all(ctx.client, requests, ctx.settings):
        sub, mode = sent[index], asks[index][1]
        if isinstance(outcome, Fetched) and 200 <= outcome.status < 300:
            log.info("asked the hub %s to %s to %s", sub.hub, mode, sub.topic)
            continue
        reason = (
            outcome.reason if isinstance(outcome, MonitorError)
            else f"the hub answered HTTP {outcome.status}"
        )  # fmt: skip
        if mode == "unsubscribe":
            log.warning("could not unsubscribe from %s at %s: %s", sub.topic, sub.hub, reason)
            _forget(ctx, sub)
        else:
            _failed(ctx, sub, f"the hub refused the subscription: {reason}", time.time())


def _form(ctx: Context, sub: Subscription, mode: str) -> tuple[tuple[str, str], ...]:
    form = [("hub.mode", mode), ("hub.topic", sub.topic), ("hub.callback", callback_url(ctx, sub))]
    if mode == "subscribe":
        form += [("hub.lease_seconds", str(int(ctx.settings.push_lease))),
                 ("hub.secret", sub.secret)]  # fmt: skip
    return tuple(form)


def _failed(ctx: Context, sub: Subscription, reason: str, now: float) -> None:
    failures = sub.failures + 1
    retry = min(MAX_RETRY, FIRST_RETRY * 2 ** min(failures - 1, 16))
    log.warning("WebSub subscription to %s failed: %s; polled at its own interval meanwhile, "
                "asked again in %.0f s", sub.topic, reason, retry)  # fmt: skip
    metrics.PUSH_EVENTS.labels("failed").inc()
    if sub.active(now):
        _back_to_polling(ctx, sub, now)
    _save(ctx, replace(sub, state="failed", reason=reason[:300], failures=failures), now + retry)


def _back_to_polling(ctx: Context, sub: Subscription, now: float) -> None:
    """The feed is due at once, and its polls back to its own ``every``."""
    if sub.feed in feed_table(ctx.rules).by_url:
        ctx.store.schedule(SCHEDULE, {sub.feed: now})


# The callback: what a hub sends us.


def callback_subscription(ctx: Context, callback: str) -> Subscription | None:
    """The subscription of a callback id; None for one we never gave out."""
    found = ctx.store.get(_callback_key(callback))
    if found is None:
        return None
    sub = load(ctx, str(found.get("feed", "")))
    return sub if sub is not None and sub.callback == callback else None


def verify(ctx: Context, sub: Subscription, params: dict[str, str]) -> str | None:
    """A hub's verification of intent (or denial) at the callback of ``sub``: the challenge to
    echo, or None when we did not ask for this (another topic, or mode): the answer is then
    404."""
    if params.get("hub.topic") != sub.topic:
        return None
    mode, now = params.get("hub.mode"), time.time()
    if mode == "denied":
        reason = params.get("hub.reason", "no reason given")[:200]
        _failed(ctx, sub, f"the hub denied the subscription ({reason})", now)
        return ""
    challenge = params.get("hub.challenge", "")
    if not challenge or len(challenge) > 1000:
        return None
    if mode == "subscribe" and sub.state in ("pending", "active"):
        asked = str(params.get("hub.lease_seconds", ""))
        lease = float(asked) if asked.isdigit() and int(asked) > 0 else ctx.settings.push_lease
        lease = min(lease, MAX_LEASE)
        active = replace(sub, state="active", until=now + lease, lease=lease, reason="", failures=0)
        _save(ctx, active, _renew_at(active))
        metrics.PUSH_EVENTS.labels("verified").inc()
        log.info("WebSub subscription to %s active for %.0f s (hub %s)", sub.topic, lease, sub.hub)
        return challenge
    if mode == "unsubscribe" and sub.state == "leaving":
        _forget(ctx, sub)
        log.info("WebSub subscription to %s ended (hub %s)", sub.topic, sub.hub)
        return challenge
    return None


def check_signature(sub: Subscription, body: bytes, header: str) -> None:
    """``SignatureRefused`` unless ``header`` (``X-Hub-Signature``) is a valid HMAC of ``body``
    with the subscription's secret, by SHA-256 or stronger."""
    method, _, given = (header or "").strip().partition("=")
    digest = SIGNATURES.get(method.strip().lower())
    if digest is None:
        raise SignatureRefused("no X-Hub-Signature by sha256, sha384 or sha512")
    expected = hmac.new(sub.secret.encode(), body, digest).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
        raise SignatureRefused("the X-Hub-Signature does not match")


def take_push(ctx: Context, sub: Subscription, body: bytes, content_type: str) -> list[str]:
    """The entries of a content distribution (signature checked), claimed as a poll's are: the
    ids of the articles to process. ``FeedParseError`` when the body is not a feed."""
    headers = {"content-type": content_type} if content_type else {}
    document = read_feed(Fetched(sub.feed, sub.topic, 200, headers, body))
    queued = claim_new(ctx, document.entries)
    metrics.PUSH_EVENTS.labels("pushed").inc()
    log.log(logging.INFO if queued else logging.DEBUG, "pushed: %s: %d entries, %d new",
            sub.feed, len(document.entries), len(queued))  # fmt: skip
    return queued


__all__ = [
    "PUSH_SCHEDULE",
    "FeedParseError",
    "SignatureRefused",
    "Subscription",
    "check_signature",
    "discovered",
    "maintain",
    "noticed",
    "poll_every",
    "take_push",
    "verify",
]
