"""The one fetcher for every URL we read, feed or article.

Deadlines (connect, read, and a total deadline that also cuts a server trickling bytes), a cap
on the body read (checked while streaming, after decompression, so a compressed bomb stops at
the cap), redirects followed here one hop at a time (so each hop is checked), and a User-Agent
naming the product and a contact URL. Failures become the errors of ``monitor.errors``,
transient or permanent.

Built on urllib3: it costs a quarter of what httpx costs per request, which matters when every
article is one request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urljoin

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    LocationParseError,
    NewConnectionError,
    ReadTimeoutError,
)

from monitor.errors import (
    ClientError,
    ConnectError,
    FetchTimeout,
    ResponseTooLarge,
    ServerError,
    UnsupportedURL,
)
from monitor.settings import Settings

MAX_REDIRECTS = 5
CHUNK = 65536
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

Client = urllib3.PoolManager


@dataclass(frozen=True, slots=True)
class Fetched:
    """A response body we read in full, within the limits."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    content: bytes

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


def make_client(settings: Settings) -> Client:
    """A connection pool with our deadlines and User-Agent; no automatic retries."""
    return urllib3.PoolManager(
        num_pools=64,
        maxsize=4,
        timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
        retries=False,
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
    )


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def _check_scheme(url: str) -> None:
    if not url.lower().startswith(("http://", "https://")):
        raise UnsupportedURL("only http and https URLs are fetched", subject=url)


def fetch(client: Client, url: str, settings: Settings, accept: str = "*/*") -> Fetched:
    """GET ``url`` and read the body within the size cap and the total deadline."""
    _check_scheme(url)
    deadline = time.monotonic() + settings.total_timeout
    current = url
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            response = client.request(
                "GET",
                current,
                headers={**client.headers, "Accept": accept},
                preload_content=False,
                redirect=False,
            )
            headers = {k.lower(): v for k, v in response.headers.items()}
            location = headers.get("location")
            content = None
            try:
                if response.status in _REDIRECTS and location:
                    current = urljoin(current, location)
                    _check_scheme(current)
                    continue
                _check_status(url, response.status, headers)
                content = _read_capped(response, url, settings, deadline)
            finally:
                # A body left unread (an error, a redirect, a cap) would spoil the connection
                # for the next request: close it; a body read in full hands it back to the pool.
                if content is not None:
                    response.release_conn()
                else:
                    response.close()
            return Fetched(url, current, response.status, headers, content)
    except NewConnectionError as exc:  # before its base class, ConnectTimeoutError
        raise ConnectError(f"cannot connect ({exc.__cause__ or exc})", subject=url) from None
    except (ConnectTimeoutError, ReadTimeoutError) as exc:
        raise FetchTimeout(f"timed out ({type(exc).__name__})", subject=url) from None
    except DecodeError as exc:
        raise ClientError(f"the body could not be decompressed: {exc}", subject=url) from None
    except LocationParseError:
        raise UnsupportedURL("not a URL we can parse", subject=url) from None
    except HTTPError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ConnectError(f"cannot connect ({reason})", subject=url) from None
    raise ClientError(f"more than {MAX_REDIRECTS} redirects", subject=url)


def _check_status(url: str, status: int, headers: dict[str, str]) -> None:
    if status == 429 or status >= 500:
        raise ServerError(
            f"the server answered HTTP {status}", subject=url, retry_after=_retry_after(headers)
        )
    if status >= 400:
        raise ClientError(f"the server answered HTTP {status}", subject=url)


def _read_capped(
    response: urllib3.BaseHTTPResponse, url: str, settings: Settings, deadline: float
) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_bytes:
        raise ResponseTooLarge(
            f"the body is {int(declared)} bytes, over the {settings.max_bytes}-byte cap",
            subject=url,
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.stream(CHUNK, decode_content=True):
        size += len(chunk)
        if size > settings.max_bytes:
            raise ResponseTooLarge(
                f"the body passed the {settings.max_bytes}-byte cap", subject=url
            )
        if time.monotonic() > deadline:
            raise FetchTimeout(
                f"the body took longer than {settings.total_timeout:g}s", subject=url
            )
        chunks.append(chunk)
    return b"".join(chunks)
