"""Many requests at once in one thread, on libcurl's multi interface: ``fetch_all``.

Each request goes through the contract of ``monitor.fetch`` (hop by hop, SSRF guard, deadlines,
cap). A request waits for a slot of its host before each hop: at most
``MONITOR_PER_HOST_CONCURRENCY`` in flight to one host from this call and, given ``HostSlots``,
from every process sharing the store; hosts take turns, and at most ``MONITOR_POLL_CONCURRENCY``
requests are in flight in this process, whatever number of its threads fetch at once (their
responses wait for one core to read them, and must not wait past their deadlines). Names are
looked up in a few threads, once per host and call, so a slow resolver does not hold the
others. The loop waits on the sockets libcurl names (epoll), not on threads, so hundreds of
requests in flight cost the CPU what their bytes cost.
"""

from __future__ import annotations

import os
import selectors
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import urlencode, urljoin

import pycurl
from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

from monitor.errors import ConnectError, MonitorError, TooManyRedirects, UnsupportedURL
from monitor.fetch.client import Client
from monitor.fetch.response import Fetched, Validators, check_status
from monitor.fetch.slots import HostSlots
from monitor.fetch.transfer import DEFAULT_PORTS, Transfer, failure, prepare
from monitor.settings import Settings
from monitor.ssrf import numeric_host

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
LOOKUP_THREADS = 8
SLOTS_RETRY = 0.25  # seconds before asking again for a host whose slots were all out
QUIET_CHECK = 1.0  # seconds between two looks for transfers that went quiet

Address = IPv4Address | IPv6Address
Outcome = Fetched | MonitorError


@dataclass(frozen=True, slots=True)
class Request:
    """One GET: the URL, what we accept, and the validators of the last response. Or, given
    ``form``, one POST of those fields (``application/x-www-form-urlencoded``), whose answer
    is the outcome whatever it is: a redirect is not followed."""

    url: str
    accept: str = "*/*"
    validators: Validators | None = None
    form: tuple[tuple[str, str], ...] | None = None


@dataclass(slots=True)
class _Job:
    """A request on its way: the hop to make next and the hops made."""

    index: int
    request: Request
    current: str
    visited: set[str] = field(default_factory=set)
    deadline: float = 0.0  # monotonic; set when its first hop starts

    def error(self, exc: MonitorError) -> MonitorError:
        """``exc``, naming the URL asked for."""
        if exc.subject is None:
            exc.subject = self.request.url
            exc.args = (f"{self.request.url}: {exc.reason}",)
        return exc


@dataclass(slots=True)
class _Hop:
    """One hop in flight (or waiting for its host's address)."""

    job: _Job
    host: str
    token: str | None
    parts: Url


def host_of(url: str) -> str:
    try:
        return (parse_url(url).host or "").lower()
    except (LocationParseError, ValueError):
        return ""


def _check_scheme(url: str) -> None:
    if not url.lower().startswith(("http://", "https://")):
        raise UnsupportedURL(f"only http and https URLs are fetched, not {url[:80]!r}")


def fetch_all(
    client: Client,
    requests: Sequence[Request],
    settings: Settings,
    slots: HostSlots | None = None,
) -> Iterator[tuple[int, Outcome]]:
    """Every request's outcome as it comes, with the request's index: the response, or the
    error of ``monitor.errors`` that ended it. The requests go on while the caller handles an
    outcome only as far as the network buffers; handle outcomes quickly."""
    run = _Run(client, settings, slots)
    try:
        yield from run.outcomes(requests)
    finally:
        run.close()


def fetch(
    client: Client,
    url: str,
    settings: Settings,
    accept: str = "*/*",
    validators: Validators | None = None,
) -> Fetched:
    """GET ``url`` within the limits of ``monitor.fetch``; errors of ``monitor.errors``."""
    for _, outcome in fetch_all(client, [Request(url, accept, validators)], settings):
        if isinstance(outcome, MonitorError):
            raise outcome
        return outcome
    raise AssertionError("fetch_all gave no outcome")  # pragma: no cover


