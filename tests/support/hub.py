"""A WebSub hub on loopback, as the W3C Recommendation describes one, for tests and benchmarks.

A subscriber POSTs ``hub.mode``, ``hub.topic``, ``hub.callback`` (and ``hub.lease_seconds``,
``hub.secret``) as a form; the hub answers 202 and then verifies intent: a GET of the callback
with ``hub.challenge``, which must come back as the body of a 2xx. Only then is the
subscription (or its end) recorded. ``publish`` distributes a body to a topic's subscribers,
signed with each one's secret (``X-Hub-Signature: sha256=...``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import cast
from urllib.parse import parse_qsl, urlencode

import urllib3

from tests.support.servers import _QuietHandler, _ThreadedHTTP


@dataclass
class HubSubscription:
    topic: str
    callback: str
    secret: str
    until: float


@dataclass(frozen=True)
class Request:
    """A subscriber's request, as the hub received it."""

    mode: str
    topic: str
    callback: str
    lease_seconds: str
    secret: str
    verified: bool | None = None  # None: verification not done yet (or not asked)


class _HubHandler(_QuietHandler):
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        hub = cast(WebSubHub, self.server.owner)
        form = dict(parse_qsl(self.read_body().decode()))
        if hub.refuse_with is not None:
            self.send_plain(hub.refuse_with, b"refused on purpose")
            return
        mode, topic, callback = (form.get(f"hub.{k}", "") for k in ("mode", "topic", "callback"))
        if mode not in ("subscribe", "unsubscribe") or not topic or not callback:
            self.send_plain(400, b"hub.mode, hub.topic and hub.callback are needed")
            return
        self.send_plain(202, b"")
        threading.Thread(target=hub._verify, args=(form,), daemon=True).start()


class WebSubHub(_ThreadedHTTP):
    """A hub on 127.0.0.1: it verifies intent, keeps subscriptions and distributes content."""

    def __init__(self, lease_seconds: int | None = None) -> None:
        #: The lease granted; None: the one asked for.
        self.lease_seconds = lease_seconds
        #: A status every subscription request is answered with (the hub failing), or None.
        self.refuse_with: int | None = None
        #: Topics whose subscriptions are denied (``hub.mode=denied``) instead of verified.
        self.deny: set[str] = set()
        self.subscriptions: dict[tuple[str, str], HubSubscription] = {}  # (topic, callback)
        self.requests: list[Request] = []
        self.http = urllib3.PoolManager(retries=False, timeout=10, maxsize=32)
        super().__init__(_HubHandler)

    @property
    def url(self) -> str:
        return self.base_url + "/"

    def _verify(self, form: dict[str, str]) -> None:
        mode, topic, callback = form["hub.mode"], form["hub.topic"], form["hub.callback"]
        secret = form.get("hub.secret", "")
        asked_lease = form.get("hub.lease_seconds", "")
        request = Request(mode, topic, callback, asked_lease, secret)
        if topic in self.deny:
            query = urlencode({"hub.mode": "denied", "hub.topic": topic, "hub.reason": "no"})
            self._get(callback, query)
            self._note(request, False)
            return
        lease = self.lease_seconds or int(asked_lease or 86400)
        challenge = secrets.token_urlsafe(16)
        query = urlencode({"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge,
                           "hub.lease_seconds": lease})  # fmt: skip
        answer = self._get(callback, query)
        verified = answer is not None and answer[0] // 100 == 2 and answer[1] == challenge.encode()
        with self._lock:
            if verified and mode == "subscribe":
                self.subscriptions[(topic, callback)] = HubSubscription(
                    topic, callback, secret, time.time() + lease
                )
            elif verified:
                self.subscriptions.pop((topic, callback), None)
        self._note(request, verified)

    def _note(self, request: Request, verified: bool) -> None:
        with self._lock:
            self.requests.append(replace(request, verified=verified))
            self._lock.notify_all()

    def _get(self, callback: str, query: str) -> tuple[int, bytes] | None:
        joiner = "&" if "?" in callback else "?"
        try:
            answer = self.http.request("GET", f"{callback}{joiner}{query}")
        except urllib3.exceptions.HTTPError:
            return None
        return answer.status, answer.data

    def wait_for(self, test: Callable[[list[Request]], bool], timeout: float = 30.0) -> None:
        """Wait until the requests received (each with its verification's outcome) pass
        ``test``."""
        with self._lock:
            if not self._lock.wait_for(lambda: test(self.requests), timeout):
                raise AssertionError(f"hub requests after {timeout}s: {self.requests!r}")

    def subscribers(self, topic: str) -> list[HubSubscription]:
        with self._lock:
            return [s for (t, _), s in self.subscriptions.items() if t == topic]

    def publish(
        self,
        topic: str,
        body: bytes,
        content_type: str = "application/rss+xml",
        signature: Callable[[str, bytes], str] | None = None,
    ) -> list[int]:
        """Distribute ``body`` to the subscribers of ``topic``: the status each answered.
        ``signature`` (secret, body) -> header value replaces the correct one."""
        statuses = []
        for sub in self.subscribers(topic):
            signed = signature or sign
            headers = {"Content-Type": content_type, "X-Hub-Signature": signed(sub.secret, body)}
            answer = self.http.request("POST", sub.callback, body=body, headers=headers)
            statuses.append(answer.status)
        return statuses


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
