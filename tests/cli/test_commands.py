"""The ``monitor`` command as a user runs it: check, rules validate, poll --once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.servers import pdf, png
from tests.support.feeds import rss
from tests.support.files import ROOT, SEED
from tests.support.mail import SmtpSink
from tests.support.servers import SiteServer, free_port
from tests.support.worker import CeleryWorker

RULES = """
entities:
  musk: ["Elon Musk", "Musk", "إيلون ماسك", "ماسك"]
  putin: ["Vladimir Putin", "Putin", "بوتين"]
  trump: ["Donald Trump", "Trump", "ترامب"]
  starlink: ["Starlink", "ستارلينك"]
channels:
  desk: ["json://127.0.0.1:9/never"]
rules:
  - name: musk-putin
    entities: {all: [musk, putin]}
    notify: [desk]
  - name: campaign-money
    entities: {any: [musk]}
    keywords: {any: ["campaign", "حملة"]}
    money: {min: 50000000, currency: EUR}
    notify: [desk]
"""


def monitor(
    *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "REDIS_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=ROOT,
        env=full_env,
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_json_on_the_seed_page(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    result = monitor("check", "--rules", str(rules), "--json", str(SEED))
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.strip().splitlines()
    report = json.loads(line)
    assert report["source"] == str(SEED)
    assert report["language"] == "ar"
    assert "ماسك تحدث بانتظام مع بوتين" in report["title"]
    text = report["text"]
    assert "زر الذهاب إلى الأعلى" not in text and "مقالات ذات صلة" not in text  # boilerplate gone
    amounts = [(a["value"], a["currency"], text[a["start"] : a["end"]]) for a in report["amounts"]]
    assert amounts == [(40_000_000, "EUR", "40 مليون يورو"), (70_000_000, "EUR", "70 مليون يورو")]
    assert set(report["entities"]) == {"musk", "putin", "trump", "starlink"}
    for name, hits in report["entities"].items():
        for hit in hits:
            assert hit["alias"] in text[hit["start"] : hit["end"]] or name == "musk", hit
    forms = {text[h["start"] : h["end"]] for h in report["entities"]["trump"]}
    assert "لترامب" in forms
    fired = {f["rule"]: f["evidence"] for f in report["fired"]}
    assert set(fired) == {"musk-putin", "campaign-money"}
    assert any(text[e["start"] : e["end"]] == "70 مليون يورو" for e in fired["campaign-money"])


def test_check_reads_stdin_and_prints_a_readable_report(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    result = monitor("check", "--rules", str(rules), "-", stdin=SEED.read_bytes())
    assert result.returncode == 0, result.stderr
    assert "fired:     musk-putin" in result.stdout
    assert "70 مليون يورو" in result.stdout


def test_rules_validate(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(RULES, encoding="utf-8")
    ok = monitor("rules", "validate", str(good))
    assert ok.returncode == 0 and "ok" in ok.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text(RULES.replace("all: [musk, putin]", "all: [musk, putn]"), encoding="utf-8")
    refused = monitor("rules", "validate", str(bad))
    assert refused.returncode == 1
    assert (
        refused.stderr.strip()
        == f"{bad}:11:28: unknown entity 'putn' in rule 'musk-putin'; did you mean 'putin'?"
    )


def rules_with_feeds(
    tmp_path: Path, feeds: list[str], target: str = "json://127.0.0.1:9/never", every: str = "5m"
) -> Path:
    """RULES with these feeds and channel target, written to tmp_path/rules.yaml."""
    listed = "".join(f"  - url: {url}\n    every: {every}\n" for url in feeds)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        RULES.replace("json://127.0.0.1:9/never", target).replace(
            "entities:", f"feeds:\n{listed}entities:", 1
        ),
        encoding="utf-8",
    )
    return rules


def seed_feed(site: SiteServer) -> str:
    """A feed on the test site whose one item is the seed article."""
    article = site.route("/a.html", SEED.read_bytes())
    return site.route(
        "/feed.xml", rss([{"title": "t", "link": article}]), content_type="application/rss+xml"
    )


def test_poll_once_delivers_then_sends_nothing_more(
    tmp_path: Path, site: SiteServer, smtp: SmtpSink
) -> None:
    rules = rules_with_feeds(tmp_path, [seed_feed(site)], smtp.apprise_url())
    env = {
        "MONITOR_RULES": str(rules),
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_ALLOW_PRIVATE_NETWORKS": "1",  # the test site is on loopback
    }
    first = monitor("poll", "--once", env=env)
    assert first.returncode == 0, first.stderr
    assert "1 new article, alerts: 2 sent" in first.stdout
    assert len(smtp.messages) == 2
    second = monitor("poll", "--once", env=env)
    assert "0 new articles, alerts: none" in second.stdout
    assert len(smtp.messages) == 2


def test_run_is_worker_and_scheduler_in_one_command(
    tmp_path: Path, site: SiteServer, smtp: SmtpSink
) -> None:
    rules = rules_with_feeds(tmp_path, [seed_feed(site)], smtp.apprise_url(), every="1s")
    env = {
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_BEAT_INTERVAL": "0.5",
        "MONITOR_ALLOW_PRIVATE_NETWORKS": "1",  # the test site is on loopback
    }
    command = [sys.executable, "-m", "monitor", "run", "--rules", str(rules), "--concurrency", "1"]
    with CeleryWorker(env, tmp_path / "run.log", command=command):
        smtp.wait_for(2, timeout=60)
    assert sorted(str(m["Subject"]).split("]")[0] for m in smtp.messages) == [
        "[campaign-money",
        "[musk-putin",
    ]


def test_feeds_shows_each_feeds_health(tmp_path: Path, site: SiteServer) -> None:
    good = site.route(
        "/feed.xml",
        rss([{"title": "t", "link": site.url("/a.html")}]),
        content_type="application/rss+xml",
    )
    broken = site.route("/broken.xml", "down", status=503)
    rules = rules_with_feeds(tmp_path, [good, broken])
    env = {
        "MONITOR_RULES": str(rules),
        "MONITOR_STATE_DIR": str(tmp_path / "state"),
        "MONITOR_ALLOW_PRIVATE_NETWORKS": "1",  # the test site is on loopback
    }
    monitor("poll", "--once", env=env)
    table = monitor("feeds", env=env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "2 feeds: 1 ok, 1 error; 1 failing"
    assert lines[1].split() == [
        "feed",
        "status",
        "errors",
        "last",
        "success",
        "next",
        "poll",
        "items",
        "push",
    ]
    good_row = next(line for line in lines if line.startswith(good + " "))
    broken_row = next(line for line in lines if line.startswith(broken + " "))
    assert good_row.split()[1:3] == ["ok", "0"]
    assert broken_row.split()[1:3] == ["error", "1"]
    error_line = lines[lines.index(broken_row) + 1]  # the error on its own line under its feed
    assert error_line.startswith("    last error: ") and "503" in error_line
    records = [json.loads(line) for line in monitor("feeds", "--json", env=env).stdout.splitlines()]
    assert {r["url"]: r["consecutive_errors"] for r in records} == {good: 0, broken: 1}


def test_check_reads_no_more_than_the_cap_from_an_endless_file_or_stdin(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "REDIS_"))} | {
        "MONITOR_MAX_BYTES": "100000"
    }
    with Path("/dev/zero").open("rb") as endless:
        piped = subprocess.run(
            [sys.executable, "-m", "monitor", "check", "--rules", str(rules), "-"],
            cwd=ROOT, env=env, stdin=endless, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    from_file = monitor("check", "--rules", str(rules), "/dev/zero", env=env)
    for done, source in ((piped, "-"), (from_file, "/dev/zero")):
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.strip() == (
            f"{source}: more than 100,000 bytes (MONITOR_MAX_BYTES); nothing was checked"
        )


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("REDIS_URL", "notaurl", "REDIS_URL='notaurl': expected a Redis URL such as redis://"),
        ("REDIS_URL", "redis:/x:hunter2@h", "REDIS_URL='redis:/x:***@h': expected a Redis URL"),
        (
            "MONITOR_TIMEZONE",
            "Mars/Olympus",
            "MONITOR_TIMEZONE='Mars/Olympus': expected an IANA time zone",
        ),
        ("MONITOR_TOTAL_TIMEOUT", "soon", "MONITOR_TOTAL_TIMEOUT='soon': expected a number"),
        (
            "MONITOR_NEAR_DUPLICATE_DISTANCE",
            "40",
            "MONITOR_NEAR_DUPLICATE_DISTANCE='40': expected a number at most 11",
        ),
    ],
)
@pytest.mark.parametrize("command", [["health"], ["poll", "--once"], ["check", "-"], ["feeds"]])
def test_a_bad_setting_is_one_line_naming_it_in_every_command(
    tmp_path: Path, variable: str, value: str, said: str, command: list[str]
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    done = monitor(
        *command,
        env={variable: value, "MONITOR_RULES": str(rules), "MONITOR_STATE_DIR": str(tmp_path)},
        stdin=b"Musk",
    )
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(said), done.stderr
    assert "hunter2" not in done.stderr


def test_poll_once_exits_1_when_a_feed_or_an_alert_failed(
    tmp_path: Path, site: SiteServer, smtp: SmtpSink
) -> None:
    """It used to exit 0 when every feed or every alert failed."""
    env = {"MONITOR_STATE_DIR": str(tmp_path / "state"), "MONITOR_ALLOW_PRIVATE_NETWORKS": "1"}
    broken = site.route("/broken.xml", "down", status=503)
    feed_failed = monitor(
        "poll", "--once", env={**env, "MONITOR_RULES": str(rules_with_feeds(tmp_path, [broken]))}
    )
    assert feed_failed.returncode == 1 and "1 feed polled (1 failed)" in feed_failed.stdout
    refused = f"json://127.0.0.1:{free_port()}/closed"  # nothing listens there
    rules = rules_with_feeds(tmp_path, [seed_feed(site)], refused)
    alert_failed = monitor(
        "poll", "--once", env={**env, "MONITOR_RULES": str(rules), "MONITOR_DELIVERY_ATTEMPTS": "1"}
    )
    assert alert_failed.returncode == 1 and "alerts: 2 failed" in alert_failed.stdout


def test_feeds_and_alerts_refuse_a_rules_file_they_cannot_read(
    tmp_path: Path, site: SiteServer
) -> None:
    """Once the store held rules, a mistyped --rules quietly used those and exited 0."""
    env = {"MONITOR_STATE_DIR": str(tmp_path / "state"), "MONITOR_ALLOW_PRIVATE_NETWORKS": "1"}
    rules = rules_with_feeds(tmp_path, [seed_feed(site)])
    assert monitor("feeds", "--rules", str(rules), env=env).returncode == 0  # the store has them
    for command in ("feeds", "alerts"):
        done = monitor(command, "--rules", str(tmp_path / "rulez.yaml"), env=env)
        assert done.returncode == 1
        assert (
            done.stderr.strip()
            == f"{tmp_path / 'rulez.yaml'}:1:1: cannot read the file: No such file or directory"
        )


def test_check_matches_plain_text_and_refuses_what_is_neither_text_nor_a_page(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    pasted = "قال إيلون ماسك إنه تحدث مع بوتين مرارا.\nThe second line."
    typed = monitor("check", "--rules", str(rules), "-", stdin=pasted.encode())
    assert typed.returncode == 0, typed.stderr
    assert "fired:     musk-putin" in typed.stdout and "feed's summary" not in typed.stderr
    note = tmp_path / "note.txt"
    note.write_text("<b>Musk</b> met Putin", encoding="utf-8")  # markup, but a .txt says text
    as_text = json.loads(monitor("check", "--rules", str(rules), "--json", str(note)).stdout)
    assert (
        as_text["text"] == "<b>Musk</b> met Putin" and as_text["fired"][0]["rule"] == "musk-putin"
    )
    image = tmp_path / "photo.png"
    image.write_bytes(png(4, 4))
    document = tmp_path / "report.pdf"
    document.write_bytes(pdf("Musk met Putin"))
    refused = monitor("check", "--rules", str(rules), str(image), str(document))
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.splitlines() == [
        f"{image}: a PNG image, not a web page or text; nothing was checked",
        f"{document}: a PDF, not a web page or text; nothing was checked",
    ]


def test_check_reads_urls_whatever_their_case_and_hints_at_a_missing_scheme(
    tmp_path: Path, site: SiteServer
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    page = site.route("/a.html", SEED.read_bytes()).replace("http://", "HTTP://")
    shouted = monitor(
        "check", "--rules", str(rules), page, env={"MONITOR_ALLOW_PRIVATE_NETWORKS": "1"}
    )
    assert shouted.returncode == 0, shouted.stderr
    assert "fired:     musk-putin" in shouted.stdout
    refused = monitor("check", "--rules", str(rules), page)  # loopback, not allowed
    (line,) = refused.stderr.strip().splitlines()
    assert line.count(site.url("/a.html")[7:]) == 1, line  # the URL once, not "URL: URL: ..."
    assert line.endswith("or set MONITOR_ALLOW_PRIVATE_NETWORKS=1)")
    bare = monitor("check", "--rules", str(rules), "example.org/news/1")
    assert bare.returncode == 1
    assert (
        bare.stderr.strip()
        == "example.org/news/1: no such file; for a web page, write https://example.org/news/1"
    )
