"""Rules that ops edit while the worker runs: reload on change, refuse a bad edit, and share
the last valid version across the deployment's processes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from monitor.errors import RulesError
from monitor.rules.load import LoadedRules, load_rules, parse_rules
from monitor.rules.model import RulesFile

log = logging.getLogger(__name__)


class SharedRules(Protocol):
    """Where the processes of a deployment leave the text of the last rules that validated."""

    def save(self, text: str) -> None: ...

    def load(self) -> str | None: ...


class RulesSource:
    """The current rules of a file that ops may edit while the worker runs.

    ``current()`` re-reads the file when it changed on disk. An edit that does not validate
    is refused: its errors are logged and the last valid rules stay in force. "Last valid" is
    the deployment's, not this process's: each process shares the text of every version it
    validates (``shared``), so one that missed a valid edit before a bad one takes the valid
    edit from there, and a process that starts while the file is invalid starts with it.
    """

    def __init__(self, path: str | Path, shared: SharedRules | None = None) -> None:
        self.path = Path(path)
        self._shared = shared
        self._refused_mtime: int | None = None
        try:
            self._loaded = load_rules(self.path)
        except RulesError as exc:
            fallback = self._last_valid_elsewhere(None)
            if fallback is None:
                raise
            self._loaded, self._refused_mtime = fallback, _mtime(self.path)
            log.error("rules file refused, starting with the last valid version: %s", exc)
            return
        self._share(self._loaded)

    def _share(self, loaded: LoadedRules) -> None:
        if self._shared is not None:
            self._shared.save(loaded.text)

    def _last_valid_elsewhere(self, have: str | None) -> LoadedRules | None:
        text = self._shared.load() if self._shared is not None else None
        if text is None or text == have:
            return None
        try:
            return LoadedRules(str(self.path), parse_rules(text, str(self.path)), -1, text)
        except RulesError:
            return None

    def current(self) -> RulesFile:
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return self._loaded.rules
        if mtime not in (self._loaded.mtime_ns, self._refused_mtime):
            try:
                self._loaded = load_rules(self.path)
                log.info(
                    "rules reloaded from %s: %d rules", self.path, len(self._loaded.rules.rules)
                )
                self._share(self._loaded)
            except RulesError as exc:
                self._refused_mtime = mtime
                log.error("rules edit refused, previous rules stay active: %s", exc)
                newer = self._last_valid_elsewhere(self._loaded.text)
                if newer is not None:
                    self._loaded = newer
        return self._loaded.rules


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None
