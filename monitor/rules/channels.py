"""Channel URLs and the secrets in them, as apprise sees them.

Apprise knows, service by service, which parts of a URL are private: a password, a bot token in
the host part (``tgram://123456789:AAH.../``), the tokens of a Slack or Discord webhook. Its
privacy form of a URL masks them (``1...8``, ``****``); ``private_parts`` returns what it
masked. The rules file must hold none of them in clear (``literal_secrets``): each is written as
``${VAR}`` (or the whole URL as ``${DESK_URL}``) and read from the environment when the alert is
sent, so the file, the copy of it the store keeps and every log line stay free of them.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote

import apprise
from apprise.manager_plugins import NotificationManager

from monitor import console  # noqa: F401  (registers terminal:// with apprise)
from monitor.rules.model import did_you_mean, env_names

_PIECES = re.compile(r"[/:@?&=#]+")


def _pieces(url: str) -> set[str]:
    return {piece for piece in _PIECES.split(unquote(url)) if len(piece) >= 3}


class _Muted(threading.local):
    """Set in a thread while apprise reads a URL to find its secrets: apprise logs the URL it
    loads, and that record must not reach a handler."""

    on = False


_MUTED = _Muted()


class _MutedThreadFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _MUTED.on


logging.getLogger("apprise").addFilter(_MutedThreadFilter())


@contextmanager
def _apprise_muted() -> Iterator[None]:
    _MUTED.on = True
    try:
        yield
    finally:
        _MUTED.on = False


def private_parts(url: str) -> list[str]:
    """The parts of a channel URL that apprise masks in its privacy form, longest first; empty
    when apprise does not know the URL."""
    with _apprise_muted():
        try:
            plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
            if not plugin:
                return []
            # apprise is untyped
            shown = plugin.url(privacy=False)  # type: ignore[no-untyped-call]
            masked = plugin.url(privacy=True)  # type: ignore[no-untyped-call]
        except Exception:  # an odd URL must not break the check: apprise then says nothing
            return []
    hidden = _pieces(shown) - _pieces(masked)
    return sorted((p for p in hidden if p in url), key=len, reverse=True)


def unknown_service(written: str) -> str | None:
    """Why apprise would not know a channel URL's service, naming the closest it knows; None
    when it does (or when the scheme itself comes from the environment)."""
    scheme, found, _ = written.partition("://")
    if not found or "${" in scheme:
        return None if written.startswith("${") else "not a URL (service://...)"
    known: list[str] = NotificationManager().schemas()  # type: ignore[no-untyped-call]
    if scheme.lower() in known:
        return None
    hint = did_you_mean(scheme.lower(), known, "{}://".format)
    return f"{scheme}:// is not a service apprise knows{hint} (json://, mailto://, slack://, …)"


def literal_secrets(written: str) -> list[str]:
    """The private parts of a channel URL as the rules file writes it that are not ``${VAR}``
    references: secrets in clear."""
    placeholders = {f"zzref{i}zz": match for i, match in enumerate(env_names(written))}
    marked = written
    for placeholder, name in placeholders.items():
        marked = marked.replace(f"${{{name}}}", placeholder, 1)
    return [part for part in private_parts(marked) if not any(p in part for p in placeholders)]
