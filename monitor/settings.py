"""Settings, read once from the environment at the edge and passed down.

Every environment variable the monitor reads is a field here; the README's configuration table
lists the same names and defaults.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from monitor.errors import ConfigError

# Beyond this, one near-duplicate lookup reads thousands of keys in the store (4 * 697 at 15;
# see ``monitor.text.neardup``), so no setting may ask for more.
MAX_NEAR_DUPLICATE_DISTANCE = 11


def _default_state_dir() -> Path:
    return Path(platformdirs.user_data_dir("news-monitor"))


class Settings(BaseSettings):
    """The monitor's configuration. Environment variables are ``MONITOR_<FIELD>``, except
    ``REDIS_URL``."""

    model_config = SettingsConfigDict(env_prefix="MONITOR_", frozen=True, extra="ignore")

    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "MONITOR_REDIS_URL")
    )
    """Redis as broker and state store. Unset: the embedded default (files and SQLite)."""

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, url: str | None) -> str | None:
        if url and not re.match(r"(rediss?|unix)://", url):
            raise ValueError("a Redis URL such as redis://:PASSWORD@HOST:6379/0")
        return url or None

    rules: Path | None = None
    """The rules file, when a command is not given ``--rules``."""

    state_dir: Path = Field(default_factory=_default_state_dir)
    """Where the embedded default keeps its queue and state."""

    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 30.0
    """Deadlines, in seconds, for every URL we fetch (feeds and articles)."""

    max_bytes: int = 5_000_000
    """Largest body read from any URL; a larger one is refused."""

    ca_bundle: Path | None = None
    """A PEM file of certificate authorities trusted besides the system's (feeds on an
    intranet behind an internal CA)."""

    contact_url: str = "https://github.com/news-monitor/news-monitor"
    """Named in our User-Agent, so a publisher can reach whoever runs the crawler."""

    seen_retention_days: float = 30.0
    """How long an article's URL is remembered as seen."""

    beat_interval: float = 5.0
    """Seconds between two checks for feeds that are due."""

    requeue_after: float = 600.0
    """Seconds an article may wait queued before a poll queues it again (its message may have
    been lost with a worker or a broker restart; processing twice sends nothing twice)."""

    delivery_attempts: int = 8
    """Attempts per alert and target before it is recorded as failed for good."""

    delivery_backoff: float = Field(default=15.0, gt=0)
    """Seconds before the second attempt at an alert; each later wait doubles (with jitter, at
    most half an hour)."""

    delivery_max_hours: float = 24.0
    """Hours after an alert was made after which a failed attempt is its last."""

    delivery_lease: float = 120.0
    """Seconds one delivery may hold an alert; must exceed the longest send (apprise's own
    timeouts). A worker killed mid-send blocks that alert this long."""

    delivery_stale_after: float = 300.0
    """Seconds a pending alert may be overdue before the sweep queues it again (after a
    worker was killed, or a broker lost its messages)."""

    timezone: str = "UTC"
    """The analysts' time zone (IANA name, e.g. Asia/Riyadh): alerts show times in it."""

    display_currency: str = "EUR"
    """Amounts in alerts also show their value in this currency."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as Asia/Riyadh or UTC") from None
        return zone

    rates_url: str | None = None
    """The ECB daily reference-rate XML to refresh exchange rates from; unset: no refresh."""

    rates_refresh: float = 21600.0
    """Seconds between two refreshes of the exchange rates."""

    log_level: str = "INFO"

    allow_private_networks: bool = False
    """``1``: the fetcher may reach any address, loopback and private networks included."""

    allowed_networks: str = ""
    """Host names and CIDR networks the fetcher may reach although not globally routable,
    comma-separated (``feeds.intranet,10.1.0.0/16``); see ``monitor.ssrf``."""

    per_host_concurrency: int = 4
    """Requests in flight at once to one host, among every process sharing the store."""

    poll_concurrency: int = Field(default=200, ge=1)
    """Requests in flight at once in one process, whatever number of its threads fetch (feeds,
    and article pages in ``poll --once``); each fetch keeps its share in flight from one
    thread: they wait on the network, not the CPU."""

    poll_batch: int = 100
    """Feeds per poll task; hosts take turns within it."""

    api_tokens: SecretStr = SecretStr("")
    """Bearer tokens that may use the ingest API (``monitor serve``), comma-separated; with
    none, every request to it is refused. Secret: never logged."""

    api_rate: float = Field(default=120.0, gt=0)
    """Requests a minute one API token may make (bursts of as many allowed)."""

    api_client_rate: float = Field(default=240.0, gt=0)
    """Requests a minute one client address may make to the receiver, with or without a
    token."""

    api_timeout: float = Field(default=10.0, gt=0)
    """Seconds the receiver waits for a request's body before it gives up on it."""

    public_url: str | None = None
    """The receiver's (``monitor serve``) base URL as the internet reaches it, e.g.
    ``https://monitor.example.org``. Set, feeds whose publisher names a WebSub hub are
    subscribed to, with callbacks under it; unset, nothing subscribes."""

    @field_validator("public_url")
    @classmethod
    def _public(cls, url: str | None) -> str | None:
        if not url:
            return None
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
            raise ValueError("the receiver's base URL, such as https://monitor.example.org")
        return url.rstrip("/")

    push_safety_poll: float = Field(default=10800.0, gt=0)
    """Seconds between two polls of a feed whose WebSub subscription is active: what a push
    lost on its way is caught by (a feed's ``every`` wins when longer)."""

    push_lease: float = Field(default=864000.0, ge=3600)
    """Seconds of subscription asked of a hub (which may grant less); renewed before the
    end."""

    archive_days: float = Field(default=14.0, ge=0)
    """Days every processed article is kept in the archive (``monitor rules backtest``); 0:
    nothing is archived."""

    archive_url: SecretStr = SecretStr("")
    """The PostgreSQL database of the archive (``postgresql://user:password@host/db``); unset:
    SQLite beside the state on the embedded default, no archive with Redis. Secret: never
    logged."""

    poll_lease: float = Field(default=300.0, gt=0)
    """Seconds a feed taken for polling waits for its poll before it is due again: the
    feeds of a batch lost with a worker are polled again after this long."""

    max_backoff: float = 21600.0
    """Longest wait, in seconds, before polling a failing feed again, or that a publisher's
    ``Retry-After``, ``max-age`` or ``<ttl>`` may impose."""

    feed_failing_after: float = 86400.0
    """Seconds a feed may fail without a success before it is reported as failing."""

    ops_channel: str | None = None
    """An apprise URL that hears of feeds failing for longer than ``feed_failing_after``."""

    near_duplicate_window: float = Field(default=172800.0, ge=0)
    """Seconds an article's fingerprint is kept for near-duplicate checks; 0 turns them off."""

    near_duplicate_distance: int = Field(default=7, ge=-1, le=MAX_NEAR_DUPLICATE_DISTANCE)
    """Largest Hamming distance between two 64-bit SimHash fingerprints of near-duplicates;
    ``-1`` turns the check off. Measured on a 474-word story with a credit line of 5 to 15
    words and one word changed: such a copy is within 3 bits about half the time, within 7 in
    99 cases of 100 (74 for a 298-word story), while different stories on one topic stay 16
    bits or more apart. At most 11: see ``monitor.text.neardup`` for what a lookup costs."""

    log_json: bool | None = None
    """JSON lines (true) or plain text (false); unset: plain on a terminal, JSON otherwise."""

    metrics_port: int | None = None
    """Serve Prometheus metrics on this port from each worker; unset: not served."""

    metrics_address: str = "0.0.0.0"  # noqa: S104  (scraped from outside the container)
    """Address the metrics endpoint listens on."""

    beat_max_age: float = 60.0
    """`monitor health` fails when beat's last tick is older than this many seconds."""

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured and the embedded default is in use."""
        return not self.redis_url

    @property
    def user_agent(self) -> str:
        from monitor import __version__

        return f"news-monitor/{__version__} (+{self.contact_url})"


# What a value of each type must look like, in the words of the one line that refuses it.
_EXPECTED = {
    "float_parsing": "a number (seconds, bytes: 30, 2.5)",
    "float_type": "a number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_parsing": "true or false (1 or 0)",
    "greater_than_equal": "a number at least {ge}",
    "less_than_equal": "a number at most {le}",
}


def _variable(field: str) -> str:
    name = field.lower()  # the field, or the alias it was set by
    return "REDIS_URL" if name == "redis_url" else f"MONITOR_{name.upper()}"


def _shown(field: str, value: Any) -> str:
    """The value as it was set, its password masked (REDIS_URL carries one)."""
    text = str(value)
    if field.lower() == "redis_url":
        text = re.sub(r":[^:@/]*@", ":***@", text)
    return repr(text)


def load_settings() -> Settings:
    """The settings of the environment; a ``ConfigError`` of one line for each variable that is
    wrong: its name, its value (a password masked) and what it should be."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            context = error.get("ctx") or {}
            expected = _EXPECTED.get(error["type"])
            if expected is None:
                expected = str(error["msg"]).removeprefix("Value error, ")
            lines.append(
                f"{_variable(field)}={_shown(field, error['input'])}: expected "
                f"{expected.format(**context)}"
            )
        raise ConfigError("\n".join(lines)) from None
