"""Errors the monitor raises, split by what the caller should do about them.

::

    MonitorError                     anything this package raises on purpose
    ├── TransientError               worth trying again later (the task layer retries these)
    │   ├── FetchTimeout             connect, read or total deadline passed
    │   ├── ServerError              5xx or 429 from a feed or article host
    │   ├── ConnectError             host unreachable, connection refused or reset
    │   └── DeliveryFailed           a notification target did not accept the alert
    └── PermanentError               trying again will not help; record it and move on
        ├── ClientError              4xx other than 429
        ├── ResponseTooLarge         the body passed the size cap
        ├── UnsupportedURL           not http(s), or not a URL at all
        ├── BlockedAddress           the host is not globally routable (the SSRF guard)
        ├── TooManyRedirects         a redirect loop, or more hops than allowed
        ├── UnsupportedContent       a page that is a PDF, an image or other non-text
        ├── FeedParseError           the bytes are not a feed we can read
        ├── RulesError               the rules file is invalid (file:line:column: reason)
        ├── ConfigError              a setting or an environment variable is missing or wrong
        └── StoreError               the state store is damaged, missing or full

Every error carries the URL, feed or alert it concerns (``subject``) and renders as one line a
person can act on.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error raised on purpose by this package."""

    transient = False

    def __init__(self, reason: str, *, subject: str | None = None) -> None:
        self.reason = reason
        self.subject = subject
        super().__init__(f"{subject}: {reason}" if subject else reason)


class TransientError(MonitorError):
    """A failure that may pass: the same call later may succeed."""

    transient = True

    def __init__(
        self, reason: str, *, subject: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason, subject=subject)
        self.retry_after = retry_after


class PermanentError(MonitorError):
    """A failure that repeating the call will not fix."""


class FetchTimeout(TransientError):
    """A connect, read or total deadline passed."""


class ServerError(TransientError):
    """The server answered 5xx or 429."""


class ConnectError(TransientError):
    """The host could not be reached."""


class DeliveryFailed(TransientError):
    """A notification target did not accept the alert."""


class ClientError(PermanentError):
    """The server answered 4xx (other than 429)."""


class ResponseTooLarge(PermanentError):
    """The response body is larger than the configured cap."""


class UnsupportedURL(PermanentError):
    """The URL is not one we fetch."""


class BlockedAddress(PermanentError):
    """The URL's host resolves to an address the SSRF guard refuses (``monitor.ssrf``)."""


class TooManyRedirects(PermanentError):
    """The redirects loop, or go on for more hops than the fetcher follows."""


class UnsupportedContent(PermanentError):
    """The body is not text we read (a PDF, an image, an archive)."""


class FeedParseError(PermanentError):
    """The bytes could not be read as an RSS or Atom feed."""


class ConfigError(PermanentError):
    """A setting or environment variable is missing or invalid."""


class StoreError(PermanentError):
    """The embedded state database cannot be used as it is: it says what to do about it."""


class RulesError(PermanentError):
    """The rules file is invalid: one or more problems, each ``file:line:column: reason``."""

    def __init__(self, path: str, problems: list[tuple[int, int, str]]) -> None:
        self.path = path
        self.problems = sorted(problems)
        lines = [f"{path}:{line}:{column}: {reason}" for line, column, reason in self.problems]
        super().__init__("\n".join(lines))
        self.reason = lines[0] if lines else "invalid rules"
