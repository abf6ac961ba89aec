"""Shared fixtures: real loopback servers (Redis, web site, webhook, SMTP) from tests/servers.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import RedisServer, SiteServer, SmtpSink, WebhookSink


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One private redis-server for the whole session (never the shared one on 6379)."""
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's private Redis, emptied (FLUSHALL) before each test."""
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def site() -> Iterator[SiteServer]:
    """A fresh loopback web site whose routes the test sets."""
    server = SiteServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    """A fresh loopback webhook endpoint that records POSTs."""
    sink = WebhookSink()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A fresh loopback SMTP server that records messages."""
    sink = SmtpSink()
    try:
        yield sink
    finally:
        sink.stop()
