"""The receiver's HTTP application: the ingest API, the WebSub callbacks
(``/websub/<id>``, ``monitor.ingest.websub``), the rule workbench (``/workbench``, with
``/v1/rules`` and ``/v1/rules/preview``: ``monitor.receiver.workbench``), the OpenAPI
description, health and metrics.

It faces the internet, so every request is bounded before any work is done for it: a rate
limit per client address, then per API token; a body refused unread past
``MONITOR_MAX_BYTES`` when its length is declared, cut at the cap when it is not, and given up
after ``MONITOR_API_TIMEOUT`` seconds. A callback we never gave out is a 404 counted against
the client's limit; a known one has a limit of its own, ``MONITOR_API_RATE``, as a token has
(a hub pushes many feeds from one address). An error answers a status and a short phrase, never a
trace or what the request carried; tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from prometheus_client import REGISTRY, Counter, generate_latest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor import metrics
from monitor.context import Context
from monitor.errors import FeedParseError
from monitor.ingest import websub
from monitor.ingest.submitted import Submission, state, submit
from monitor.ingest.websub import SignatureRefused, Subscription
from monitor.receiver import workbench
from monitor.receiver.limits import RateLimit, retry_after
from monitor.receiver.openapi import openapi_document

log = logging.getLogger(__name__)

ARTICLE_ID = re.compile(r"[0-9a-f]{20}")
CALLBACK_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# The page runs only its own script, is not framed, and sends nothing to another origin.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
MAX_HEADER_BYTES = 16_384
REQUESTS = Counter(
    "monitor_receiver_requests_total", "Requests to the receiver, by route and status.",
    ["route", "status"],
)  # fmt: skip


class Refused(Exception):
    """A request answered with an error status and a short phrase."""

    def __init__(self, status: int, phrase: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(phrase)
        self.status, self.phrase, self.headers = status, phrase, headers or {}


def _error(status: int, phrase: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": phrase}, status, headers=headers)


class Receiver:
    """The routes, with what they share: the context, the queue and the limits."""

    def __init__(self, ctx: Context, queue: Callable[[str], None]) -> None:
        settings = ctx.settings
        self.ctx = ctx
        self.queue = queue
        self.tokens = [
            token.strip().encode()
            for token in settings.api_tokens.get_secret_value().split(",")
            if token.strip()
        ]
        self.by_token = RateLimit(settings.api_rate)
        self.by_client = RateLimit(settings.api_client_rate)
        self.by_callback = RateLimit(settings.api_rate)
        self.cap = settings.max_bytes
        self.timeout = settings.api_timeout

    def app(self) -> Starlette:
        routes = [
            Route("/v1/articles", self.post_article, methods=["POST"]),
            Route("/v1/articles/{ident}", self.get_article, methods=["GET"]),
            Route("/websub/{callback}", self.websub_verify, methods=["GET"]),
            Route("/websub/{callback}", self.websub_push, methods=["POST"]),
            Route("/v1/rules", self.current_rules, methods=["GET"]),
            Route("/v1/rules/preview", self.preview_rules, methods=["POST"]),
            Route("/workbench", self.workbench_page, methods=["GET"]),
            Route("/workbench.js", self.workbench_script, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/healthz", self.health, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
        ]
        handlers: dict[Any, Any] = {
            HTTPException: self._http_error,
            Refused: self._refused,
            Exception: self._crashed,
        }
        return Starlette(routes=routes, exception_handlers=handlers)

    # Limits and checks, in the order a request meets them.

    def _client_limit(self, request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        wait = self.by_client.take(client)
        if wait:
            raise Refused(429, "too many requests", {"Retry-After": retry_after(wait)})

    def _token(self, request: Request) -> int:
        """The number of the API token the request carries (for the log; never the token)."""
        self._client_limit(request)
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        offered = given.strip().encode()
        found = None
        for number, token in enumerate(self.tokens, 1):  # every one, so timing tells nothing
            if hmac.compare_digest(offered, token) and scheme.lower() == "bearer":
                found = number
        if found is None:
            raise Refused(401, "a valid bearer token is needed", {"WWW-Authenticate": "Bearer"})
        wait = self.by_token.take(f"token {found}")
        if wait:
            raise Refused(429, "too many requests", {"Retry-After": retry_after(wait)})
        return found

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.cap:
            raise Refused(413, "the body is too large")
        chunks: list[bytes] = []
        size = 0

        async def read() -> None:
            nonlocal size
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.cap:
                    raise Refused(413, "the body is too large")
                chunks.append(chunk)

        try:
            await asyncio.wait_for(read(), self.timeout)
        except TimeoutError:
            raise Refused(408, "the body took too long") from None
        return b"".join(chunks)

    # Routes.

    async def post_article(self, request: Request) -> Response:
        number = self._token(request)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise Refused(415, "send application/json")
        body = await self._body(request)
        try:
            submission = Submission.model_validate(json.loads(body))
        except (ValueError, UnicodeDecodeError) as exc:
            problems = (
                [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()]
                if isinstance(exc, ValidationError)
                else ["the body is not JSON"]
            )
            return JSONResponse({"error": "invalid article", "problems": problems}, 422)
        ident, new = await run_in_threadpool(submit, self.ctx, submission)
        if new:
            await run_in_threadpool(self.queue, ident)
        log.info("article %s: %s by API token %d: %s", "submitted" if new else "submitted again",
                 ident, number, submission.url or "text")  # fmt: skip
        REQUESTS.labels("articles", "202" if new else "200").inc()
        headers = {"Location": f"/v1/articles/{ident}"}
        return JSONResponse({"id": ident, "new": new}, 202 if new else 200, headers=headers)

    async def get_article(self, request: Request) -> Response:
        self._token(request)
        ident = request.path_params["ident"]
        found = (
            await run_in_threadpool(state, self.ctx, ident) if ARTICLE_ID.fullmatch(ident) else None
        )
        if found is None:
            raise Refused(404, "not found")
        REQUESTS.labels("article", "200").inc()
        return JSONResponse(found)

    async def _subscription(self, request: Request) -> Subscription:
        """The subscription of the callback requested, within its rate limit; 404 for a
        callback we never gave out."""
        callback = request.path_params["callback"]
        sub = None
        if CALLBACK_ID.fullmatch(callback):
            sub = await run_in_threadpool(websub.callback_subscription, self.ctx, callback)
        if sub is None:
            self._client_limit(request)
            raise Refused(404, "not found")
        wait = self.by_callback.take(callback)
        if wait:
            raise Refused(429, "too many requests", {"Retry-After": retry_after(wait)})
        return sub

    async def websub_verify(self, request: Request) -> Response:
        """A hub verifies our intent (or denies us): the challenge echoed, only for what we
        asked."""
        sub = await self._subscription(request)
        params = dict(request.query_params)
        challenge = await run_in_threadpool(websub.verify, self.ctx, sub, params)
        if challenge is None:
            raise Refused(404, "not found")
        REQUESTS.labels("websub", "200").inc()
        return Response(challenge, 200, media_type="text/plain")

    async def websub_push(self, request: Request) -> Response:
        """A hub distributes content: taken with a valid signature only, its entries queued as
        a poll's are; the answer comes before any article is fetched."""
        sub = await self._subscription(request)
        body = await self._body(request)
        try:
            websub.check_signature(sub, body, request.headers.get("x-hub-signature", ""))
        except SignatureRefused as exc:
            metrics.PUSH_EVENTS.labels("refused").inc()
            log.warning("WebSub push for %s refused: %s", sub.feed, exc.reason)
            raise Refused(403, "a valid X-Hub-Signature is needed") from None
        content_type = request.headers.get("content-type", "")
        try:
            queued = await run_in_threadpool(websub.take_push, self.ctx, sub, body, content_type)
        except FeedParseError as exc:
            log.warning("WebSub push for %s is not a feed: %s", sub.feed, exc.reason)
            raise Refused(400, "the body is not a feed") from None
        for ident in queued:
            await run_in_threadpool(self.queue, ident)
        REQUESTS.labels("websub", "202").inc()
        return Response(status_code=202)

    # The rule workbench (monitor.receiver.workbench): read-only, behind the API's tokens.

    async def current_rules(self, request: Request) -> Response:
        self._token(request)
        path = self.ctx.rules_source.path
        text = await run_in_threadpool(path.read_text, encoding="utf-8")
        return JSONResponse({"path": str(path), "text": text})

    async def preview_rules(self, request: Request) -> Response:
        self._token(request)
        body = await self._body(request)
        try:
            asked = json.loads(body)
            text, days = str(asked["rules"]), float(asked.get("days", 3))
        except (ValueError, KeyError, TypeError):
            raise Refused(422, 'send {"rules": "<a rules file>", "days": 3}') from None
        days = min(max(days, 0.01), self.ctx.settings.archive_days or 1)
        found = await run_in_threadpool(workbench.preview, self.ctx, text, days)
        REQUESTS.labels("rules", "200").inc()
        return JSONResponse(found)

    async def workbench_page(self, request: Request) -> Response:
        self._client_limit(request)
        return Response(workbench.page("workbench.html"), media_type="text/html",
                        headers=PAGE_HEADERS)  # fmt: skip

    async def workbench_script(self, request: Request) -> Response:
        self._client_limit(request)
        return Response(workbench.page("workbench.js"), media_type="text/javascript",
                        headers=PAGE_HEADERS)  # fmt: skip

    async def openapi(self, request: Request) -> Response:
        self._client_limit(request)
        return JSONResponse(openapi_document())

    async def health(self, request: Request) -> Response:
        try:
            await run_in_threadpool(self.ctx.store.ping)
        except Exception as exc:  # any failure of the store is what this reports
            log.warning("health: the store cannot be reached: %s", exc)
            return _error(503, "the store cannot be reached")
        return JSONResponse({"status": "ok"})

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type="text/plain; version=0.0.4")

    # Errors.

    async def _refused(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)  # noqa: S101  (registered for Refused)
        REQUESTS.labels(_route(request), str(exc.status)).inc()
        return _error(exc.status, exc.phrase, exc.headers)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # noqa: S101  (registered for HTTPException)
        phrase = {404: "not found", 405: "method not allowed"}.get(exc.status_code, "refused")
        REQUESTS.labels(_route(request), str(exc.status_code)).inc()
        return _error(exc.status_code, phrase, dict(exc.headers or {}))

    async def _crashed(self, request: Request, exc: Exception) -> Response:
        log.error("receiver: %s %s failed: %s", request.method, request.url.path,
                  type(exc).__name__, exc_info=exc)  # fmt: skip
        REQUESTS.labels(_route(request), "500").inc()
        return _error(500, "internal error")


def _route(request: Request) -> str:
    path = request.url.path
    if path.startswith("/websub/"):
        return "websub"
    return "articles" if path.startswith("/v1/articles") else "other"


class HeaderCap:
    """431 for a request whose headers pass ``limit`` bytes in all. The server caps headers
    that arrive slowly, in pieces; this caps those that come in one piece."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > self.limit:
                REQUESTS.labels("other", "431").inc()
                await _error(431, "the headers are too large")(scope, receive, send)
                return
        await self.app(scope, receive, send)


def make_app(ctx: Context, queue: Callable[[str], None]) -> ASGIApp:
    """The receiver on ``ctx``; ``queue`` queues a submitted article for processing."""
    return HeaderCap(Receiver(ctx, queue).app(), MAX_HEADER_BYTES)
