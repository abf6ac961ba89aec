"""Alerts: what a fired rule tells each target of its channels, and sending it through apprise.

One alert exists per (rule, article, channel target); its id is derived from those three, so
whoever makes it again (a redelivered task, a second feed carrying the same item) makes the
same id, and the store keeps one. The alert records only the channel's name and the target's
position in it, never the URL: URLs carry secrets and are resolved from the rules file and
the environment at the moment of sending.

An alert counts as sent when apprise reports success for its one target (every service that
URL loaded accepted it; a partial success is a failure). ``monitor.delivery`` records that in
the store before the task is acknowledged.

Every message carries the alert id as its idempotency key, the same on every attempt: an
``Idempotency-Key`` header on HTTP targets that take headers (json://, xml://, form://) and
the ``Message-ID`` of email (``<id@smtp-host>``). A worker killed after a target accepted an
alert and before the store recorded it sends the alert again; a receiver that honours the
key (a webhook that keeps the keys it has seen, a mail store that drops a Message-ID it
already holds) shows the analyst one message. Chat services take no such key.
"""

from __future__ import annotations

import email.utils
import hashlib
import html
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import apprise

from monitor.errors import DeliveryFailed
from monitor.extract import Article
from monitor.match import Evidence, Match
from monitor.money import Amount
from monitor.rates import RateTable
from monitor.render import kind_of, render
from monitor.secrets import hidden, redact, secrets_of

SNIPPET_CONTEXT = 120  # characters shown on each side of the first piece of evidence
IDEMPOTENCY_HEADER = "Idempotency-Key"

# The Message-ID of the email being sent in this thread or task, if any. Apprise makes the
# Message-ID itself, after any header we give it, so the only way to make it stable is to
# answer its call for a new one (``_message_id`` below).
_MESSAGE_ID_KEY: ContextVar[str | None] = ContextVar("message_id_key", default=None)


def _message_id(idstring: str | None = None, domain: str | None = None) -> str:
    key = _MESSAGE_ID_KEY.get()
    if key is None:
        return email.utils.make_msgid(idstring, domain)
    return f"<{key}@{domain or 'localhost'}>"


# The plain-text part of the email being sent in this thread or task, if any. Apprise makes
# an HTML email's plain part by converting the HTML, which drops the marks around the matched
# words; answering its call for that conversion (``_plain_part`` below) puts ours there.
_PLAIN_PART: ContextVar[str | None] = ContextVar("plain_part", default=None)


def _install_email_hooks() -> None:
    import apprise.plugins.email.base as email_base

    found = vars(email_base)
    for name in ("make_msgid", "convert_between"):
        if name not in found:
            raise ImportError(
                f"apprise's email plugin no longer calls {name}: stable Message-IDs and our "
                "plain-text part need monitor.alerts updated"
            )
    convert: Callable[[Any, Any, str | None], Any] = found["convert_between"]

    def _plain_part(from_format: Any, to_format: Any, content: str | None = None) -> Any:
        plain = _PLAIN_PART.get()
        if plain is not None and (from_format, to_format) == (
            apprise.NotifyFormat.HTML,
            apprise.NotifyFormat.TEXT,
        ):
            return plain
        return convert(from_format, to_format, content)

    found["make_msgid"] = _message_id
    found["convert_between"] = _plain_part


_install_email_hooks()


def alert_id(rule: str, article_key: str, channel: str, target: int) -> str:
    """The identity of one alert: the same inputs always give the same id."""
    raw = "\x1f".join((rule, article_key, channel, str(target)))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class Snippet:
    """A window of the article text around the evidence, with the matched spans marked.

    ``marks`` are ``(start, end)`` offsets into ``text``.
    """

    text: str
    marks: tuple[tuple[int, int], ...]
    clipped_start: bool
    clipped_end: bool

    def render(self, open_mark: str, close_mark: str, escape: Any = str) -> str:
        out: list[str] = ["…" if self.clipped_start else ""]
        cursor = 0
        for start, end in self.marks:
            out += [escape(self.text[cursor:start]), open_mark, escape(self.text[start:end])]
            out.append(close_mark)
            cursor = end
        out += [escape(self.text[cursor:]), "…" if self.clipped_end else ""]
        return "".join(out)


def make_snippet(text: str, evidence: tuple[Evidence, ...]) -> Snippet:
    """The text around the first piece of evidence, every evidence span in it marked."""
    if not evidence:
        end = min(len(text), 2 * SNIPPET_CONTEXT)
        return Snippet(text[:end], (), False, end < len(text))
    first = evidence[0]
    start = max(0, first.start - SNIPPET_CONTEXT)
    end = min(len(text), first.end + SNIPPET_CONTEXT)
    # Widen to whole words so the snippet does not begin or end mid-word.
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    marks: list[tuple[int, int]] = []
    for item in evidence:
        if item.start >= start and item.end <= end and (not marks or item.start >= marks[-1][1]):
            marks.append((item.start - start, item.end - start))
    return Snippet(text[start:end], tuple(marks), start > 0, end < len(text))


