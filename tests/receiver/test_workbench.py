"""The rule workbench in a real browser (Debian's headless Chromium, driven by Playwright): a rule
typed in shows its problems at their line and column, then the archive's matches with the
evidence marked, Arabic right to left, and what the edit adds against the rules in force.
Screenshots are kept in ``test-artifacts/`` at the root of the checkout."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.archive import Archived, open_archive
from monitor.settings import Settings
from tests.support.files import ROOT
from tests.support.receiver import ReceiverProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
TOKEN = "workbench-token"  # noqa: S105  (the test's own)
RULES = """\
entities:
  musk: ["Elon Musk", "Musk", "إيلون ماسك", "ماسك"]
  putin: ["Vladimir Putin", "Putin", "بوتين"]
channels:
  desk: ['json://127.0.0.1:9/x']
rules:
  - name: musk-putin
    entities: {all: [musk, putin]}
    notify: [desk]
"""

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="no Chromium here (apt-get install chromium; .ci/run does)"
)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ReceiverProcess]:
    state = tmp_path / "state"
    archive = open_archive(Settings(state_dir=state))
    assert archive is not None
    now = time.time()
    archive.put_all([
        Archived("ar-1", "https://news.example/ar-1", "ماسك وبوتين",
                 "قال إيلون ماسك إنه تحدث مع فلاديمير بوتين عن الفضاء.",
                 "https://news.example/feed.xml", "ar", None, now - 3600),
        Archived("ar-2", "urn:monitor:text:0f3a", "بوتين يتحدث",  # text given to the API
                 "قال بوتين إن المحادثات جرت في موسكو.",
                 "https://news.example/feed.xml", "ar", None, now - 7200),
        Archived("en-1", "https://news.example/en-1", "Council meets",
                 "The council met on Tuesday.", "https://news.example/feed.xml", "en", None,
                 now - 600),
    ])  # fmt: skip
    archive.close()
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    env = {"MONITOR_RULES": str(rules), "MONITOR_STATE_DIR": str(state),
           "MONITOR_API_TOKENS": TOKEN}  # fmt: skip
    process = ReceiverProcess(env, tmp_path / "receiver.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def test_a_rule_typed_in_the_workbench_shows_its_problems_then_its_matches(
    receiver: ReceiverProcess,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(receiver.base + "/workbench")
            page.fill("#token", TOKEN)
            page.dispatch_event("#token", "change")
            expect(page.locator("#rules")).to_have_value(RULES)
            expect(page.locator("section.rule[data-rule=musk-putin] h2")).to_have_text(
                "musk-putin: 1 fires"
            )

            # A mistake: said at its line and column, nothing previewed.
            broken = RULES.replace("entities: {all: [musk, putin]}", "entitties: {all: [musk]}")
            page.fill("#rules", broken)
            problem = page.locator("#problems li").first
            expect(problem).to_contain_text("line 8, column 5")
            expect(problem).to_contain_text("entitties")
            page.screenshot(path=str(ARTIFACTS / "workbench-problem.png"), full_page=True)

            # The edit: any article that names Putin. One more match than the rule in force.
            page.fill("#rules", RULES.replace("{all: [musk, putin]}", "{any: [putin]}"))
            rule = page.locator("section.rule[data-rule=musk-putin]")
            expect(rule.locator("h2")).to_have_text(
                "musk-putin: 2 fires (+1 −0 against the rules in force)"
            )
            expect(page.locator("#problems li")).to_have_count(0)
            marked = rule.locator("article[data-id=ar-2] .snippet mark")
            expect(marked).to_have_text("بوتين")
            snippet = rule.locator("article[data-id=ar-2] .snippet")
            assert snippet.evaluate("node => getComputedStyle(node).direction") == "rtl"
            added = rule.locator("ul.added li a")
            expect(added).to_have_text("بوتين يتحدث")
            assert added.get_attribute("href") is None  # only web pages are links
            first = rule.locator("article[data-id=ar-1] > a")
            assert first.get_attribute("href") == "https://news.example/ar-1"
            page.screenshot(path=str(ARTIFACTS / "workbench-matches.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "workbench-matches.png").stat().st_size > 10_000


def test_the_workbench_api_needs_a_token_and_the_page_runs_only_its_own_script(
    receiver: ReceiverProcess,
) -> None:
    assert receiver.call("POST", "/v1/rules/preview", body={"rules": RULES}).status == 401
    assert receiver.call("GET", "/v1/rules").status == 401
    page = receiver.call("GET", "/workbench")
    assert page.status == 200 and "script-src 'self'" in page.headers["Content-Security-Policy"]
    answer = receiver.call("POST", "/v1/rules/preview", token=TOKEN, body={"rules": "rules: ["})
    assert answer.status == 200 and answer.json()["valid"] is False
