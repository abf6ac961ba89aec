"""Logging: one event per line, JSON for machines, plain text for people at a terminal.

At INFO a running monitor says what happened, not that it is running: an article processed, an
alert sent or failed, a feed failing, rules reloaded. Celery's line for every task received and
succeeded, and beat's for every tick it sends, are routine: they show at DEBUG only
(``RoutineFilter``). Failures always show.

Every record carries the ids of what it concerns (``feed``, ``article``, ``alert``, ``task``)
when the code that logs runs inside ``log_context(...)``; the tasks set it for the duration of
each message, so a line logged deep in the pipeline still says which feed or article it is
about.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

_CONTEXT: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "log_context", default=MappingProxyType({})
)
CONTEXT_FIELDS = ("feed", "article", "alert", "task")
HUMAN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def bind(**ids: str) -> contextvars.Token[Mapping[str, str]]:
    """Attach ids to every record logged from now on, until ``unbind`` with the returned token."""
    return _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in ids.items() if v}})


def unbind(token: contextvars.Token[Mapping[str, str]]) -> None:
    _CONTEXT.reset(token)


@contextmanager
def log_context(**ids: str) -> Iterator[None]:
    """Attach ids to every record logged inside the block."""
    token = bind(**ids)
    try:
        yield
    finally:
        unbind(token)


class ContextFilter(logging.Filter):
    """Copies the current ``log_context`` ids onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _CONTEXT.get().items():
            setattr(record, key, value)
        return True


class RoutineFilter(logging.Filter):
    """Drops routine INFO lines (Celery's for a task received or succeeded and a tick sent,
    apprise's for each notification) unless the monitor logs at DEBUG."""

    ROUTINE = (
        ("celery.worker.strategy", "Task "),
        ("celery.app.trace", "Task "),
        ("celery.beat", "Scheduler: Sending due task"),
        # apprise's "Notifying 1 service(s).", "Sent ... notification.": the delivery's own
        # line says which alert was sent where.
        ("apprise", ""),
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or logging.getLogger().level <= logging.DEBUG:
            return True
        return not any(
            record.name == name and str(record.msg).startswith(start)
            for name, start in self.ROUTINE
        )


class HumanFormatter(logging.Formatter):
    """The plain format, with the context ids appended in brackets."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{k}={getattr(record, k)}" for k in CONTEXT_FIELDS if hasattr(record, k)]
        return f"{line} [{' '.join(ids)}]" if ids else line


def configure_logging(
    level: str, *, json_lines: bool | None = None, stream: TextIO | None = None
) -> None:
    """Send every logger's records to ``stream`` (stderr), as JSON unless it is a terminal."""
    out = stream or sys.stderr
    as_json = not out.isatty() if json_lines is None else json_lines
    handler = logging.StreamHandler(out)
    handler.addFilter(ContextFilter())
    handler.addFilter(RoutineFilter())
    if as_json:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(HumanFormatter(HUMAN_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
