"""Unit tests for rules (``monitor rules test RULES CASES``), as ``promtool test rules`` is for
alerting rules.

A cases file lists articles and what the rules must do with them::

    cases:
      - name: Musk and Putin, in Arabic
        text: "قال ماسك إنه تحدث مع بوتين"     # the article body, or:
        # html: pages/seed.html                 # a page, relative to the cases file
        language: ar                            # optional; an html page's own is used otherwise
        feed: https://example.org/rss.xml       # optional, for rules with feeds:
        fire: [musk-putin]                      # these rules must fire
        not_fire: [starlink]                    # and these must not

Rules named in neither list may do as they like. The article goes through the same steps as in
the worker: extraction (for ``html``), amounts, matching.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from monitor.errors import RulesError
from monitor.rules.match import Match, Matcher
from monitor.text.extract import extract_article


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    text: str | None = None
    html: str | None = None
    language: str | None = None
    feed: str | None = None
    fire: tuple[str, ...] = ()
    not_fire: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_article(self) -> Case:
        if (self.text is None) == (self.html is None):
            raise ValueError("give the article as either 'text' or 'html' (a file), not both")
        if not self.fire and not self.not_fire:
            raise ValueError("say which rules must fire ('fire') or must not ('not_fire')")
        return self


class CasesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cases: tuple[Case, ...]


@dataclass(frozen=True)
class Outcome:
    """What the rules did with one case; ``missing`` should have fired and did not,
    ``unwanted`` fired and should not have."""

    case: Case
    line: int
    fired: tuple[Match, ...]
    missing: tuple[str, ...]
    unwanted: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.missing and not self.unwanted


def load_cases(path: Path, rule_names: set[str]) -> list[tuple[int, Case]]:
    """The cases of a file with the line each starts on; ``RulesError`` on any problem."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except OSError as exc:
        raise RulesError(where, [(1, 1, f"cannot read the file: {exc.strerror}")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise RulesError(where, [(line, column, f"not valid YAML: {exc.problem}")]) from None
    data = yaml.safe_load(text)
    try:
        cases = CasesFile.model_validate(data).cases
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = ".".join(str(p) for p in error["loc"])
            problems.append((1, 1, f"{loc}: {str(error['msg']).removeprefix('Value error, ')}"))
        raise RulesError(where, problems) from None
    lines = [1] * len(cases)
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "cases" and isinstance(value, yaml.SequenceNode):
                lines = [item.start_mark.line + 1 for item in value.value]
    problems = [
        (line, 1, f"case {case.name!r} names unknown rule {name!r}")
        for line, case in zip(lines, cases, strict=True)
        for name in case.fire + case.not_fire
        if name not in rule_names
    ]
    if problems:
        raise RulesError(where, problems)
    return list(zip(lines, cases, strict=True))


def run_case(matcher: Matcher, case: Case, line: int, base: Path) -> Outcome:
    """Match one case's article and compare with what it expects."""
    language = case.language
    if case.html is not None:
        page = (base / case.html).read_bytes()
        article = extract_article(page, (base / case.html).resolve().as_uri())
        text, language = article.text, language or article.language
    else:
        text = case.text or ""
    fired = tuple(matcher.examine(text, language=language, feed=case.feed)[1].fired)
    names = {m.rule for m in fired}
    return Outcome(
        case,
        line,
        fired,
        tuple(n for n in case.fire if n not in names),
        tuple(n for n in case.not_fire if n in names),
    )


def describe(outcome: Outcome, path: str) -> list[str]:
    """Readable lines for one outcome: ``ok`` or ``FAIL`` and, on failure, a diff."""
    head = f"{'ok  ' if outcome.passed else 'FAIL'}  {outcome.case.name}  ({path}:{outcome.line})"
    lines = [head]
    for name in outcome.missing:
        lines.append(f"  - {name}: expected to fire, did not")
    by_rule = {m.rule: m for m in outcome.fired}
    for name in outcome.unwanted:
        terms = ", ".join(dict.fromkeys(e.term for e in by_rule[name].evidence))
        lines.append(f"  + {name}: fired, expected not to (evidence: {terms})")
    if not outcome.passed:
        lines.append(f"    fired: {', '.join(by_rule) or 'nothing'}")
    return lines
