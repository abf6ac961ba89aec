"""Rules that ops edit while the worker runs: reload on change, refuse a bad edit, and share
the last valid version across the deployment's processes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from monitor.errors import RulesError
from monitor.rules.load import (
    LoadedRules,
    RulesRefused,
    file_stamp,
    load_rules,
    loaded_from_text,
    skipped_lines,
)
from monitor.rules.model import RulesFile

log = logging.getLogger(__name__)


class SharedRules(Protocol):
    """Where the processes of a deployment leave the text of the last rules that validated."""

    def save(self, text: str) -> None: ...

    def load(self) -> str | None: ...


class RulesSource:
    """The current rules of a file that ops may edit while the worker runs.

    ``current()`` re-reads the file when it or one of the feed lists it names changed on
    disk. An edit that does not validate is refused: its errors are logged and the last valid
    rules stay in force. A bad line of a list is not a bad edit: it is logged and skipped, so
    the other feeds keep polling. "Last valid" is the deployment's, not this process's: each
    process shares the text of every version it validates (``shared``), so one that missed a
    valid edit before a bad one takes the valid edit from there, and a process that starts
    while the file is invalid starts with it (its feed lists read from this process's disk).
    """

    def __init__(self, path: str | Path, shared: SharedRules | None = None) -> None:
        self.path = Path(path)
        self._shared = shared
        self._watched: tuple[Path, ...] = ()  # the feed lists of the version last read
        self._seen: tuple[int | None, ...] = ()  # the stamp of the rules file and those lists
        try:
            self._loaded = self._load()
        except RulesError as exc:
            fallback = self._last_valid_elsewhere(None)
            if fallback is None:
                raise
            self._loaded = fallback
            self._refused(exc)
            log.error("rules file refused, starting with the last valid version: %s", exc)
            return
        self._share(self._loaded)

    def _load(self) -> LoadedRules:
        loaded = load_rules(self.path, skip_bad_list_lines=True)
        self._watched, self._seen = loaded.lists, loaded.stamp
        _log_skipped(loaded)
        return loaded

    def _refused(self, exc: RulesError) -> None:
        """Watch what the refused version reads, so that fixing a list it names is seen."""
        self._watched = exc.lists if isinstance(exc, RulesRefused) else self._watched
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int | None, ...]:
        return file_stamp((self.path, *self._watched))

    def _share(self, loaded: LoadedRules) -> None:
        if self._shared is not None:
            self._shared.save(loaded.text)

    def _last_valid_elsewhere(self, have: str | None) -> LoadedRules | None:
        text = self._shared.load() if self._shared is not None else None
        if text is None or text == have:
            return None
        try:
            loaded = loaded_from_text(text, str(self.path), mtime_ns=-1, skip_bad_list_lines=True)
        except RulesError:
            return None
        _log_skipped(loaded)
        return loaded

    def current(self) -> RulesFile:
        stamp = self._stamp()
        if stamp[0] is None:  # the file is gone or unreadable for now: keep what is in force
            return self._loaded.rules
        if stamp != self._seen:
            try:
                self._loaded = self._load()
                rules = self._loaded.rules
                log.info(
                    "rules reloaded from %s: %d rules, %d feeds",
                    self.path,
                    len(rules.rules),
                    len(rules.feeds),
                )
                self._share(self._loaded)
            except RulesError as exc:
                self._refused(exc)
                log.error("rules edit refused, previous rules stay active: %s", exc)
                newer = self._last_valid_elsewhere(self._loaded.text)
                if newer is not None:
                    self._loaded = newer
        return self._loaded.rules


def _log_skipped(loaded: LoadedRules) -> None:
    for line in skipped_lines(loaded):
        log.warning("%s", line)
