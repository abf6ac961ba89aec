"""Alerts: what a fired rule tells each target of its channels.

One alert exists per (rule, article, channel target); its id is derived from those three, so
whoever makes it again (a redelivered task, a second feed carrying the same item) makes the
same id, and the store keeps one. The alert records only the channel's name and the target's
position in it, never the URL: URLs carry secrets and are resolved from the rules file and
the environment at the moment of sending (``monitor.alerts.send``).
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from monitor.money.amounts import Amount
from monitor.money.rates import RateTable
from monitor.rules.match import Evidence, Match
from monitor.text.extract import Article

SNIPPET_CONTEXT = 120  # characters shown on each side of the evidence, in all
MAX_PASSAGES = 3
PASSAGE_GAP = " … "


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


def _anchors(evidence: tuple[Evidence, ...]) -> list[Evidence]:
    """What the snippet must show, at most ``MAX_PASSAGES`` places, in text order: the first
    amount, the first keyword and the first entity (each kind of condition that fired), then
    the first hits of other terms."""
    firsts: dict[tuple[str, str], Evidence] = {}
    for item in evidence:
        firsts.setdefault((item.kind, item.name), item)
    chosen: list[Evidence] = []
    for kind in ("money", "keyword", "entity"):
        chosen += [e for e in firsts.values() if e.kind == kind][:1]
    chosen += [e for e in firsts.values() if e not in chosen]
    return sorted(chosen[:MAX_PASSAGES], key=lambda e: e.start)


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def make_snippet(text: str, evidence: tuple[Evidence, ...]) -> Snippet:
    """The passages of the text around what made the rule fire (each term's first hit, the
    amount that met the threshold), joined by " … " where they lie apart, every evidence span
    in them marked."""
    if not evidence:
        end = min(len(text), 2 * SNIPPET_CONTEXT)
        return Snippet(text[:end], (), False, end < len(text))
    anchors = _anchors(evidence)
    reach = SNIPPET_CONTEXT // len(anchors)
    windows: list[tuple[int, int]] = []
    for anchor in anchors:
        start, end = _whole_words(
            text, max(0, anchor.start - reach), min(len(text), anchor.end + reach)
        )
        if windows and start <= windows[-1][1] + len(PASSAGE_GAP):
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    pieces: list[str] = []
    marks: list[tuple[int, int]] = []
    offset = 0
    for number, (start, end) in enumerate(windows):
        if number:
            pieces.append(PASSAGE_GAP)
            offset += len(PASSAGE_GAP)
        for item in evidence:
            fits = start <= item.start and item.end <= end
            if fits and (not marks or offset + item.start - start >= marks[-1][1]):
                marks.append((offset + item.start - start, offset + item.end - start))
        pieces.append(text[start:end])
        offset += end - start
    first, last = windows[0][0], windows[-1][1]
    return Snippet("".join(pieces), tuple(marks), first > 0, last < len(text))


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
