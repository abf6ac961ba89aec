"""``monitor demo``: the real worker on sample news, each alert printed where it runs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import apprise
import pytest

from monitor.console import terminal_alert
from monitor.demo import SAMPLES, samples
from tests.support.files import ROOT

# What the demo's rules find in its samples, article by article.
EXPECTED = {
    ("musk-putin", "ar-musk-putin"),
    ("starlink", "ar-musk-putin"),
    ("campaign-money", "ar-musk-putin"),
    ("spacex-defence-en", "en-starlink-contract"),
    ("starlink", "en-starlink-contract"),
    ("russia-sanctions", "fr-kremlin-sanctions"),
    ("campaign-money", "de-wahlkampf-spende"),
    ("campaign-money", "es-campana-musk"),
    ("russia-sanctions", "ru-kreml-sankcii"),
}
HEADER = re.compile(r"^── \[(?P<rule>[^\]]+)\] (?P<title>.*?) ─+$")


class Lines:
    """A stream's lines as they arrive, read by a thread."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line.rstrip("\n"))

    def join(self) -> None:
        self._thread.join(timeout=10)

    def wait_for(self, found: object, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found(self.lines):  # type: ignore[operator]
                return
            time.sleep(0.1)
        raise AssertionError("\n".join(self.lines[-80:]))


def test_the_demo_prints_each_alert_of_the_samples_once_and_cleans_up(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "REDIS_"))}
    # Settings of a real deployment around it must not leak in: the demo keeps to itself.
    env |= {
        "REDIS_URL": "redis://127.0.0.1:9/0",
        "MONITOR_STATE_DIR": str(tmp_path / "user-state"),
        "MONITOR_LOG_JSON": "true",
    }
    with subprocess.Popen(
        [sys.executable, "-m", "monitor", "demo", "--every", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    ) as demo:  # fmt: skip
        out, err = Lines(demo.stdout), Lines(demo.stderr)
        try:
            last = f"{SAMPLES[-1]}.html: 0 amounts, rules fired: none"
            err.wait_for(lambda lines: any(last in line for line in lines), timeout=120)
            out.wait_for(lambda lines: sum(bool(HEADER.match(x)) for x in lines) >= 9, timeout=30)
            time.sleep(3.0)  # polls after the last article: none may print an alert again
        finally:
            os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C at a terminal signals the whole group
            code = demo.wait(timeout=60)
            out.join()
            err.join()
    titles = {sample.title: sample.name for sample in samples()}
    printed = [m for line in out.lines if (m := HEADER.match(line))]
    pairs = [(m["rule"], titles[m["title"]]) for m in printed]
    assert sorted(pairs) == sorted(EXPECTED), "\n".join(out.lines)
    assert code == 0, "\n".join(err.lines[-20:])
    assert "\x1b[" not in "\n".join(out.lines)  # a pipe gets no colour
    assert "⟦ماسك⟧" in "\n".join(out.lines)  # the matched words marked in the Arabic seed
    assert not {"\u2068", "\u2069"} & set("\n".join(out.lines))  # terminals show isolates as boxes
    rules_file = Path(re.search(r"rules: (\S+)", out.lines[1])[1])  # type: ignore[index]
    assert not rules_file.parent.exists()  # its temporary state is gone
    assert not (tmp_path / "user-state").exists()  # and the user's was never touched
    # At INFO one line per alert sent, and nothing from apprise besides.
    records = [json.loads(line) for line in err.lines if line.startswith("{")]
    sent = [r for r in records if r["message"].startswith("alert sent: ")]
    assert len(sent) == len(EXPECTED)
    assert [r for r in records if r["logger"] == "apprise" and r["level"] == "INFO"] == []


def test_the_terminal_channel_prints_through_apprise_in_colour_when_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    notifier = apprise.Apprise()
    assert notifier.add("terminal://")
    assert notifier.notify(title="[musk] عنوان", body="Rule: musk\nقال ⟦ماسك⟧ إن")
    printed = capsys.readouterr().out
    assert "\x1b[" in printed and "⟦" not in printed
    assert printed == terminal_alert("[musk] عنوان", "Rule: musk\nقال ⟦ماسك⟧ إن", colour=True)
    assert "ماسك" in re.sub(r"\x1b\[[0-9;]*m", "", printed)


def test_no_color_wins_over_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")
    notifier = apprise.Apprise()
    assert notifier.add("terminal://")
    assert notifier.notify(title="t", body="a ⟦b⟧ c")
    printed = capsys.readouterr().out
    assert "\x1b[" not in printed
    assert printed.startswith("\n── t ───") and printed.endswith("───\na ⟦b⟧ c\n")
