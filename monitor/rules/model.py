"""What a rules file says: feeds, entities, channels and rules, as typed objects.

Semantics. A rule fires on an article when every condition it states holds:

* ``entities: {all: [...], any: [...], none: [...]}``: every entity of ``all`` occurs, at least
  one of ``any`` occurs (when ``any`` is given), no entity of ``none`` occurs. An entity occurs
  when any of its aliases does, as a whole word (see ``monitor.rules.match``).
* ``keywords``: the same three lists, with literal words or phrases instead of entity names.
* ``money: {min, max, currency}``: some amount in the article, converted into that currency,
  lies within the bounds (inclusive). Amounts in a currency with no known rate do not count
  (see ``monitor.money.rates``).
* ``query``: a boolean query (``AND``, ``OR``, ``NOT``, parentheses, "phrases", ``NEAR/n``,
  ``prefix*``, ``@entity``) that holds on the text; the language is in ``monitor.rules.query``.
* ``inflect: true``: the rule's keywords and query words also match their inflected forms
  (closed lists of endings per language, see ``monitor.text.inflect``). Entity aliases always do.
* ``language: [ar, en]``: only articles in one of these languages (ISO 639-1); ``feeds:``
  only articles from one of these feeds (URL or name from ``feeds:``, or ``tag:NAME`` for
  every feed with that tag). An article whose language or feed is unknown is not filtered out.

Feeds are written in ``feeds:`` or in the files ``feed_lists:`` names (OPML or one URL a line,
``monitor.rules.feedlists``). Tags are compared as ``tag_name`` writes them.

A rule must state at least one condition and notify at least one channel. Channels are lists
of apprise URLs; ``${VAR}`` in a URL is read from the environment when the alert is sent, so
secrets never sit in the file: one written in clear is refused (``monitor.rules.channels``).

``monitor.rules.load`` reads the YAML into these objects and checks what a schema cannot (names
that refer to nothing, empty aliases, queries that do not parse), with a position for each.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from monitor.errors import ConfigError
from monitor.rules.templates import KINDS, check_template

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_LONGEST = math.floor(timedelta.max.total_seconds())


def parse_duration(value: Any) -> timedelta:
    """``"90s"``, ``"5m"``, ``"1h30m"``, ``"1d"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.fullmatch(str(value).strip())
        if not match or not any(match.groups()):
            raise ValueError(f"{value!r} is not a duration; write it like 30s, 5m, 1h or 1d")
        d, h, m, s = (int(g or 0) for g in match.groups())
        seconds = float(((d * 24 + h) * 60 + m) * 60 + s)
    # written so that NaN fails too; past timedelta's range it would raise OverflowError, which
    # pydantic does not turn into a validation error
    if not 1 <= seconds <= _LONGEST:
        raise ValueError(f"a duration must be between one second and {timedelta.max.days} days")
    return timedelta(seconds=seconds)


def format_duration(duration: timedelta) -> str:
    """A duration as ``parse_duration`` reads it back: ``1h30m``; 90 seconds are ``1m30s``."""
    rest = int(duration.total_seconds())
    parts = []
    for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, seconds)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
DIGEST_PERIODS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}


def parse_digest_period(value: Any) -> timedelta:
    """``"hourly"``, ``"daily"`` or a duration."""
    if isinstance(value, str) and value in DIGEST_PERIODS:
        return DIGEST_PERIODS[value]
    return parse_duration(value)


DigestPeriod = Annotated[timedelta, BeforeValidator(parse_digest_period)]


def _at_least_one(noun: str) -> AfterValidator:
    """A list that must not be empty, refused in the file's words (``at least one alias``)."""

    def check(items: tuple[str, ...]) -> tuple[str, ...]:
        if not items:
            raise ValueError(f"at least one {noun} is expected")
        return items

    return AfterValidator(check)


