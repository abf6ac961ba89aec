"""Delivery as the analyst sees it: one message per (rule, article, target) through failures,
redelivery and duplicate feeds; a dead letter that `monitor alerts retry` sends again; and no
secret in any log line, stored error or command output."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest

from monitor.alerts.delivery import deliver_alert
from monitor.context import Context
from monitor.ingest.polling import poll_feed
from monitor.pipeline import process_article, run_cycle
from monitor.settings import Settings
from tests.support.alerting import (
    RULES_FIRED,
    rules_yaml,
    run_monitor,
    serve_articles,
    settings_for,
)
from tests.support.mail import SmtpSink, text_parts
from tests.support.servers import SiteServer, WebhookSink, free_port


@pytest.fixture(params=["redis", "embedded"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_context(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    contexts: Callable[[Settings, str], Context],
) -> Callable[..., Context]:
    """A context on a rules text, on the test's backend, with settings changed as asked."""
    redis_url = request.getfixturevalue("redis_url") if backend == "redis" else None
    return lambda text, **settings: contexts(
        settings_for(backend, tmp_path, redis_url, **settings), text
    )


def env_of(ctx: Context, tmp_path: Path) -> dict[str, str]:
    env = {
        "MONITOR_STATE_DIR": str(ctx.settings.state_dir),
        "MONITOR_RULES": str(tmp_path / "rules.yaml"),
    }
    if ctx.settings.redis_url:
        env["REDIS_URL"] = ctx.settings.redis_url
    return env


def per_rule(titles: list[str]) -> Counter[str]:
    return Counter(t.split("]")[0].strip("[") for t in titles)


