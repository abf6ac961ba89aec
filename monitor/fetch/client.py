"""libcurl handles with our headers, deadlines and trusted authorities, sharing one cache of
open connections, and the SSRF guard every request goes through."""

from __future__ import annotations

import os
import re
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pycurl

from monitor.errors import ConfigError
from monitor.settings import Settings
from monitor.ssrf import Guard

_HASH_NAME = re.compile(r"[0-9a-f]{8}\.\d+")
MAX_IDLE = 64  # idle handles a thread keeps; more are closed (their connections stay)


@dataclass(slots=True)
class _Cache:
    """One thread's connections (in ``share``) and the handles on them."""

    share: pycurl.CurlShare
    idle: list[pycurl.Curl] = field(default_factory=list)
    members: set[int] = field(default_factory=set)  # ids of the handles on this cache


class Client:
    """Our headers, deadlines and trusted authorities, the SSRF guard, and libcurl handles
    that share a cache of open connections.

    Thread-safe: one client serves every thread of a process. A handle serves one request at a
    time (libcurl's rule), so a request takes an idle handle, or a new one, and gives it back.
    Each thread has its own cache of connections, kept from one request and one poll to the
    next: libcurl does not support one cache used by threads at once (its documented bug; a
    worker whose threads shared one crashed in libcurl under load). A forked child never uses
    its parent's handles or connections.
    """

    def __init__(self, settings: Settings) -> None:
        self.guard = Guard.from_settings(settings.allow_private_networks, settings.allowed_networks)
        self.user_agent = f"User-Agent: {settings.user_agent}"
        self.accept_encoding = ""  # every encoding libcurl decodes (gzip, deflate, brotli)
        self.handles_made = 0
        self._options = _handle_options(settings)
        self._lock = threading.Lock()
        self._start()

    def _start(self) -> None:
        """New caches of connections, and no handle yet."""
        self._pid = os.getpid()
        self._caches: dict[int, _Cache] = {}  # by thread

    def _cache(self) -> _Cache:
        """This thread's cache (called with the lock held)."""
        if self._pid != os.getpid():
            # Inherited through a fork: closing them would close (and, over TLS, end) the
            # parent's connections too. They are kept, never used.
            _INHERITED.append(self._caches)
            self._start()
        cache = self._caches.get(threading.get_ident())
        if cache is None:
            share = pycurl.CurlShare()
            share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_CONNECT)
            share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_SSL_SESSION)
            cache = self._caches[threading.get_ident()] = _Cache(share)
        return cache

    def take_handle(self) -> pycurl.Curl:
        """An idle handle, or a new one, for one request; ``give_back`` after it, in the same
        thread."""
        with self._lock:
            cache = self._cache()
            return cache.idle.pop() if cache.idle else self._new_handle(cache)

    def give_back(self, curl: pycurl.Curl) -> None:
        with self._lock:
            same_process = self._pid == os.getpid()
            cache = self._caches.get(threading.get_ident()) if same_process else None
            if cache is not None and id(curl) in cache.members:
                if len(cache.idle) < MAX_IDLE:
                    cache.idle.append(curl)
                    return
                cache.members.discard(id(curl))
        if same_process:
            curl.close()  # one idle too many (its connections stay cached), or made before clear

    def _new_handle(self, cache: _Cache) -> pycurl.Curl:
        curl = pycurl.Curl()
        for option, value in self._options:
            curl.setopt(option, value)
        curl.setopt(pycurl.ACCEPT_ENCODING, self.accept_encoding)
        curl.setopt(pycurl.SHARE, cache.share)
        cache.members.add(id(curl))
        self.handles_made += 1
        return curl

    def clear(self) -> None:
        """Close the connections; a handle busy meanwhile is closed when its request ends."""
        with self._lock:
            if self._pid != os.getpid():
                return
            caches = list(self._caches.values())
            self._start()
        for cache in caches:
            for curl in cache.idle:
                curl.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.clear()


_INHERITED: list[dict[int, _Cache]] = []


def _handle_options(settings: Settings) -> list[tuple[int, Any]]:
    """What every request of a handle shares."""
    return [
        (pycurl.NOSIGNAL, 1),  # threads: no SIGALRM for timeouts
        (pycurl.PROXY, ""),  # the environment's proxy settings would bypass the SSRF guard
        (pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS),
        (pycurl.FOLLOWLOCATION, 0),  # each hop is checked here
        (pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1),
        # An answer with no status line reaches ``_Transfer.write``, which names what it is.
        (pycurl.HTTP09_ALLOWED, 1),
        (pycurl.MAXFILESIZE_LARGE, settings.max_bytes),  # a declared length, refused unread
        (pycurl.NOPROGRESS, 0),  # ``_Transfer.progress`` keeps the read deadline
        *_trust(settings.ca_bundle),
    ]


def _trust(bundle: Path | None) -> list[tuple[int, Any]]:
    """The system's certificate authorities (where Python's ``ssl`` finds them, so
    ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` apply), and those of ``bundle`` too.

    A folder of certificates named by hash is read one certificate at a time, as a connection
    needs it; a bundle file is read whole into every handle (a megabyte each). So the folder
    is preferred, with ``bundle`` beside it."""
    system = ssl.get_default_verify_paths()
    if bundle is not None:
        try:
            ssl.create_default_context().load_verify_locations(cafile=str(bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"MONITOR_CA_BUNDLE={bundle}: not a readable PEM file of certificates ({exc})"
            ) from None
    if system.capath and _hashed(Path(system.capath)):
        folder: list[tuple[int, Any]] = [(pycurl.CAPATH, system.capath)]
        return folder if bundle is None else [*folder, (pycurl.CAINFO, str(bundle))]
    own = Path(system.cafile).read_bytes() if system.cafile else b""
    extra_pem = bundle.read_bytes() if bundle is not None else b""
    return [(pycurl.CAINFO_BLOB, own + b"\n" + extra_pem)]


def _hashed(folder: Path) -> bool:
    """Whether ``folder`` holds certificates by hash, as OpenSSL looks them up."""
    return any(_HASH_NAME.fullmatch(entry.name) for entry in folder.iterdir())


def make_client(settings: Settings) -> Client:
    """A client with our deadlines, User-Agent and SSRF guard; no automatic retries."""
    return Client(settings)
