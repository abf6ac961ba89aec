"""The receiver (``monitor serve``) as deployed, a subprocess on loopback: the ingest API end to
end through the real worker, its OpenAPI description, and every bound a server facing the
internet needs (tokens, rate limits, body cap, slow bodies, header size, unknown paths, error
bodies without detail, no secret in the log)."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.support.files import SEED
from tests.support.receiver import ReceiverProcess
from tests.support.servers import SiteServer, WebhookSink
from tests.support.worker import CeleryWorker

TOKEN = "s3cret-token-for-the-cms"  # noqa: S105  (a test's own token)
OTHER = "another-token-for-a-scraper"
RULES = """
entities:
  musk: ["Elon Musk", "Musk", "إيلون ماسك", "ماسك"]
  putin: ["Vladimir Putin", "Putin", "بوتين"]
channels:
  desk: [{hook}]
rules:
  - name: musk-putin
    entities: {{all: [musk, putin]}}
    notify: [desk]
  - name: big-money
    money: {{min: 50000000, currency: EUR}}
    notify: [desk]
"""
WORKER = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--queues", "extract,deliver",
          "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
          "--without-heartbeat"]  # fmt: skip


@pytest.fixture
def environment(tmp_path: Path, redis_url: str, webhook: WebhookSink) -> dict[str, str]:
    """What the receiver and the workers share: the store, the rules, the tokens."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.format(hook=json.dumps(webhook.apprise_url())), encoding="utf-8")
    return {
        "REDIS_URL": redis_url,
        "MONITOR_RULES": str(rules),
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_API_TOKENS": f"{TOKEN}, {OTHER}",
    }


@pytest.fixture
def start(environment: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., ReceiverProcess]]:
    """Starts a receiver with the shared environment and more settings; stops them all."""
    started: list[ReceiverProcess] = []

    def run(**settings: str) -> ReceiverProcess:
        log = tmp_path / f"receiver-{len(started)}.log"
        process = ReceiverProcess({**environment, **settings}, log)
        started.append(process)
        process.wait_ready()
        return process

    yield run
    for process in started:
        process.stop()


@pytest.fixture
def receiver(start: Callable[..., ReceiverProcess]) -> ReceiverProcess:
    return start()


