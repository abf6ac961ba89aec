""" "Why not": for a rule that did not fire, the condition that failed and what came closest, for
each kind of condition (entity, keyword, query, NEAR, NOT, money, language, feed); its evidence
for one that fired."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.money.amounts import find_amounts
from monitor.rules.explain import explain
from monitor.rules.load import parse_rules
from monitor.rules.match import Matcher
from tests.support.files import ROOT

WORLD = "http://127.0.0.1:8000/world.xml"
BUSINESS = "http://127.0.0.1:8000/business.xml"
RULES = f"""\
feeds:
  - {{url: '{WORLD}', name: world, tags: [politics]}}
  - url: {BUSINESS}
entities:
  musk: ["Elon Musk", "Musk", "ماسك"]
  putin: ["Vladimir Putin", "Putin", "بوتين"]
channels:
  desk: ["json://127.0.0.1:9/hook"]
rules:
  - {{name: putin, entities: {{any: [putin]}}, notify: [desk]}}
  - {{name: sanctions, keywords: {{all: [sanctions]}}, notify: [desk]}}
  - {{name: near, query: 'sanctions NEAR/5 Kremlin', notify: [desk]}}
  - {{name: musk-not-putin, entities: {{all: [musk], none: [putin]}}, notify: [desk]}}
  - {{name: big-money, money: {{min: 50000000, currency: EUR}}, notify: [desk]}}
  - {{name: french, entities: {{any: [putin]}}, language: [fr], notify: [desk]}}
  - {{name: politics, entities: {{any: [putin]}}, feeds: ['tag:politics'], notify: [desk]}}
"""
MATCHER = Matcher(parse_rules(RULES))


def why(rule: str, text: str, **filters: str) -> tuple[bool, tuple[str, ...]]:
    explained = explain(MATCHER, rule, text, find_amounts(text), **filters)
    return explained.fired, explained.reasons


def test_an_entity_not_found_names_the_nearest_form_in_the_text() -> None:
    assert why("putin", "Vladimir Poutine said so.") == (
        False, ("entity 'putin' not found (nearest in the text: 'vladimir poutine')",)
    )  # fmt: skip
    assert why("putin", "The council met.") == (False, ("entity 'putin' not found",))


def test_a_keyword_not_found() -> None:
    fired, reasons = why("sanctions", "The sanction was lifted.")
    assert not fired and reasons[0].startswith("keyword 'sanctions' not found")
    assert "nearest in the text: 'sanction'" in reasons[0]


def test_near_terms_too_far_apart_say_how_far() -> None:
    text = "New sanctions came, said one of the many officials in the Kremlin."
    assert why("near", text) == (False, (
        "keyword 'sanctions' and keyword 'Kremlin' are 9 words apart at the closest; "
        "NEAR/5 allows at most 5",
    ))  # fmt: skip
    assert why("near", "The Kremlin said little.")[1] == ("keyword 'sanctions' not found",)


def test_an_excluded_term_present_is_named_with_the_text_it_matched() -> None:
    assert why("musk-not-putin", "قال ماسك إنه تحدث مع بوتين") == (
        False, ("excluded entity 'putin' is in the text: 'بوتين'",)
    )  # fmt: skip


def test_an_amount_below_the_threshold_is_named_with_its_value() -> None:
    fired, reasons = why("big-money", "The deal is worth 45 million euros.")
    assert not fired and reasons == (
        "the largest amount, '45 million euros' = 45,000,000 EUR, is below the minimum "
        "50,000,000 EUR",
    )
    assert why("big-money", "No money here.")[1] == ("no amount of money in the text",)
    assert why("big-money", "قال إن الصفقة بقيمة 70 مليون يورو")[0]


def test_the_language_and_feed_filters_say_what_they_wanted() -> None:
    assert why("french", "Putin spoke.", language="en") == (
        False, ("article language en is not in the rule's language (fr)",)
    )  # fmt: skip
    assert why("politics", "Putin spoke.", feed=BUSINESS) == (
        False, (f"the article's feed {BUSINESS} is not among the rule's feeds",)
    )  # fmt: skip
    assert why("politics", "Putin spoke.", feed=WORLD)[0]


def test_a_rule_that_fired_gives_its_evidence() -> None:
    # The evidence is the word as written, its clitic with it.
    assert why("musk-not-putin", "قال وماسك إن") == (True, ("entity musk: وماسك",))


def test_an_unknown_rule_is_refused_with_the_rules_there_are() -> None:
    with pytest.raises(ValueError, match="no rule named 'nope'"):
        why("nope", "text")


def test_monitor_check_explain(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    article = tmp_path / "a.txt"
    article.write_text("The deal is worth 45 million euros.", encoding="utf-8")

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor", "check", "--rules", str(rules), *args],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
            env={"PATH": "/usr/bin:/bin", "MONITOR_STATE_DIR": str(tmp_path / "state")},
        )  # fmt: skip

    text = check("--explain", "big-money", str(article))
    assert text.returncode == 0, text.stderr
    assert "explain:   big-money did not fire" in text.stdout
    assert "    - the largest amount, '45 million euros' = 45,000,000 EUR" in text.stdout
    document = json.loads(check("--json", "--explain", "big-money", str(article)).stdout)
    assert document["explain"]["fired"] is False and len(document["explain"]["reasons"]) == 1
    unknown = check("--explain", "nope", str(article))
    assert unknown.returncode == 2 and "no rule named 'nope'" in unknown.stderr
