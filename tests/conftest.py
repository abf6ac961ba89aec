"""The shared fixtures of every test folder: real loopback servers (Redis, web site, webhook,
SMTP) from tests/support, and contexts opened on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.context import Context, open_context
from monitor.settings import Settings
from tests.support.mail import SmtpSink
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisServer
from tests.support.servers import SiteServer, WebhookSink


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One private redis-server for the whole session (never the shared one on 6379)."""
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One private PostgreSQL for the whole session (initdb and pg_ctl on a free port)."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A new database of the session's PostgreSQL, for this test alone."""
    return postgres_server.new_database()


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


@pytest.fixture(params=["redis", "embedded"])
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a test site on loopback, once with Redis and once on the embedded default."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return Settings(
        redis_url=redis_url,
        state_dir=tmp_path / "state",
        total_timeout=3.0,
        read_timeout=2.0,
        allow_private_networks=True,  # the test site is on loopback
    )


@pytest.fixture
def contexts(tmp_path: Path) -> Iterator[Callable[[Settings, str], Context]]:
    """Opens a context on settings and a rules file written from text; closes them all at
    the end."""
    opened: list[Context] = []

    def make(settings: Settings, rules: str) -> Context:
        path = tmp_path / "rules.yaml"
        path.write_text(rules, encoding="utf-8")
        ctx = open_context(settings, path)
        opened.append(ctx)
        return ctx

    yield make
    for ctx in opened:
        ctx.close()


@pytest.fixture
def open_contexts(
    backend_settings: Settings, contexts: Callable[[Settings, str], Context]
) -> Callable[..., Context]:
    """Opens a context on a rules file written from text, on both backends, with settings
    changed as asked."""

    def make(rules: str = "feeds: []\n", **changes: object) -> Context:
        return contexts(backend_settings.model_copy(update=changes), rules)

    return make
