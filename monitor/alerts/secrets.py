"""Keeping channel secrets out of every log line, stored error and command output.

Channel URLs carry passwords and tokens (``${VAR}`` from the environment). Apprise's secure
logging masks passwords, but at DEBUG apprise and urllib3 log whole URLs, tokens in the path
included. While an alert is sent, ``hidden(secrets)`` makes a filter on those loggers replace
each secret with ``***`` in every record before any handler sees it; errors we store or print
go through ``redact``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

from monitor.rules.channels import private_parts

# Loggers that may print a URL we send to.
LOGGERS = ("apprise", "urllib3.connectionpool", "urllib3.connection", "requests")
MIN_TOKEN = 12  # path and query parts this long are treated as tokens


def secrets_of(url: str, env_values: list[str]) -> list[str]:
    """The parts of an expanded channel URL never to show: the values taken from the
    environment, what apprise keeps private in it (``monitor.rules.channels``: a bot token in
    the host part included), the URL's user and password, and long path or query parts (the
    tokens of webhook URLs apprise does not know). Longest first, so a secret containing
    another is replaced whole."""
    found = [v for v in env_values if len(v) >= 3] + private_parts(url)
    try:
        parts = urlsplit(url)
        found += [unquote(s) for s in (parts.password, parts.username) if s]
    except ValueError:
        return sorted(set(found), key=len, reverse=True)
    found += [s for s in re.split(r"[/?&=]", parts.path + "?" + parts.query) if len(s) >= MIN_TOKEN]
    return sorted(set(found), key=len, reverse=True)


def redact(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """``text`` with each secret replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class _Redactor(logging.Filter):
    """Replaces the secrets of every send in progress in each record's message."""

    def __init__(self) -> None:
        super().__init__()
        self.active: Counter[str] = Counter()
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        with self.lock:
            secrets = sorted(self.active, key=len, reverse=True)
        if secrets:
            message = record.getMessage()
            cleaned = redact(message, secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        return True


_REDACTOR = _Redactor()
for _name in LOGGERS:
    logging.getLogger(_name).addFilter(_REDACTOR)


@contextmanager
def hidden(secrets: list[str] | tuple[str, ...]) -> Iterator[None]:
    """While the block runs, no record of the sending loggers shows these secrets."""
    with _REDACTOR.lock:
        _REDACTOR.active.update(secrets)
    try:
        yield
    finally:
        with _REDACTOR.lock:
            _REDACTOR.active.subtract(secrets)
            _REDACTOR.active = +_REDACTOR.active  # drop the ones no send uses any more
