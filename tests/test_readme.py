"""The README's examples print what it shows.

Each ```console block of README.md is a session: lines beginning with ``$ `` are commands, the
lines after one are what it prints (standard output, then standard error less its log lines).
Unicode isolates are invisible, so the README writes the text without them. The commands run
from the checkout as a user runs them; those of the "Alerts by email" section reach the feed
and the SMTP server that section starts, here on free loopback ports instead of 8000 and 8025.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.files import ROOT
from tests.support.mail import SmtpSink
from tests.support.servers import SiteServer

README = ROOT / "README.md"
_BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)
_LOG_LINE = re.compile(r"^(\{|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")


@dataclass(frozen=True)
class Step:
    command: str
    shows: list[str]


def sessions() -> list[list[Step]]:
    found = []
    for block in _BLOCK.findall(README.read_text(encoding="utf-8")):
        steps: list[Step] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append(Step(line[2:], []))
            else:
                steps[-1].shows.append(line)
        found.append(steps)
    return found


SESSIONS = sessions()


@pytest.fixture
def local_site(tmp_path: Path, site: SiteServer, smtp: SmtpSink) -> dict[str, str]:
    """What the "Alerts by email" section starts: the sample article and examples/feed.xml on
    a loopback site, an SMTP server; returns examples/local.yaml pointed at both, by name."""
    site_at = site.url("/").removeprefix("http://").removesuffix("/")
    mail_at = f"127.0.0.1:{smtp.port}"
    article = ROOT / "monitor" / "demo" / "articles" / "ar-musk-putin.html"
    site.route("/ar-musk-putin.html", article.read_bytes())
    feed = (ROOT / "examples" / "feed.xml").read_text(encoding="utf-8")
    site.route(
        "/feed.xml",
        feed.replace("127.0.0.1:8000", site_at).encode(),
        content_type="application/rss+xml",
    )
    rules = (ROOT / "examples" / "local.yaml").read_text(encoding="utf-8")
    local = tmp_path / "local.yaml"
    local.write_text(
        rules.replace("127.0.0.1:8000", site_at).replace("127.0.0.1:8025", mail_at),
        encoding="utf-8",
    )
    return {"examples/local.yaml": str(local)}


def run(command: str, substitutes: dict[str, str], env: dict[str, str]) -> list[str]:
    argv = [substitutes.get(word, word) for word in shlex.split(command)]
    assert argv[0] == "monitor", f"the README's console blocks run monitor only: {command}"
    done = subprocess.run(
        [sys.executable, "-m", "monitor", *argv[1:]],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    said = [line for line in done.stderr.splitlines() if not _LOG_LINE.match(line)]
    return [
        line.replace("\u2068", "").replace("\u2069", "") for line in done.stdout.splitlines() + said
    ]


@pytest.mark.parametrize(
    "steps", SESSIONS, ids=[" && ".join(s.command for s in steps) for steps in SESSIONS]
)
def test_a_console_block_prints_what_the_readme_shows(
    steps: list[Step], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "REDIS_"))}
    env |= {"MONITOR_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1"}
    substitutes: dict[str, str] = {}
    if any("examples/local.yaml" in step.command for step in steps):
        substitutes = request.getfixturevalue("local_site")
        env["MONITOR_ALLOW_PRIVATE_NETWORKS"] = "1"  # as the README's export says
    for step in steps:
        assert run(step.command, substitutes, env) == step.shows, step.command
    if substitutes:  # "three alerts arrive at the SMTP server"
        assert len(request.getfixturevalue("smtp").messages) == 3


def test_the_readme_has_console_blocks_for_each_command_it_teaches_first() -> None:
    commands = {shlex.split(step.command)[1] for session in SESSIONS for step in session}
    assert {"check", "rules", "poll"} <= commands
