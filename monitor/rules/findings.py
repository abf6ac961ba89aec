"""What an article was found to say, as JSON: its amounts, the entities named in it and the
rules it fired, each with the evidence (where in the text, and which term). The shape is a
contract: ``monitor check --json`` prints it and ``GET /v1/articles/{id}`` answers it (the
README documents both)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from monitor.money.amounts import Amount
from monitor.rules.match import Evidence, Report
from monitor.text.extract import Article


def _number(value: Decimal) -> int | str:
    return int(value) if value == value.to_integral_value() else str(value)


def _evidence(e: Evidence) -> dict[str, Any]:
    """A piece of evidence; money evidence also names the amount and its converted value."""
    item: dict[str, Any] = {"start": e.start, "end": e.end, "term": e.term}
    if e.amount is not None:
        item["amount"] = {"value": _number(e.amount.value), "currency": e.amount.currency}
    if e.converted is not None:
        item["converted"] = {
            "value": _number(e.converted.quantize(Decimal("0.01"))),
            "currency": e.name,
        }
    return item


def findings(article: Article, amounts: list[Amount], report: Report) -> dict[str, Any]:
    """The article's title, language, date and text, with what was found in it."""
    return {
        "title": article.title,
        "language": article.language,
        "published": article.published,
        "text": article.text,
        "amounts": [
            {
                "text": a.text,
                "value": _number(a.value),
                "currency": a.currency,
                "start": a.start,
                "end": a.end,
            }
            for a in amounts
        ],
        "entities": {
            name: [{"alias": h.term, "start": h.start, "end": h.end} for h in hits]
            for name, hits in report.entities.items()
        },
        "fired": [
            {"rule": m.rule, "evidence": [_evidence(e) for e in m.evidence]} for m in report.fired
        ],
    }