def amount_dict(
    amount: Amount, rates: RateTable | None = None, display: str = "EUR"
) -> dict[str, Any]:
    """An amount as alerts store it, with its value in the display currency when known."""
    item: dict[str, Any] = {
        "text": amount.text,
        "value": str(amount.value),
        "currency": amount.currency,
        "start": amount.start,
        "end": amount.end,
    }
    if rates is not None and amount.currency and amount.currency != display:
        converted = rates.convert(amount.value, amount.currency, display)
        if converted is not None:
            item["converted"] = str(round(converted, 2))
            item["converted_currency"] = display
    return item


@dataclass
class Alert:
    """One message to one target; its state lives in the store as ``alert:<id>``.

    ``status``: ``pending`` → ``sent``, or ``failed`` once attempts or hours are used up (the
    dead letter); ``held`` (cooldown or digest mode) → ``digested`` once a digest lists it.
    A digest is itself an alert whose ``items`` list the articles it reports.
    """

    id: str
    rule: str
    channel: str
    target: int
    article_key: str
    url: str
    title: str
    source: str
    published: str | None
    language: str | None
    snippet: str  # plain text, matched words between ⟦ ⟧
    snippet_html: str
    evidence: list[dict[str, Any]]
    amounts: list[dict[str, Any]]
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    status: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    sent_at: str | None = None
    due_at: float = 0.0  # epoch seconds when the next attempt is due
    items: list[dict[str, Any]] = field(default_factory=list)
    digest: str | None = None  # the digest that listed this held alert

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def make_alerts(
    article: Article,
    article_key: str,
    match: Match,
    amounts: list[Amount],
    channels: dict[str, tuple[str, ...]],
    rates: RateTable | None = None,
    display_currency: str = "EUR",
) -> list[Alert]:
    """One alert for each target of each channel the fired rule notifies."""
    snippet = make_snippet(article.text, match.evidence)
    plain = snippet.render("⟦", "⟧")
    marked = snippet.render("<mark>", "</mark>", html.escape)
    evidence = [
        {
            "kind": e.kind,
            "name": e.name,
            "term": e.term,
            "start": e.start,
            "end": e.end,
            **({"converted": str(e.converted)} if e.converted is not None else {}),
        }
        for e in match.evidence
    ]
    found = [amount_dict(a, rates, display_currency) for a in amounts]
    return [
        Alert(
            id=alert_id(match.rule, article_key, channel, index),
            rule=match.rule,
            channel=channel,
            target=index,
            article_key=article_key,
            url=article.url,
            title=article.title,
            source=article.source,
            published=article.published,
            language=article.language,
            snippet=plain,
            snippet_html=marked,
            evidence=evidence,
            amounts=found,
        )
        for channel in match.notify
        for index in range(len(channels.get(channel, ())))
    ]


def send(
    alert: Alert,
    url: str,
    *,
    zone: str = "UTC",
    templates: Mapping[str, str] | None = None,
    secrets: tuple[str, ...] = (),
) -> None:
    """Send one alert to one apprise URL; ``DeliveryFailed`` says why it was not accepted.

    Neither the reason nor any log line written meanwhile contains the URL's secrets
    (``monitor.secrets``), whatever apprise logged.
    """
    secrets = (*secrets, *secrets_of(url, []))
    with hidden(secrets):
        _send(alert, url, zone, templates or {}, secrets)


def _send(
    alert: Alert, url: str, zone: str, templates: Mapping[str, str], secrets: tuple[str, ...]
) -> None:
    asset = apprise.AppriseAsset(secure_logging=True)
    subject = f"{alert.channel}#{alert.target}"
    plugin = apprise.Apprise.instantiate(url, asset=asset)
    if not plugin:
        raise DeliveryFailed("the channel URL is not one apprise understands", subject=subject)
    message = render(alert.to_dict(), kind_of(url), zone, templates)
    headers = getattr(plugin, "headers", None)
    if message.kind != "email" and isinstance(headers, dict):
        headers[IDEMPOTENCY_HEADER] = alert.id
    notifier = apprise.Apprise(asset=asset)
    notifier.add(plugin)
    body_format = {
        "email": apprise.NotifyFormat.HTML,
        "markdown": apprise.NotifyFormat.MARKDOWN,
        "text": apprise.NotifyFormat.TEXT,
    }[message.kind]
    token = _MESSAGE_ID_KEY.set(alert.id)
    plain = _PLAIN_PART.set(message.text)
    try:
        with apprise.LogCapture(level=apprise.logging.WARNING) as captured:  # type: ignore[no-untyped-call]
            result = notifier.notify(
                title=message.subject, body=message.body, body_format=body_format
            )
            detail = captured.getvalue().strip().splitlines()
    finally:
        _PLAIN_PART.reset(plain)
        _MESSAGE_ID_KEY.reset(token)
    services = list(result)
    # Check each service the URL loaded, not only the overall result: a partial success is
    # a failure of this target, and the whole target is tried again.
    if result.status == apprise.AppriseResultStatus.SUCCESS and services and all(services):
        return
    reason = detail[-1].split(" - ", 2)[-1] if detail else "the target refused the alert"
    raise DeliveryFailed(redact(reason, secrets), subject=subject)