Aliases = Annotated[tuple[str, ...], _at_least_one("alias")]
ChannelURLs = Annotated[tuple[str, ...], _at_least_one("URL")]
ChannelNames = Annotated[tuple[str, ...], _at_least_one("channel")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


TAG_PREFIX = "tag:"
_TAG_SEPARATORS = re.compile(r"[\s_]+")


def tag_name(text: str) -> str:
    """A tag as rules and feeds compare it: "Arabic Press", an OPML folder, is ``arabic-press``."""
    return _TAG_SEPARATORS.sub("-", text.strip()).casefold()


def tag_of_reference(reference: str) -> str | None:
    """The tag a rule's ``feeds:`` entry names (``tag:gulf``); None for a feed URL or name."""
    if not reference.startswith(TAG_PREFIX):
        return None
    return tag_name(reference.removeprefix(TAG_PREFIX))


def _tags(value: Any) -> Any:
    """``[gulf, arabic-press]`` or ``"gulf, arabic-press"``, each tag named by ``tag_name``."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        return value  # the schema words the error
    tags = [tag_name(item) if isinstance(item, str) else item for item in items]
    if "" in tags:
        raise ValueError("a tag must not be empty")
    return tuple(dict.fromkeys(tags))  # each once, in the order written


Tags = Annotated[tuple[str, ...], BeforeValidator(_tags)]


class Feed(_Strict):
    url: str
    every: Duration = timedelta(minutes=5)
    name: str | None = None
    tags: Tags = ()

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        if not re.match(r"https?://[^/\s]+", url):
            raise ValueError(f"{url!r} is not an http or https URL")
        return url


class FeedList(_Strict):
    """A file of feeds (OPML, or one URL a line), relative to the rules file; its ``every``
    and ``tags`` apply to each of its feeds (a line's own ``every`` wins)."""

    path: str = Field(min_length=1)
    every: Duration | None = None
    tags: Tags = ()


class Condition(_Strict):
    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    none: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return self.all + self.any + self.none


class MoneyCondition(_Strict):
    min: Decimal | None = None
    max: Decimal | None = None
    currency: str

    @field_validator("currency")
    @classmethod
    def _iso(cls, code: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{3}", code):
            raise ValueError(f"{code!r} is not an ISO 4217 code such as EUR or USD")
        return code.upper()


def _one_or_many(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


Names = Annotated[tuple[str, ...], BeforeValidator(_one_or_many)]


class Rule(_Strict):
    name: str = Field(min_length=1)
    entities: Condition | None = None
    keywords: Condition | None = None
    query: str | None = None
    money: MoneyCondition | None = None
    inflect: bool = False
    language: Names = ()
    feeds: Names = ()
    notify: ChannelNames
    cooldown: Duration | None = None
    """At most one alert per this long for the same set of entities; the rest are held for
    the next digest (``monitor.alerts.digest``)."""
    digest: DigestPeriod | None = None
    """``hourly``, ``daily`` or a duration: one message per period listing every article."""
    templates: dict[str, str] = {}
    """Jinja2 templates replacing the defaults, per channel kind (``monitor.alerts.render``)."""

    @field_validator("templates")
    @classmethod
    def _templates(cls, templates: dict[str, str]) -> dict[str, str]:
        for kind, source in templates.items():
            if kind not in KINDS:
                raise ValueError(f"template kind {kind!r} is not one of {', '.join(KINDS)}")
            problem = check_template(source, kind)
            if problem:
                raise ValueError(f"the {kind} template does not compile: {problem}")
        return templates

    @field_validator("language")
    @classmethod
    def _iso639(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        for code in codes:
            if not re.fullmatch(r"[a-z]{2}", code):
                raise ValueError(f"{code!r} is not an ISO 639-1 language code such as ar or en")
        return codes


class RulesFile(_Strict):
    feeds: tuple[Feed, ...] = ()
    feed_lists: tuple[FeedList, ...] = ()
    entities: dict[str, Aliases] = {}
    channels: dict[str, ChannelURLs] = {}
    rates: dict[str, Decimal] = {}
    """Units of a currency per euro, adding to or replacing the ECB table."""
    rules: tuple[Rule, ...] = ()

    @field_validator("rates")
    @classmethod
    def _rates(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        for code, rate in rates.items():
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise ValueError(f"{code!r} is not an ISO 4217 code such as SAR or EGP")
            if rate <= 0:
                raise ValueError(f"the rate for {code} must be a positive number of units per euro")
        return rates


def closest(word: str, known: Iterable[str]) -> str | None:
    """The one of ``known`` that ``word`` is most likely a misspelling of; None when none is
    close enough (difflib's similarity below 0.6)."""
    matches = difflib.get_close_matches(word, list(known), n=1)
    return matches[0] if matches else None


def did_you_mean(word: str, known: Iterable[str], shown: Callable[[str], str] = repr) -> str:
    """``; did you mean 'notify'?`` to end a reason with, naming the closest of ``known`` as
    ``shown`` writes it; empty when none is close."""
    match = closest(word, known)
    return "" if match is None else f"; did you mean {shown(match)}?"


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def env_names(url: str) -> list[str]:
    """The environment variables a channel URL refers to as ``${VAR}``, in order."""
    return _ENV_REF.findall(url)


def expand_env(url: str, environ: dict[str, str] | None = None) -> str:
    """Replace ``${VAR}`` in a channel URL; a missing variable is a ``ConfigError`` naming it."""
    env = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise ConfigError(f"environment variable {name} is not set")
        return env[name]

    return _ENV_REF.sub(value, url)


def missing_env(rules: RulesFile, environ: dict[str, str] | None = None) -> list[str]:
    """Names of variables the channel URLs reference that the environment lacks."""
    env = os.environ if environ is None else environ
    names = {name for urls in rules.channels.values() for url in urls for name in env_names(url)}
    return sorted(n for n in names if n not in env)