def test_a_target_down_for_a_while_gets_everything_once_and_the_other_is_not_resent(
    make_context, site: SiteServer, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    serve_articles(site, 2)
    ctx = make_context(
        rules_yaml([site.url("/feed.xml")], [smtp.apprise_url(), webhook.apprise_url()]),
        delivery_attempts=4,
        delivery_backoff=0.01,
    )
    webhook.fail_next(3)  # the webhook refuses its first three deliveries, then comes back

    report = run_cycle(ctx)

    assert report.alerts == {"sent": 8}  # 2 articles × 2 rules × 2 targets
    assert len(webhook.failed) == 3
    assert per_rule([str(m["Subject"]) for m in smtp.messages]) == {r: 2 for r in RULES_FIRED}
    assert per_rule([p["json"]["title"] for p in webhook.received]) == {r: 2 for r in RULES_FIRED}
    assert run_cycle(ctx).alerts == {}
    assert (len(smtp.messages), len(webhook.received)) == (4, 4)


def test_every_attempt_at_an_alert_carries_the_same_idempotency_key(
    make_context, site: SiteServer, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    serve_articles(site, 1)
    ctx = make_context(
        rules_yaml([site.url("/feed.xml")], [smtp.apprise_url(), webhook.apprise_url()]),
        delivery_attempts=3,
        delivery_backoff=0.01,
    )
    webhook.fail_next(2)

    assert run_cycle(ctx).alerts == {"sent": 4}

    alerts = {k.removeprefix("alert:"): ctx.store.get(k) for k in ctx.store.keys("alert:")}
    hook_ids = {i for i, a in alerts.items() if a is not None and a["target"] == 1}
    mail_ids = {i for i, a in alerts.items() if a is not None and a["target"] == 0}
    refused = [p["headers"]["Idempotency-Key"] for p in webhook.failed]
    accepted = [p["headers"]["Idempotency-Key"] for p in webhook.received]
    # Each alert's key is its id, and a refused attempt's key comes back with the retry.
    assert sorted(accepted) == sorted(hook_ids)
    assert len(refused) == 2 and set(refused) <= hook_ids
    assert sorted(str(m["Message-ID"]) for m in smtp.messages) == sorted(
        f"<{i}@127.0.0.1>" for i in mail_ids
    )
    assert all(len(m.get_all("Message-ID") or []) == 1 for m in smtp.messages)


def test_an_emails_plain_part_is_the_text_template_with_the_matched_words_marked(
    make_context, site: SiteServer, smtp: SmtpSink
) -> None:
    """Not apprise's conversion of the HTML part, which drops the marks; a rule's own text
    template is its emails' plain part too."""
    serve_articles(site, 1)
    own = "    templates: {text: 'PLAIN {{ rule }}: {{ snippet }}'}\n"
    ctx = make_context(rules_yaml([site.url("/feed.xml")], [smtp.apprise_url()], rule_extra=own))

    assert run_cycle(ctx).alerts == {"sent": 2}

    parts = {str(m["Subject"]).split("]")[0].strip("["): text_parts(m) for m in smtp.messages}
    plain, html = parts["big-money"]
    assert plain.startswith("Rule: big-money (matched: ")
    assert "⟦70 مليون يورو⟧" in plain
    assert html is not None and "<mark>70 مليون يورو</mark>" in html
    plain, html = parts["musk-putin"]
    assert plain.startswith("PLAIN musk-putin: ")
    assert "⟦ماسك⟧" in plain or "⟦إيلون ماسك⟧" in plain
    assert "⟦بوتين⟧" in plain
    assert html is not None and "<mark>" in html and "PLAIN" not in html


def test_redelivery_and_a_second_feed_with_the_same_item_send_nothing_more(
    make_context, site: SiteServer, webhook: WebhookSink
) -> None:
    links = serve_articles(site, 1, "/a.xml")
    serve_articles(site, 1, "/b.xml")  # another feed carrying the same article URL
    ctx = make_context(
        rules_yaml([site.url("/a.xml"), site.url("/b.xml")], [webhook.apprise_url()])
    )

    assert run_cycle(ctx).alerts == {"sent": 2}
    ids = [k.removeprefix("alert:") for k in ctx.store.keys("alert:")]
    assert len(ids) == 2
    # A redelivered task for each alert, and the article's processing repeated.
    assert {deliver_alert(ctx, i) for i in ids} == {"sent"}
    (entry,) = ctx.store.keys("entry:")
    assert process_article(ctx, entry.removeprefix("entry:")) == []

    assert [p["json"]["message"].count(links[0]) for p in webhook.received] == [1, 1]
    assert per_rule([p["json"]["title"] for p in webhook.received]) == {r: 1 for r in RULES_FIRED}


def test_a_target_down_for_good_is_dead_lettered_and_retry_sends_it(
    make_context, site: SiteServer, webhook: WebhookSink, tmp_path: Path
) -> None:
    serve_articles(site, 1)
    ctx = make_context(
        rules_yaml([site.url("/feed.xml")], [webhook.apprise_url()]),
        delivery_attempts=2,
        delivery_backoff=0.01,
    )
    webhook.down = True
    assert run_cycle(ctx).alerts == {"failed": 2}

    listing = run_monitor("alerts", env=env_of(ctx, tmp_path))
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0] == "2 failed"
    assert lines[1].split()[:2] == ["id", "status"]
    rows, errors = lines[2::2], lines[3::2]
    assert len(rows) == 2 and all(r.split()[1] == "failed" and "desk#0" in r for r in rows)
    assert len(errors) == 2 and all(e.startswith("    last error: ") for e in errors)

    webhook.down = False
    retried = run_monitor("alerts", "retry", "--all-failed", env=env_of(ctx, tmp_path))
    assert retried.returncode == 0, retried.stderr
    assert sorted(line.split(": ")[1] for line in retried.stdout.splitlines()) == ["sent", "sent"]
    assert per_rule([p["json"]["title"] for p in webhook.received]) == {r: 1 for r in RULES_FIRED}

    again = run_monitor("alerts", "retry", "--all-failed", env=env_of(ctx, tmp_path))
    assert again.returncode == 0 and again.stdout == ""
    unknown = run_monitor("alerts", "retry", "nosuchid", env=env_of(ctx, tmp_path))
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "nosuchid: not a failed alert; left as it is"
    assert len(webhook.received) == 2


def test_no_secret_reaches_a_log_line_a_stored_error_or_the_command_output(
    make_context,
    site: SiteServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    password, token = "s3cr3t-Pa55w0rd-xyz", "T0ken0123456789abcdefXYZ"
    monkeypatch.setenv("SMTP_PASSWORD", password)
    monkeypatch.setenv("HOOK_TOKEN", token)
    serve_articles(site, 1)
    closed = free_port()  # nothing listens there: every send fails
    targets = [
        f"mailtos://alerts:${{SMTP_PASSWORD}}@127.0.0.1:{closed}?to=desk@example.org",
        f"json://127.0.0.1:{closed}/hooks/${{HOOK_TOKEN}}",
    ]
    ctx = make_context(
        rules_yaml([site.url("/feed.xml")], targets), delivery_attempts=2, delivery_backoff=0.01
    )
    with caplog.at_level(logging.DEBUG):
        assert run_cycle(ctx).alerts == {"failed": 4}
    records = [ctx.store.get(k) for k in ctx.store.keys("alert:")]
    assert all(r is not None and r["last_error"] for r in records)
    env = {**env_of(ctx, tmp_path), "SMTP_PASSWORD": password, "HOOK_TOKEN": token}
    listing = run_monitor("alerts", env=env)
    retried = run_monitor("alerts", "retry", "--all-failed", env=env)
    assert retried.returncode == 1 and "failed" in retried.stdout

    shown = [
        caplog.text,
        repr(records),
        listing.stdout,
        listing.stderr,
        retried.stdout,
        retried.stderr,
    ]
    for text in shown:
        assert password not in text and token not in text
    assert "last error:" in listing.stdout


def test_a_cycle_that_finds_an_alert_leased_by_a_dead_worker_says_it_waits(
    open_contexts: Callable[..., Context],
    site: SiteServer,
    webhook: WebhookSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    links = serve_articles(site, 1)
    ctx = open_contexts(
        rules_yaml([site.url("/feed.xml")], [webhook.apprise_url()]), delivery_lease=1.5
    )
    (article,) = poll_feed(ctx, site.url("/feed.xml"))
    pending = process_article(ctx, article)
    assert pending and links
    # as a worker killed mid-send leaves it
    assert ctx.store.claim(f"sending:{pending[0]}", 1.5, {"at": "then"})
    with caplog.at_level(logging.INFO, logger="monitor"):
        report = run_cycle(ctx)
    assert report.alerts == {"sent": len(pending)}
    waits = [
        r.getMessage() for r in caplog.records if "another process is delivering" in r.getMessage()
    ]
    assert len(waits) == 1 and pending[0] in waits[0] and "at most 1.5 s" in waits[0]


def attempts_by_alert(webhook: WebhookSink) -> dict[str, list[float]]:
    """When each alert's attempts reached the webhook, by its idempotency key."""
    times: dict[str, list[float]] = {}
    for post in webhook.failed + webhook.received:
        times.setdefault(post["headers"]["Idempotency-Key"], []).append(post["at"])
    return {key: sorted(at) for key, at in times.items()}


def test_poll_once_makes_the_attempts_the_settings_say_when_it_says_it_will(
    make_context, site: SiteServer, webhook: WebhookSink, tmp_path: Path
) -> None:
    """It used to log "will retry in 20s", then try again a second later, three times in all
    whatever MONITOR_DELIVERY_ATTEMPTS said."""
    serve_articles(site, 1)
    ctx = make_context(rules_yaml([site.url("/feed.xml")], [webhook.apprise_url()]))
    webhook.down = True
    env = env_of(ctx, tmp_path) | {
        "MONITOR_DELIVERY_ATTEMPTS": "4",
        "MONITOR_DELIVERY_BACKOFF": "0.4",
        "MONITOR_LOG_JSON": "true",
    }
    done = run_monitor("poll", "--once", env=env)
    assert done.returncode == 1
    assert done.stdout.strip().endswith("alerts: 2 failed")
    said = [json.loads(line)["message"] for line in done.stderr.splitlines() if line[:1] == "{"]
    promised = [float(m) for m in re.findall(r"next attempt due in ([0-9.]+)s", "\n".join(said))]
    times = attempts_by_alert(webhook)
    assert [len(at) for at in times.values()] == [4, 4]
    assert len(promised) == 6  # three waits per alert; the fourth attempt was the last
    gaps = sorted(later - earlier for at in times.values() for earlier, later in pairwise(at))
    # Each wait is at least what the log promised (0.2 to 3.2 s here), give or take rounding.
    assert all(gap >= wait - 0.06 for gap, wait in zip(gaps, sorted(promised), strict=True))
    assert sum("of 4: " in m for m in said) == 8


def test_poll_once_leaves_an_alert_not_yet_due_for_a_later_run(
    make_context, site: SiteServer, webhook: WebhookSink, tmp_path: Path
) -> None:
    serve_articles(site, 1)
    ctx = make_context(rules_yaml([site.url("/feed.xml")], [webhook.apprise_url()]))
    webhook.down = True
    # Long enough for the second run to start well before the alerts are due, on a busy machine.
    env = env_of(ctx, tmp_path) | {"MONITOR_DELIVERY_BACKOFF": "8"}
    first = run_monitor("poll", "--once", "--wait", "0", env=env)
    assert first.returncode == 1 and first.stdout.strip().endswith("alerts: 2 pending")
    assert "left pending: its next attempt is due at " in first.stderr
    again = run_monitor("poll", "--once", "--wait", "0", env=env)  # not due yet: not tried
    assert again.returncode == 1 and again.stdout.strip().endswith("alerts: 2 pending")
    assert len(webhook.failed) == 2
    webhook.down = False
    done = run_monitor("poll", "--once", "--wait", "12", env=env)  # waits until they are due
    assert done.returncode == 0 and done.stdout.strip().endswith("alerts: 2 sent")
    assert len(webhook.received) == 2
