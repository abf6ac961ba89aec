"""Prove the loopback test servers of tests/support (servers, redis_server, mail) work for real."""

from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage

import apprise
import pytest
import redis
import urllib3
from urllib3.exceptions import ReadTimeoutError

from tests.support.mail import SmtpSink, text_parts
from tests.support.redis_server import RedisServer
from tests.support.servers import SiteServer, WebhookSink


def test_redis_set_get_and_flush(redis_server: RedisServer, redis_url: str) -> None:
    """The private Redis answers SET/GET, is not the shared one, and flush empties it."""
    assert redis_server.port != 6379
    assert redis_url == f"redis://127.0.0.1:{redis_server.port}/0"
    with redis.Redis.from_url(redis_url) as conn:
        conn.set("greeting", "سلام")
        assert conn.get("greeting") == "سلام".encode()
        redis_server.flush()
        assert conn.dbsize() == 0


def test_redis_url_fixture_starts_empty(redis_url: str) -> None:
    """Each test sees an empty database."""
    with redis.Redis.from_url(redis_url) as conn:
        assert conn.dbsize() == 0


def test_redis_restart_keeps_port_and_aof_data() -> None:
    """With appendonly, data survives a restart on the same port."""
    with RedisServer(appendonly=True) as server:
        port = server.port
        with redis.Redis.from_url(server.url) as conn:
            conn.set("kept", "1")
        server.restart()
        assert server.port == port
        assert server.running
        with redis.Redis.from_url(server.url) as conn:
            assert conn.get("kept") == b"1"
    assert not server.running


def test_site_serves_routes_and_counts_hits(site: SiteServer) -> None:
    """Routes serve their body, status and headers; unknown paths 404; hits count GETs."""
    site.route("/news", "<h1>Ünïcode</h1>", headers={"ETag": '"v1"'})
    site.route("/feed.xml", b"<rss/>", content_type="application/rss+xml")
    with urllib3.PoolManager(retries=False) as client:
        page = client.request("GET", site.url("/news"))
        assert page.status == 200
        assert page.data.decode() == "<h1>Ünïcode</h1>"
        assert page.headers["etag"] == '"v1"'
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert client.request("GET", site.url("/news?page=2")).status == 200
        head = client.request("HEAD", site.url("/feed.xml"))
        assert head.status == 200
        assert head.data == b""
        assert head.headers["content-type"] == "application/rss+xml"
        assert client.request("GET", site.url("/missing")).status == 404
        site.remove("/news")
        assert client.request("GET", site.url("/news")).status == 404
    assert site.hits("/news") == 3
    assert site.hits("/feed.xml") == 0  # HEAD is not a hit
    assert [(m, p) for m, p, _ in site.requests][:3] == [
        ("GET", "/news"),
        ("GET", "/news?page=2"),
        ("HEAD", "/feed.xml"),
    ]
    assert "user-agent" in {k.lower() for k in site.requests[0][2]}


def test_site_status_and_delay(site: SiteServer) -> None:
    """Routes can answer any status, and can be slow."""
    site.route("/gone", "bye", status=410)
    site.route("/slow", "late", delay=0.3)
    with urllib3.PoolManager(retries=False) as client:
        assert client.request("GET", site.url("/gone")).status == 410
        started = time.monotonic()
        assert client.request("GET", site.url("/slow")).data == b"late"
        assert time.monotonic() - started >= 0.3
        with pytest.raises(ReadTimeoutError):
            client.request("GET", site.url("/slow"), timeout=0.05)


def test_webhook_records_posts_and_fails_on_demand(webhook: WebhookSink) -> None:
    """POSTs are recorded with parsed JSON; fail_next and down answer errors instead."""
    with urllib3.PoolManager(retries=False) as client:
        assert client.request("POST", webhook.url("/a"), json={"n": 1}).status == 200
        webhook.fail_next(2, status=502)
        assert client.request("POST", webhook.url("/a"), json={"n": 2}).status == 502
        assert client.request("POST", webhook.url("/a"), body=b"raw").status == 502
        assert client.request("POST", webhook.url("/b"), body=b"not json").status == 200
        webhook.down = True
        assert client.request("POST", webhook.url("/a"), json={"n": 3}).status == 503
        assert client.request("GET", webhook.url("/a")).status == 503
        webhook.down = False
        assert client.request("POST", webhook.url("/a"), json={"n": 4}).status == 200
    got = webhook.wait_for(3, timeout=1)
    assert [(r["path"], r["json"]) for r in got] == [
        ("/a", {"n": 1}),
        ("/b", None),
        ("/a", {"n": 4}),
    ]
    assert got[1]["body"] == b"not json"
    assert [f["status"] for f in webhook.failed] == [502, 502, 503]
    with pytest.raises(AssertionError, match="3 of 4"):
        webhook.wait_for(4, timeout=0.05)


def test_smtp_receives_smtplib_message(smtp: SmtpSink) -> None:
    """A multipart message sent with smtplib arrives parsed, with its envelope."""
    msg = EmailMessage()
    msg["From"] = "alerts@example.org"
    msg["To"] = "desk@example.org"
    msg["Subject"] = "Тест: €5m deal"
    msg.set_content("plain body — ok")
    msg.add_alternative("<p>html body</p>", subtype="html")
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=5) as client:
        client.send_message(msg)
    (got,) = smtp.wait_for(1, timeout=5)
    assert got["Subject"] == "Тест: €5m deal"
    plain, html = text_parts(got)
    assert plain.strip() == "plain body — ok"
    assert html is not None
    assert html.strip() == "<p>html body</p>"
    assert smtp.envelopes[0].mail_from == "alerts@example.org"
    assert smtp.envelopes[0].rcpt_tos == ["desk@example.org"]


# apprise's e-mail plugin imports the deprecated stdlib imghdr on first use (Python 3.11)
@pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")
def test_apprise_reaches_both_sinks(webhook: WebhookSink, smtp: SmtpSink) -> None:
    """apprise delivers one notification to the JSON webhook and to the mail sink."""
    notifier = apprise.Apprise()
    assert notifier.add(webhook.apprise_url("/alerts"))
    assert notifier.add(smtp.apprise_url(to="desk@example.org"))
    result = notifier.notify(title="Acme fined", body="Acme Corp fined $2bn")
    assert bool(result)
    (post,) = webhook.wait_for(1, timeout=5)
    assert post["path"] == "/alerts"
    assert post["json"]["title"] == "Acme fined"
    assert post["json"]["message"] == "Acme Corp fined $2bn"
    (mail,) = smtp.wait_for(1, timeout=5)
    assert mail["Subject"] == "Acme fined"
    assert smtp.envelopes[0].rcpt_tos == ["desk@example.org"]
    plain, html = text_parts(mail)
    assert "Acme Corp fined $2bn" in (plain + (html or ""))
