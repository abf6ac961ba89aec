"""What people read at a terminal: one time format, and colour only where it shows.

Every time a person reads (an alert, ``monitor alerts``, ``monitor feeds``) is written the same
way, in the analyst's zone (``MONITOR_TIMEZONE``) with the zone named: ``2026-11-24 13:00
Asia/Riyadh``. Colour is used on a terminal only, never in a pipe or a file, and never when
``NO_COLOR`` is set (https://no-color.org); ``FORCE_COLOR`` asks for it anywhere.

The ``terminal://`` channel prints each alert on the worker's standard output, as apprise
delivers to any other target (it is registered with apprise here, so a rules file names it like
any service and it is validated, sent and recorded the same way): for a first run, for a demo,
for trying rules out. Its message is the ``text`` kind of ``monitor.alerts.render``, with the
matched words (between ``⟦ ⟧``) and the rule in colour when the output is a terminal.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

import click
from apprise.decorators import notify

TERMINAL_SCHEME = "terminal"
_NO_ISOLATES = dict.fromkeys(range(0x2066, 0x206A))  # LRI, RLI, FSI, PDI
_MARKED = re.compile(r"⟦([^⟦⟧]*)⟧")
# Threads of one process print whole alerts, never interleaved lines.
_PRINTING = threading.Lock()


def local_time(iso: str | None, zone: str) -> str:
    """An ISO 8601 time in the analyst's zone: ``2026-11-24 13:00 Asia/Riyadh``.

    A time without a zone is shown as written: we cannot know which zone it meant.
    """
    if not iso:
        return "unknown"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        return iso
    return f"{moment.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"


def colour_wanted(stream: IO[Any]) -> bool:
    """Whether to colour what is written to ``stream``."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def terminal_alert(subject: str, body: str, *, colour: bool) -> str:
    """An alert as the terminal channel prints it: a rule of the subject, then the body, with
    the matched words marked in colour (or between ``⟦ ⟧`` without colour), and without the
    Unicode isolates the text template puts around free text."""
    # Terminals do not run the bidi algorithm on isolates; many show them as boxes.
    subject, body = subject.translate(_NO_ISOLATES), body.translate(_NO_ISOLATES)
    head = f"── {subject} "
    head += "─" * max(3, 72 - len(head))
    if not colour:
        return f"\n{head}\n{body}\n"
    marked = _MARKED.sub(lambda m: click.style(m.group(1), fg="yellow", bold=True), body)
    return f"\n{click.style(head, fg='cyan', bold=True)}\n{marked}\n"


@notify(on=TERMINAL_SCHEME, name="Terminal")  # type: ignore[no-untyped-call,untyped-decorator]
def _print_alert(body: str, title: str, *args: Any, **kwargs: Any) -> bool:  # apprise calls
    out = sys.stdout
    text = terminal_alert(title, body, colour=colour_wanted(out))
    with _PRINTING:
        out.write(text)
        out.flush()
    return True