def wait_done(receiver: ReceiverProcess, ident: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = receiver.call("GET", f"/v1/articles/{ident}", token=TOKEN)
        assert answer.status == 200, answer.data
        found: dict[str, Any] = answer.json()
        if found["state"] == "done":
            return found
        time.sleep(0.2)
    raise AssertionError(f"article {ident} not processed in {timeout}s:\n{receiver.log()}")


# ------------------------------------------------------------------ the API, end to end


def test_a_carried_page_is_processed_by_the_worker_and_alerts_once(
    receiver: ReceiverProcess, environment: dict[str, str], tmp_path: Path, webhook: WebhookSink
) -> None:
    page = {"url": "https://news.example/ar/musk-putin.html", "html": SEED.read_text("utf-8")}
    answer = receiver.call("POST", "/v1/articles", token=TOKEN, body=page)
    assert answer.status == 202, answer.data
    ident = answer.json()["id"]
    assert answer.headers["Location"] == f"/v1/articles/{ident}"
    queued = receiver.call("GET", f"/v1/articles/{ident}", token=OTHER).json()
    assert queued["state"] == "queued" and queued["url"] == page["url"]

    with CeleryWorker(environment, tmp_path / "worker.log", command=WORKER):
        found = wait_done(receiver, ident)
        webhook.wait_for(2, timeout=60)
        again = receiver.call("POST", "/v1/articles", token=TOKEN, body=page)
        time.sleep(1.0)  # time for a second alert, were one wrongly sent

    assert again.status == 200 and again.json() == {"id": ident, "new": False}
    assert {f["rule"] for f in found["fired"]} == {"musk-putin", "big-money"}
    assert {"musk", "putin"} <= set(found["entities"])
    assert any(a["currency"] == "EUR" and a["value"] == 70_000_000 for a in found["amounts"])
    evidence = next(f for f in found["fired"] if f["rule"] == "musk-putin")["evidence"]
    assert all(found["text"][e["start"] : e["end"]] for e in evidence)
    assert found["language"] == "ar"
    assert len(webhook.received) == 2  # one alert per rule, none for the second submission


def test_the_receiver_runs_on_the_embedded_default_too(
    environment: dict[str, str], tmp_path: Path, webhook: WebhookSink
) -> None:
    embedded = {k: v for k, v in environment.items() if k != "REDIS_URL"}
    receiver = ReceiverProcess(embedded, tmp_path / "receiver.log")
    try:
        receiver.wait_ready()
        text = {
            "text": "قال إيلون ماسك إنه تحدث مع فلاديمير بوتين.",
            "title": "خبر",
            "language": "ar",
        }
        answer = receiver.call("POST", "/v1/articles", token=TOKEN, body=text)
        assert answer.status == 202, answer.data
        ident = answer.json()["id"]
        with CeleryWorker(embedded, tmp_path / "worker.log", command=WORKER):
            found = wait_done(receiver, ident)
            webhook.wait_for(1, timeout=60)
    finally:
        receiver.stop()
    assert [f["rule"] for f in found["fired"]] == ["musk-putin"]
    assert (tmp_path / "state" / "queue").is_dir()  # the embedded broker's files: no server


def test_a_named_page_is_fetched_and_text_is_taken_as_given(
    receiver: ReceiverProcess,
    environment: dict[str, str],
    tmp_path: Path,
    site: SiteServer,
    webhook: WebhookSink,
) -> None:
    url = site.route("/news/musk.html", SEED.read_bytes())
    by_url = receiver.call("POST", "/v1/articles", token=TOKEN, body={"url": url})
    text = "Elon Musk met Vladimir Putin, a partner said. No sum was named."
    by_text = receiver.call(
        "POST",
        "/v1/articles",
        token=TOKEN,
        body={"text": text, "title": "A meeting", "language": "en", "source": "partner"},
    )
    assert (by_url.status, by_text.status) == (202, 202)
    with CeleryWorker(environment, tmp_path / "worker.log", command=WORKER):
        fetched = wait_done(receiver, by_url.json()["id"])
        given = wait_done(receiver, by_text.json()["id"])
    assert site.hits("/news/musk.html") == 1
    assert {f["rule"] for f in fetched["fired"]} == {"musk-putin", "big-money"}
    assert given["title"] == "A meeting" and given["language"] == "en"
    assert given["text"] == text and [f["rule"] for f in given["fired"]] == ["musk-putin"]
    assert given["amounts"] == []


# ------------------------------------------------------------------ description, health


def test_the_openapi_description_is_valid_and_describes_the_api(
    receiver: ReceiverProcess,
) -> None:
    answer = receiver.call("GET", "/openapi.json")
    assert answer.status == 200
    document = answer.json()
    validate(document)  # raises on a description that breaks the OpenAPI 3.1 schema
    assert {"/v1/articles", "/v1/articles/{id}", "/websub/{callback}"} <= set(document["paths"])
    submission = document["components"]["schemas"]["Submission"]
    assert {"url", "html", "text", "title", "language", "source"} <= set(submission["properties"])


def test_health_and_metrics(receiver: ReceiverProcess) -> None:
    assert receiver.call("GET", "/healthz").json() == {"status": "ok"}
    receiver.call("GET", "/v1/articles/0123456789abcdef0123", token=TOKEN)
    metrics = receiver.call("GET", "/metrics").data.decode()
    assert 'monitor_receiver_requests_total{route="articles",status="404"} 1.0' in metrics


# ------------------------------------------------------------------ facing the internet


def test_a_request_without_a_valid_token_is_refused(receiver: ReceiverProcess) -> None:
    body = {"text": "Musk"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        answer = receiver.call("POST", "/v1/articles", body=body, headers=headers)
        assert answer.status == 401 and answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.json() == {"error": "a valid bearer token is needed"}
    assert receiver.call("GET", "/v1/articles/0123456789abcdef0123").status == 401


def test_invalid_submissions_say_why_without_echoing_them(receiver: ReceiverProcess) -> None:
    cases: list[tuple[Any, int]] = [
        (b"{not json", 422),
        ({"title": "no body"}, 422),
        ({"url": "file:///etc/passwd"}, 422),
        ({"html": "<p>x</p>"}, 422),
        ({"text": "x", "html": "<p>x</p>", "url": "https://a.example/"}, 422),
        ({"text": "x", "password": "hunter2"}, 422),
    ]
    for body, status in cases:
        answer = receiver.call("POST", "/v1/articles", token=TOKEN, body=body)
        assert answer.status == status, (body, answer.data)
        assert answer.json()["error"] == "invalid article" and answer.json()["problems"]
        assert b"hunter2" not in answer.data and b"/etc/passwd" not in answer.data
    plain = receiver.call(
        "POST", "/v1/articles", token=TOKEN, body=b"text", headers={"Content-Type": "text/plain"}
    )
    assert plain.status == 415


def test_unknown_paths_and_ids_are_404_with_no_detail(receiver: ReceiverProcess) -> None:
    for path in ("/", "/admin", "/v1/articles/../../etc", "/v1/articles/not-an-id"):
        answer = receiver.call("GET", path, token=TOKEN)
        assert answer.status == 404 and answer.json() == {"error": "not found"}, path
    missing = receiver.call("GET", "/v1/articles/0123456789abcdef0123", token=TOKEN)
    assert missing.status == 404 and missing.json() == {"error": "not found"}
    assert receiver.call("DELETE", "/v1/articles", token=TOKEN).status == 405


def test_a_body_over_the_cap_is_refused(start: Callable[..., ReceiverProcess]) -> None:
    receiver = start(MONITOR_MAX_BYTES="2000")
    big = {"text": "Musk " * 1000}
    declared = receiver.call("POST", "/v1/articles", token=TOKEN, body=big)
    assert declared.status == 413 and declared.json() == {"error": "the body is too large"}

    def chunks() -> Iterator[bytes]:  # no length declared: cut as it passes the cap
        yield json.dumps(big).encode()

    streamed = receiver.http.request(
        "POST",
        receiver.base + "/v1/articles",
        body=chunks(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        chunked=True,
    )
    assert streamed.status == 413
    small = receiver.call("POST", "/v1/articles", token=TOKEN, body={"text": "Musk"})
    assert small.status == 202


def test_a_slow_body_is_given_up_on(start: Callable[..., ReceiverProcess]) -> None:
    receiver = start(MONITOR_API_TIMEOUT="1")
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n".encode()
            + b'{"te'
        )
        started = time.monotonic()
        answer = sock.recv(4096)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert waited < 8  # the receiver's own deadline ended it, not the client's


def test_headers_past_their_cap_are_refused(receiver: ReceiverProcess) -> None:
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
        answer = sock.recv(4096)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer


def test_each_token_and_each_client_has_a_rate_limit(
    start: Callable[..., ReceiverProcess],
) -> None:
    receiver = start(MONITOR_API_RATE="3", MONITOR_API_CLIENT_RATE="600")
    path = "/v1/articles/0123456789abcdef0123"
    statuses = [receiver.call("GET", path, token=TOKEN).status for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    limited = receiver.call("GET", path, token=TOKEN)
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    assert receiver.call("GET", path, token=OTHER).status == 404  # its own budget

    by_client = start(MONITOR_API_RATE="600", MONITOR_API_CLIENT_RATE="3")
    answers = [by_client.call("GET", path).status for _ in range(3)]  # no token at all
    assert answers == [401, 401, 401]
    assert by_client.call("GET", path, token=TOKEN).status == 429


def test_no_token_reaches_the_log(
    receiver: ReceiverProcess, environment: dict[str, str], tmp_path: Path
) -> None:
    receiver.call("POST", "/v1/articles", token=TOKEN, body={"text": "Musk and Putin"})
    receiver.call("POST", "/v1/articles", token=OTHER, body={"url": "https://a.example/x"})
    receiver.call("POST", "/v1/articles", token=TOKEN, body=b"{")
    receiver.call("GET", "/v1/articles/0123456789abcdef0123", token="Bearer " + TOKEN)
    receiver.stop()
    log = receiver.log()
    assert "submitted" in log and "by API token 2" in log
    assert TOKEN not in log and OTHER not in log