class _ProcessRoom:
    """Requests in flight in this process, across every ``fetch_all`` of its threads: at most
    ``MONITOR_POLL_CONCURRENCY``. A process whose threads all fetch at once would otherwise
    hold more responses than its one core can read before their deadlines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._used = 0

    def take(self, wanted: int, limit: int) -> int:
        with self._lock:
            if self._pid != os.getpid():  # a forked child starts with none in flight
                self._pid, self._used = os.getpid(), 0
            granted = max(0, min(wanted, limit - self._used))
            self._used += granted
            return granted

    def give_back(self, count: int) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._used = max(0, self._used - count)


_PROCESS_ROOM = _ProcessRoom()


class _Run:
    """The state of one ``fetch_all``."""

    def __init__(self, client: Client, settings: Settings, slots: HostSlots | None) -> None:
        self.client = client
        self.settings = settings
        self.slots = slots
        self.per_host = max(1, settings.per_host_concurrency)
        self.room = max(1, settings.poll_concurrency)
        self.waiting: dict[str, deque[_Job]] = defaultdict(deque)
        self.busy: dict[str, int] = defaultdict(int)  # hops in flight or looking up, by host
        self.refused: dict[str, float] = {}  # hosts whose slots were all out, and when
        self.returned: dict[str, list[str]] = defaultdict(list)  # tokens to give back
        self.looking_up: list[tuple[_Hop, Future[Address]]] = []
        self.lookups: dict[tuple[str, int], Future[Address]] = {}
        self.lookup_pool: ThreadPoolExecutor | None = None
        self.in_flight: dict[pycurl.Curl, tuple[_Hop, Transfer]] = {}
        self.done: deque[tuple[int, Outcome]] = deque()
        self.selector = selectors.DefaultSelector()
        self.timer: float | None = None  # when libcurl wants to be called, monotonic
        self.quiet_checked = time.monotonic()
        self.starved = False  # the last start found the process's room all taken
        self.multi = pycurl.CurlMulti()
        self.multi.setopt(pycurl.M_SOCKETFUNCTION, self._watch)
        self.multi.setopt(pycurl.M_TIMERFUNCTION, self._set_timer)

    # The loop.

    def outcomes(self, requests: Sequence[Request]) -> Iterator[tuple[int, Outcome]]:
        for index, request in enumerate(requests):
            self._queue(_Job(index, request, request.url))
        while True:
            while self.done:
                yield self.done.popleft()
            if not (self.in_flight or self.looking_up or any(self.waiting.values())):
                return
            self._start_hops()
            self._begin_looked_up()
            self._wait()

    def _queue(self, job: _Job, first: bool = False) -> None:
        try:
            _check_scheme(job.current)
            host = host_of(job.current)
        except MonitorError as exc:
            self.done.append((job.index, job.error(exc)))
            return
        if first:  # a redirect: its deadline is running
            self.waiting[host].appendleft(job)
        else:
            self.waiting[host].append(job)

    def _start_hops(self) -> None:
        """Start what the limits allow: this process's room, then hosts in turns, each up to
        its slots. A hop holds its room until it ends."""
        now = time.monotonic()
        wanted: dict[str, int] = {}
        for host, queue in self.waiting.items():
            if queue and now - self.refused.get(host, -SLOTS_RETRY) >= SLOTS_RETRY:
                count = min(len(queue), self.per_host - self.busy[host])
                if count > 0:
                    wanted[host] = count
        room = _PROCESS_ROOM.take(sum(wanted.values()), self.room)
        self.starved = room < sum(wanted.values())
        for host, count in list(wanted.items()):
            wanted[host] = min(count, room)
            room -= wanted[host]
            if not wanted[host]:
                del wanted[host]
        _PROCESS_ROOM.give_back(room)
        if self.slots is None:
            granted: dict[str, list[str | None]] = {
                host: [None] * count for host, count in wanted.items()
            }
        elif wanted or self.returned:
            taken = self.slots.trade(self.returned, wanted)
            self.returned.clear()
            granted = {host: list(tokens) for host, tokens in taken.items()}
        else:
            return
        for host, count in wanted.items():
            tokens = granted.get(host, [])
            _PROCESS_ROOM.give_back(count - len(tokens))
            if len(tokens) < count:
                self.refused[host] = now
            for token in tokens:
                self._begin_hop(self.waiting[host].popleft(), host, token)

    def _begin_hop(self, job: _Job, host: str, token: str | None) -> None:
        """The hop's checks and its address; a numeric host is checked at once, a name looked
        up in a thread."""
        self.busy[host] += 1
        hop = _Hop(job, host, token, parse_url("http://unset/"))
        try:
            if len(job.visited) > MAX_REDIRECTS:
                raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")
            if job.current in job.visited:
                raise TooManyRedirects(f"redirect loop at {job.current}")
            job.visited.add(job.current)
            if not job.deadline:
                job.deadline = time.monotonic() + self.settings.total_timeout
            hop.parts = parse_url(job.current)
            if not hop.parts.host:
                raise UnsupportedURL("the URL has no host")
            scheme = (hop.parts.scheme or "http").lower()
            port = hop.parts.port or DEFAULT_PORTS[scheme]
            self.looking_up.append((hop, self._look_up(hop.parts.host, port)))
        except MonitorError as exc:
            self._end_hop(hop, job.error(exc))
        except (LocationParseError, ValueError):
            self._end_hop(hop, job.error(UnsupportedURL("not a URL we can parse")))

    def _look_up(self, host: str, port: int) -> Future[Address]:
        found = self.lookups.get((host, port))
        if found is not None:
            return found
        future: Future[Address] = Future()
        if numeric_host(host) is not None:  # checked at once, no lookup
            try:
                future.set_result(self.client.guard.resolve(host, port))
            except MonitorError as exc:
                future.set_exception(exc)
        else:
            if self.lookup_pool is None:
                self.lookup_pool = ThreadPoolExecutor(LOOKUP_THREADS, "lookup")
            future = self.lookup_pool.submit(
                self.client.guard.resolve, host, port, self.settings.connect_timeout
            )
        self.lookups[(host, port)] = future
        return future

    def _begin_looked_up(self) -> None:
        still: list[tuple[_Hop, Future[Address]]] = []
        for hop, lookup in self.looking_up:
            if not lookup.done():
                still.append((hop, lookup))
                continue
            try:
                address = lookup.result()
            except MonitorError as exc:
                self._end_hop(hop, hop.job.error(exc))
                continue
            sent = [self.client.user_agent, f"Accept: {hop.job.request.accept}"]
            if hop.job.request.validators is not None:
                sent += [f"{k}: {v}" for k, v in hop.job.request.validators.headers().items()]
            curl = self.client.take_handle()
            transfer = prepare(curl, hop.parts, address, sent, self.settings, hop.job.deadline)
            form = hop.job.request.form
            if form is None:
                curl.setopt(pycurl.HTTPGET, 1)  # the handle may have posted before
            else:
                curl.setopt(pycurl.POSTFIELDS, urlencode(form))
            self.in_flight[curl] = (hop, transfer)
            self.multi.add_handle(curl)
        self.looking_up = still

    def _wait(self) -> None:
        """Wait for the sockets or libcurl's timer, then let libcurl move the transfers on."""
        now = time.monotonic()
        limit = QUIET_CHECK
        if self.looking_up:
            limit = 0.01
        elif self.starved:  # the other threads of the process hold its room: soon back
            limit = 0.02
        elif self.refused and any(self.waiting.values()):
            limit = SLOTS_RETRY
        if self.timer is not None:
            limit = min(limit, max(0.0, self.timer - now))
        if self.selector.get_map():
            events = self.selector.select(limit)
        else:
            events = []
            time.sleep(limit)
        for key, mask in events:
            action = (pycurl.CSELECT_IN if mask & selectors.EVENT_READ else 0) | (
                pycurl.CSELECT_OUT if mask & selectors.EVENT_WRITE else 0
            )
            self.multi.socket_action(key.fd, action)
        if self.timer is not None and time.monotonic() >= self.timer:
            self.timer = None
            self.multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
        self._collect()
        if time.monotonic() - self.quiet_checked >= QUIET_CHECK:
            self._cut_quiet()

    def _watch(self, what: int, fd: int, _multi: object, _data: object) -> None:
        """libcurl's socket callback: which events of which socket to wait for."""
        if what == pycurl.POLL_REMOVE:
            if fd in self.selector.get_map():
                self.selector.unregister(fd)
            return
        events = {
            pycurl.POLL_IN: selectors.EVENT_READ,
            pycurl.POLL_OUT: selectors.EVENT_WRITE,
            pycurl.POLL_INOUT: selectors.EVENT_READ | selectors.EVENT_WRITE,
        }[what]
        if fd in self.selector.get_map():
            self.selector.modify(fd, events)
        else:
            self.selector.register(fd, events)

    def _set_timer(self, milliseconds: int) -> None:
        self.timer = None if milliseconds < 0 else time.monotonic() + milliseconds / 1000

    def _collect(self) -> None:
        while True:
            queued, finished, failed = self.multi.info_read()
            for curl in finished:
                self._hop_ended(curl, 0, "")
            for curl, code, message in failed:
                self._hop_ended(curl, int(code), str(message))
            if not queued:
                return

    def _cut_quiet(self) -> None:
        """End the transfers that heard nothing for ``MONITOR_READ_TIMEOUT``: libcurl calls
        their progress function only when something happens on them."""
        self.quiet_checked = now = time.monotonic()
        for curl, (_, transfer) in list(self.in_flight.items()):
            if now - transfer.last_heard > transfer.quiet_limit:
                transfer.quiet = True
                self._hop_ended(curl, pycurl.E_ABORTED_BY_CALLBACK, "no data")

    # A hop's end.

    def _hop_ended(self, curl: pycurl.Curl, code: int, message: str) -> None:
        hop, transfer = self.in_flight.pop(curl)
        job = hop.job
        self.multi.remove_handle(curl)
        outcome: Outcome | None
        if code and not transfer.unwanted:
            outcome = job.error(failure(code, message, transfer, curl, self.settings, job.deadline))
        elif transfer.status is None:
            outcome = job.error(ConnectError("the server closed the connection before answering"))
        else:
            outcome = self._answered(job, transfer.status, transfer.headers, transfer.body())
        self.client.give_back(curl)  # after ``failure``, which reads what the handle knows
        self._end_hop(hop, outcome)

    def _answered(
        self, job: _Job, status: int, headers: dict[str, str], content: bytes
    ) -> Outcome | None:
        """The request's outcome, or None when it goes on to the next hop."""
        location = headers.get("location")
        if status in _REDIRECTS and location and job.request.form is None:
            try:
                job.current = urljoin(job.current, location.strip())
            except ValueError:
                return job.error(UnsupportedURL("not a URL we can parse"))
            self._queue(job, first=True)
            return None
        try:
            check_status(job.request.url, status, headers)
        except MonitorError as exc:
            return exc
        return Fetched(job.request.url, job.current, status, headers, content)

    def _end_hop(self, hop: _Hop, outcome: Outcome | None) -> None:
        self.busy[hop.host] -= 1
        _PROCESS_ROOM.give_back(1)
        if hop.token is not None:
            self.returned[hop.host].append(hop.token)
        if outcome is not None:
            self.done.append((hop.job.index, outcome))

    def close(self) -> None:
        """Stop what is still in flight (the caller stopped early) and give every token
        back."""
        _PROCESS_ROOM.give_back(len(self.in_flight) + len(self.looking_up))
        for curl in list(self.in_flight):
            self.multi.remove_handle(curl)
            self.client.give_back(curl)
            hop, _ = self.in_flight.pop(curl)
            if hop.token is not None:
                self.returned[hop.host].append(hop.token)
        for hop, _ in self.looking_up:
            if hop.token is not None:
                self.returned[hop.host].append(hop.token)
        if self.slots is not None and self.returned:
            self.slots.trade(self.returned, {})
        if self.lookup_pool is not None:
            self.lookup_pool.shutdown(wait=False, cancel_futures=True)
        # The multi handle holds our callbacks, and they hold this run: without unsetting
        # them, the run and all it refers to would wait for a full collection of the cyclic
        # garbage collector, which a busy worker may run only once in many polls.
        self.multi.setopt(pycurl.M_SOCKETFUNCTION, None)
        self.multi.setopt(pycurl.M_TIMERFUNCTION, None)
        self.multi.close()
        self.selector.close()
