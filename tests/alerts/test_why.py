"""An alert shows why its rule fired: the passages around each kind of evidence (the keyword
and the amount of a money rule, not just the article's first lines), and a "matched" line that
a real bidi implementation shows in order, Arabic terms beside English words."""

from __future__ import annotations

import re

import pytest
from bidi import get_display

from monitor.alerts.make import PASSAGE_GAP, make_alerts
from monitor.alerts.render import render
from monitor.rules.load import load_rules
from monitor.rules.match import Matcher
from monitor.text.extract import extract_article
from tests.support.files import ROOT, SEED


@pytest.fixture(scope="module")
def alerts() -> dict[str, dict[str, object]]:
    """The seed article's alert records under the example rules, by rule."""
    article = extract_article(SEED.read_bytes(), "https://example.org/musk")
    matcher = Matcher(load_rules(ROOT / "examples" / "rules.yaml").rules)
    amounts, report = matcher.examine(article.text, language=article.language)
    return {
        match.rule: make_alerts(article, "key", match, amounts, {"desk": ("json://x",)})[
            0
        ].to_dict()
        for match in report.fired
    }


def test_a_money_rule_shows_its_keyword_and_its_amount(
    alerts: dict[str, dict[str, object]],
) -> None:
    snippet = str(alerts["campaign-money"]["snippet"])
    assert "⟦حملة⟧" in snippet and "⟦70 مليون يورو⟧" in snippet
    assert PASSAGE_GAP in snippet  # the opening lines and the money passage lie apart
    assert len(snippet) < 600


def test_a_rule_whose_evidence_is_together_shows_one_passage(
    alerts: dict[str, dict[str, object]],
) -> None:
    snippet = str(alerts["musk-putin"]["snippet"])
    assert "⟦ماسك⟧" in snippet and "⟦بوتين⟧" in snippet and PASSAGE_GAP not in snippet


def test_the_matched_line_reads_in_order_in_text_and_html(
    alerts: dict[str, dict[str, object]],
) -> None:
    """One isolate around the whole showed "EUR 70,000,000 ≈ يورو مليون amount 70"."""
    record = alerts["campaign-money"]
    text = render(record, "text").body.splitlines()[0]
    html = render(record, "email").body
    span = re.search(r'<span dir="auto">\((.*?)\)</span>', html)
    assert span is not None
    for line in (text, span.group(1)):
        shown = get_display(line)
        assert "≈ 70,000,000 EUR" in shown, shown
        assert shown.index("amount") < shown.index("≈ 70,000,000 EUR"), shown
        assert "EUR 70,000,000 ≈" not in shown
