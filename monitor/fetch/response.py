"""What a response is to us: the validators for the next conditional GET, the body we read,
its charset, and what an error status means."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from charset_normalizer import from_bytes

from monitor.errors import ClientError, ServerError

_NOT_ASCII = re.compile(rb"[\x80-\xff]")
_LONG_ASCII = re.compile(rb"[\x00-\x7f]{64,}")
# Enough text for charset_normalizer to tell a charset by, at a bounded cost.
_CHARSET_SAMPLE = 65536


@dataclass(frozen=True, slots=True)
class Validators:
    """What the last response said to send back on the next request (conditional GET)."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        sent: dict[str, str] = {}
        if self.etag:
            sent["If-None-Match"] = self.etag
        if self.last_modified:
            sent["If-Modified-Since"] = self.last_modified
        return sent


@dataclass(frozen=True, slots=True)
class Fetched:
    """A response body we read in full, within the limits (empty for ``304``)."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    content: bytes

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def validators(self) -> Validators:
        return Validators(self.headers.get("etag"), self.headers.get("last-modified"))

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None


def guess_charset(content: bytes) -> str | None:
    """The charset ``charset_normalizer`` finds for a body that declares none, or a wrong one.

    Judged where the text leaves ASCII: that may be far down a page, between kilobytes of
    ASCII markup and scripts that would drown it in a sample of the whole.
    """
    first = _NOT_ASCII.search(content)
    if first is None:
        return None
    text = _LONG_ASCII.sub(b" ", content[first.start() : first.start() + 16 * _CHARSET_SAMPLE])
    best = from_bytes(text[:_CHARSET_SAMPLE]).best()
    return str(best.encoding) if best is not None else None


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
    return None


def check_status(url: str, status: int, headers: dict[str, str]) -> None:
    if status == 429 or status >= 500:
        raise ServerError(
            f"the server answered HTTP {status}", subject=url, retry_after=_retry_after(headers)
        )
    if status >= 400:
        raise ClientError(f"the server answered HTTP {status}", subject=url)
