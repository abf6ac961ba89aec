"""``monitor rules test RULES CASES``: unit tests for rules, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.files import ROOT

EXAMPLES = ROOT / "examples"


def rules_test(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "REDIS_"))}
    return subprocess.run(
        [sys.executable, "-m", "monitor", "rules", "test", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_shipped_example_cases_pass() -> None:
    result = rules_test(str(EXAMPLES / "rules.yaml"), str(EXAMPLES / "cases.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("cases, 0 failed")
    assert "ok    the seed article (Arabic page)" in result.stdout


def test_a_mismatch_exits_1_with_a_readable_diff(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        """
cases:
  - name: right
    text: "ماسك التقى بوتين"
    fire: [musk-putin]
  - name: wrong both ways
    text: "ماسك التقى بوتين"
    fire: [starlink]
    not_fire: [musk-putin]
""",
        encoding="utf-8",
    )
    result = rules_test(str(EXAMPLES / "rules.yaml"), str(cases))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"ok    right  ({cases}:3)"
    assert lines[1:5] == [
        f"FAIL  wrong both ways  ({cases}:6)",
        "  - starlink: expected to fire, did not",
        "  + musk-putin: fired, expected not to (evidence: ماسك, بوتين)",
        "    fired: musk-putin, putin-or-trump",
    ]
    assert lines[-1] == "2 cases, 1 failed"


def test_a_case_naming_an_unknown_rule_is_an_error(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        'cases:\n  - name: typo\n    text: "x"\n    fire: [musk-putn]\n', encoding="utf-8"
    )
    result = rules_test(str(EXAMPLES / "rules.yaml"), str(cases))
    assert result.returncode == 1
    assert result.stderr.strip() == f"{cases}:2:1: case 'typo' names unknown rule 'musk-putn'"


def test_a_case_needs_exactly_one_article(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - name: nothing\n    fire: [starlink]\n", encoding="utf-8")
    result = rules_test(str(EXAMPLES / "rules.yaml"), str(cases))
    assert result.returncode == 1
    assert "either 'text' or 'html'" in result.stderr
