"""Alerts: what a fired rule tells each target of its channels, and sending it through apprise.

One alert exists per (rule, article, channel target); its id is derived from those three, so
whoever makes it again (a redelivered task, a second feed carrying the same item) makes the
same id, and the store keeps one. The alert records only the channel's name and the target's
position in it, never the URL: URLs carry secrets and are resolved from the rules file and
the environment at the moment of sending.

An alert counts as sent when apprise reports success for its one target; the ledger in
``monitor.pipeline`` records that before the task is acknowledged.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import apprise

from monitor.errors import DeliveryFailed
from monitor.extract import Article
from monitor.match import Evidence, Match
from monitor.money import Amount

SNIPPET_CONTEXT = 120  # characters shown on each side of the first piece of evidence
# Unicode isolates keep right-to-left snippets from reordering the text around them.
_FSI, _PDI = "\u2068", "\u2069"


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


def amount_dict(amount: Amount) -> dict[str, Any]:
    return {
        "text": amount.text,
        "value": str(amount.value),
        "currency": amount.currency,
        "start": amount.start,
        "end": amount.end,
    }


@dataclass
class Alert:
    """One message to one target; its state lives in the store as ``alert:<id>``."""

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
    status: str = "pending"  # pending → sent, or failed once attempts are used up
    attempts: int = 0
    last_error: str | None = None
    sent_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        return cls(**data)


def make_alerts(
    article: Article,
    article_key: str,
    match: Match,
    amounts: list[Amount],
    channels: dict[str, tuple[str, ...]],
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
            amounts=[amount_dict(a) for a in amounts],
        )
        for channel in match.notify
        for index in range(len(channels.get(channel, ())))
    ]


def _why(alert: Alert) -> str:
    terms = dict.fromkeys(e["term"] for e in alert.evidence if e["kind"] != "money")
    parts = [", ".join(terms)] if terms else []
    money = [
        f"{e['term']} ≈ {_money(e['converted'])} {e['name']}"
        for e in alert.evidence
        if e["kind"] == "money"
    ]
    if money:
        parts.append("amount " + ", ".join(money))
    return "; ".join(parts)


def _money(value: str | None) -> str:
    """A value with thousands separators and at most two decimals: ``70,000,000``."""
    if value is None:
        return "?"
    number = Decimal(value)
    if number == number.to_integral_value():
        return f"{number:,.0f}"
    return f"{number:,.2f}"


def render_text(alert: Alert) -> tuple[str, str]:
    """Subject and plain-text/Markdown body."""
    subject = f"[{alert.rule}] {alert.title}"
    lines = [
        f"Rule: {alert.rule} (matched: {_FSI}{_why(alert)}{_PDI})",
        f"Title: {_FSI}{alert.title}{_PDI}",
        f"Source: {alert.source or '-'}",
        f"Published: {alert.published or 'unknown'}",
        f"Link: {alert.url}",
        "",
        f"{_FSI}{alert.snippet}{_PDI}",
    ]
    if alert.amounts:
        lines += [
            "",
            "Amounts: "
            + "; ".join(
                f"{_FSI}{a['text']}{_PDI} = {_money(a['value'])} {a['currency'] or '?'}"
                for a in alert.amounts
            ),
        ]
    return subject, "\n".join(lines)


def render_html(alert: Alert) -> str:
    """The HTML body for email: each text block carries ``dir="auto"`` for right-to-left text."""
    e = html.escape
    amounts = "".join(
        f"<li><bdi>{e(a['text'])}</bdi> = {_money(a['value'])} {e(a['currency'] or '?')}</li>"
        for a in alert.amounts
    )
    return (
        f'<div><p><b>Rule:</b> {e(alert.rule)} <span dir="auto">({e(_why(alert))})</span></p>'
        f'<h2 dir="auto"><a href="{e(alert.url)}">{e(alert.title)}</a></h2>'
        f"<p><b>Source:</b> {e(alert.source or '-')} · <b>Published:</b> "
        f"{e(alert.published or 'unknown')}</p>"
        f'<blockquote dir="auto">{alert.snippet_html}</blockquote>'
        + (f"<p><b>Amounts:</b></p><ul>{amounts}</ul>" if amounts else "")
        + "</div>"
    )


def send(alert: Alert, url: str) -> None:
    """Send one alert to one apprise URL; ``DeliveryFailed`` says why it was not accepted."""
    notifier = apprise.Apprise(asset=apprise.AppriseAsset(secure_logging=True))
    if not notifier.add(url):
        raise DeliveryFailed(
            "the channel URL is not one apprise understands",
            subject=f"{alert.channel}#{alert.target}",
        )
    subject, text = render_text(alert)
    is_email = url.split(":", 1)[0].lower() in ("mailto", "mailtos")
    with apprise.LogCapture(level=apprise.logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        ok = notifier.notify(
            title=subject,
            body=render_html(alert) if is_email else text,
            body_format=apprise.NotifyFormat.HTML if is_email else apprise.NotifyFormat.TEXT,
        )
        detail = captured.getvalue().strip().splitlines()
    if not ok:
        reason = detail[-1].split(" - ", 2)[-1] if detail else "the target refused the alert"
        raise DeliveryFailed(reason, subject=f"{alert.channel}#{alert.target}")
