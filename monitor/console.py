"""What people read at a terminal: one time format, and colour only where it shows.

Every time a person reads (an alert, ``monitor alerts``, ``monitor feeds``) is written the same
way, in the analyst's zone (``MONITOR_TIMEZONE``) with the zone named: ``2026-11-24 13:00
Asia/Riyadh``. Colour is used on a terminal only, never in a pipe or a file, and never when
``NO_COLOR`` is set (https://no-color.org); ``FORCE_COLOR`` asks for it anywhere.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo


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
