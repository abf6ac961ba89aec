"""Fixtures of the hostile-input tests: contexts on the embedded store with short deadlines,
and a count of trafilatura's extractions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trafilatura

from monitor.context import Context
from monitor.settings import Settings
from tests.hostile.checks import MUSK_RULES


@pytest.fixture
def make_context(
    tmp_path: Path, contexts: Callable[[Settings, str], Context]
) -> Callable[..., Context]:
    """A context on the embedded store; settings as keywords over loopback-friendly defaults."""

    def make(**overrides: Any) -> Context:
        values: dict[str, Any] = {
            "state_dir": tmp_path / "state",
            "allow_private_networks": True,  # the hostile servers are on loopback
            "read_timeout": 1.0,
            "total_timeout": 1.0,
            **overrides,
        }
        return contexts(Settings(**values), MUSK_RULES)

    return make


@pytest.fixture
def extractions(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each call of trafilatura's extractor, as its ``fast`` flag; it still runs for real."""
    calls: list[bool] = []
    real = trafilatura.bare_extraction

    def counted(*args: Any, **kwargs: Any) -> Any:
        options = kwargs.get("options")
        calls.append(bool(options.fast if options is not None else kwargs.get("fast")))
        return real(*args, **kwargs)

    monkeypatch.setattr(trafilatura, "bare_extraction", counted)
    return calls


@pytest.fixture
def ctx(make_context: Callable[..., Context]) -> Context:
    return make_context()
