"""The package layout holds: monitor's imports only go down its layers, every module sits in
one, and only the command reaches Celery (import-linter's contracts in pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.files import ROOT

LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(no_cache=True, no_logo=True))"
)


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """import-linter run on the packages in ``tree`` with the configuration found there."""
    return subprocess.run(
        [sys.executable, "-c", LINT],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_project_keeps_its_import_contracts() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.fixture
def copy_of_project(tmp_path: Path) -> Path:
    """The project's packages and configuration, copied where a test may break them."""
    for package in ("monitor", "tasks"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # an analysis stage reaching up to the pipeline that runs it
        ("text/words.py", "import monitor.pipeline", "imports only go down its layers"),
        # the fetcher reaching up to a stage
        ("fetch/many.py", "import monitor.ingest.feeds", "imports only go down its layers"),
        # a module outside every layer
        ("scratch.py", "", "imports only go down its layers"),
        # the library reaching Celery
        ("rules/match.py", "import celery", "reach Celery"),
    ],
)
def test_a_layout_that_decays_is_refused(
    copy_of_project: Path, module: str, line: str, broken: str
) -> None:
    path = copy_of_project / "monitor" / module
    text = path.read_text(encoding="utf-8") if path.exists() else '"""A new module."""\n'
    path.write_text(f"{text}\n{line}\n", encoding="utf-8")
    result = lint(copy_of_project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout, result.stdout
