"""The one fetcher for every URL we read, feed or article.

Deadlines (connect, read, and a total deadline that also cuts a server trickling bytes), a cap
on the body read (checked while streaming, after decompression, so a compressed bomb stops at
the cap), a User-Agent naming the product and a contact URL. Failures become the errors of
``monitor.errors``, transient or permanent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

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


def make_client(settings: Settings) -> httpx.Client:
    """An HTTP client with our deadlines, redirect limit and User-Agent."""
    return httpx.Client(
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.connect_timeout,
        ),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def fetch(client: httpx.Client, url: str, settings: Settings, accept: str = "*/*") -> Fetched:
    """GET ``url`` and read the body within the size cap and the total deadline."""
    if not url.lower().startswith(("http://", "https://")):
        raise UnsupportedURL("only http and https URLs are fetched", subject=url)
    deadline = time.monotonic() + settings.total_timeout
    try:
        with client.stream("GET", url, headers={"Accept": accept}) as response:
            status = response.status_code
            if status == 429 or status >= 500:
                raise ServerError(
                    f"the server answered HTTP {status}",
                    subject=url,
                    retry_after=_retry_after(response),
                )
            if status >= 400:
                raise ClientError(f"the server answered HTTP {status}", subject=url)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > settings.max_bytes:
                raise ResponseTooLarge(
                    f"the body is {int(declared)} bytes, over the {settings.max_bytes}-byte cap",
                    subject=url,
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
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
            return Fetched(
                url=url,
                final_url=str(response.url),
                status=status,
                headers={k.lower(): v for k, v in response.headers.items()},
                content=b"".join(chunks),
            )
    except httpx.TimeoutException as exc:
        raise FetchTimeout(f"timed out ({type(exc).__name__})", subject=url) from None
    except httpx.TooManyRedirects:
        raise ClientError(f"more than {MAX_REDIRECTS} redirects", subject=url) from None
    except httpx.DecodingError as exc:
        raise ClientError(f"the body could not be decompressed: {exc}", subject=url) from None
    except httpx.UnsupportedProtocol:
        raise UnsupportedURL("only http and https URLs are fetched", subject=url) from None
    except httpx.TransportError as exc:
        raise ConnectError(f"cannot connect ({exc or type(exc).__name__})", subject=url) from None
