"""Reading a rules file: YAML to ``monitor.rules.model`` objects, every problem placed.

A file is refused as a whole: ``RulesError`` lists each problem as ``file:line:column: reason``.
YAML that does not parse is one problem; otherwise every key the schema refuses is listed, and
once the schema holds, every name that refers to nothing and every query that does not parse
(placed at the offending character of a one-line query). ``monitor.rules.live`` keeps the last
valid file in force while an edit is refused.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from monitor.errors import RulesError
from monitor.rules.channels import literal_secrets, unknown_service
from monitor.rules.model import Rule, RulesFile
from monitor.rules.query import QueryError, parse_query, terms_of


@dataclass(frozen=True)
class LoadedRules:
    """A validated rules file and where it came from."""

    path: str
    rules: RulesFile
    mtime_ns: int = 0
    text: str = ""


# --- YAML with positions -------------------------------------------------------------------

Path_ = tuple[str | int, ...]
_KEY = "\0key"  # marks[(*path, _KEY)] is where the key of that path is written


# A rules file is a few levels deep (rules, a rule, entities, all, a name); deeper nesting, or
# an alias that contains itself, is refused rather than followed down Python's stack.
MAX_DEPTH = 32
# Aliases let a few bytes stand for a large tree (nine levels of nine aliases: 387 million
# values). The values built may be at most this many times the characters of the file (plus a
# little): sharing a list of aliases between entities stays far below it.
MAX_EXPANSION = 2
MAX_FILE_BYTES = 100_000_000


class _Refused(Exception):
    def __init__(self, mark: yaml.Mark, reason: str) -> None:
        super().__init__(reason)
        self.mark = mark
        self.reason = reason


class _TooDeep(Exception):
    """Raised past ``MAX_DEPTH``; each level it passes adds its node, so the top can tell a
    loop (a node that contains itself) from plain deep nesting."""

    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__("too deep")
        self.mark = mark
        self.chain: list[int] = []

    def refusal(self) -> _Refused:
        if len(set(self.chain)) < len(self.chain):
            return _Refused(self.mark, "an alias inside the value it names: the value would "
                            "contain itself without end")  # fmt: skip
        return _Refused(self.mark, f"nested more than {MAX_DEPTH} levels deep")


class _Reader:
    """Plain Python data from a YAML node tree, noting where each value starts; bounded in
    depth and in how far aliases expand (``_Refused`` says where)."""

    def __init__(self, text_length: int) -> None:
        self.marks: dict[Path_, yaml.Mark] = {}
        self.errors: list[tuple[int, int, str]] = []
        self.budget = MAX_EXPANSION * text_length + 10_000

    def read(self, node: yaml.Node, path: Path_ = ()) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _Refused(node.start_mark, "aliases here expand to far more values than the "
                           "file holds (an alias bomb?); write the values out instead")  # fmt: skip
        if len(path) > MAX_DEPTH:
            raise _TooDeep(node.start_mark)
        self.marks[path] = node.start_mark
        try:
            return self._value(node, path)
        except _TooDeep as deep:
            deep.chain.append(id(node))
            raise
        except _Refused as refused:
            if len(path) == 1 and refused.reason.startswith("aliases"):
                # where the value that explodes is written, not where the budget ran out
                refused.mark = node.start_mark
            raise

    def _value(self, node: yaml.Node, path: Path_) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise _Refused(key_node.start_mark, "a key must be a plain value, not a "
                                   "list or a mapping")  # fmt: skip
                key = key_node.value
                if key in out:
                    mark = key_node.start_mark
                    self.errors.append((mark.line + 1, mark.column + 1, f"duplicate key {key!r}"))
                self.marks[(*path, key, _KEY)] = key_node.start_mark
                out[key] = self.read(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.read(v, (*path, i)) for i, v in enumerate(node.value)]
        try:
            return _SCALARS.construct_object(node)
        except yaml.constructor.ConstructorError as exc:  # a tag YAML cannot build here
            raise _Refused(node.start_mark, f"{exc.problem}; quote it if it is text") from None


# libyaml's composer when PyYAML has it: ten times faster on files of many thousand rules.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# A constructor for scalars only: ints, floats, booleans and strings as YAML 1.1 reads them.
_SCALARS = yaml.SafeLoader("")


def _position(marks: dict[Path_, yaml.Mark], loc: Path_) -> tuple[int, int]:
    for cut in range(len(loc), -1, -1):
        mark = marks.get(tuple(loc[:cut]))
        if mark is not None:
            return mark.line + 1, mark.column + 1
    return 1, 1


def _describe(error: Any) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return f"unknown key {error['loc'][-1]!r}"
    if kind == "missing":
        return f"missing required key {error['loc'][-1]!r}"
    return str(msg).removeprefix("Value error, ")


_HAS_WORD = re.compile(r"\w")
Problem = tuple[Path_, str, int | None]  # where, reason, offset inside a query string


def _check_query(rule: Rule, where: Path_, rules: RulesFile) -> list[Problem]:
    if rule.query is None:
        return []
    loc: Path_ = (*where, "query")
    try:
        tree = parse_query(rule.query)
    except QueryError as exc:
        return [(loc, f"query of rule {rule.name!r}: {exc.reason}", exc.at)]
    problems: list[Problem] = []
    for term in terms_of(tree):
        if term.kind == "entity" and term.text not in rules.entities:
            problems.append((loc, f"unknown entity {term.text!r} in rule {rule.name!r}", term.at))
        elif term.kind == "word" and not _HAS_WORD.search(term.text):
            reason = f"{term.text!r} in rule {rule.name!r} has no letter or digit to match"
            problems.append((loc, reason, term.at))
    return problems


def _check_references(rules: RulesFile) -> list[Problem]:
    problems: list[Problem] = []
    for name, aliases in rules.entities.items():
        if not aliases:
            problems.append((("entities", name), f"entity {name!r} has no aliases", None))
        for i, alias in enumerate(aliases):
            if not str(alias).strip():
                problems.append(
                    (("entities", name, i), f"entity {name!r} has an empty alias", None)
                )
            elif not _HAS_WORD.search(alias):
                reason = f"alias {alias!r} of entity {name!r} has no letter or digit to match"
                problems.append((("entities", name, i), reason, None))
    for name, urls in rules.channels.items():
        if not urls:
            problems.append((("channels", name), f"channel {name!r} has no URLs", None))
        for i, url in enumerate(urls):
            unknown = unknown_service(url)
            if unknown is not None:
                problems.append((("channels", name, i), f"channel {name!r}: {unknown}", None))
                continue
            for secret in literal_secrets(url)[:1]:
                shown = f"{secret[0]}…{secret[-1]}"
                reason = (
                    f"channel {name!r}: its URL holds a secret in clear ({shown}); write it as "
                    "${VAR}, or the whole URL as ${VAR}, and set VAR in the environment"
                )
                problems.append((("channels", name, i), reason, None))
    feeds = {f.url for f in rules.feeds} | {f.name for f in rules.feeds if f.name}
    seen: set[str] = set()
    for i, rule in enumerate(rules.rules):
        where: Path_ = ("rules", i)
        if rule.name in seen:
            problems.append(((*where, "name"), f"duplicate rule name {rule.name!r}", None))
        seen.add(rule.name)
        if (rule.entities, rule.keywords, rule.query, rule.money) == (None, None, None, None):
            reason = f"rule {rule.name!r} states no condition (entities, keywords, query or money)"
            problems.append((where, reason, None))
        problems += _check_query(rule, where, rules)
        for j, feed in enumerate(rule.feeds):
            if feed not in feeds:
                reason = f"feed {feed!r} of rule {rule.name!r} is not in the file's feeds"
                problems.append(((*where, "feeds", j), reason, None))
        for part in ("all", "any", "none") if rule.keywords else ():
            for j, keyword in enumerate(getattr(rule.keywords, part)):
                if not _HAS_WORD.search(keyword):
                    reason = f"keyword {keyword!r} in rule {rule.name!r} has no letter or digit"
                    problems.append(((*where, "keywords", part, j), reason, None))
        if rule.entities is not None:
            for part in ("all", "any", "none"):
                for j, ref in enumerate(getattr(rule.entities, part)):
                    if ref not in rules.entities:
                        reason = f"unknown entity {ref!r} in rule {rule.name!r}"
                        problems.append(((*where, "entities", part, j), reason, None))
        for j, channel in enumerate(rule.notify):
            if channel not in rules.channels:
                reason = f"unknown channel {channel!r} in rule {rule.name!r}"
                problems.append(((*where, "notify", j), reason, None))
        if rule.money is not None and rule.money.min is None and rule.money.max is None:
            problems.append(((*where, "money"), "money needs min, max or both", None))
    return problems


def _position_in(
    text: str, marks: dict[Path_, yaml.Mark], loc: Path_, offset: int | None
) -> tuple[int, int]:
    """Line and column of ``loc``; inside a one-line (plain or quoted) string, of the
    character at ``offset``."""
    line, column = _position(marks, loc)
    if offset is None or loc not in marks:
        return line, column
    lines = text.splitlines()
    source = lines[line - 1] if line <= len(lines) else ""
    opener = source[column - 1 : column]
    if opener in ("|", ">"):
        return line, column
    return line, column + offset + (1 if opener in ("'", '"') else 0)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector while a large rule set is built.

    Building 100,000 rules allocates millions of objects that all survive; each allocation
    burst triggers a collection that walks everything built so far, which made loading and
    compiling several times slower. Nothing built here forms cycles worth collecting early.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_rules(text: str, path: str = "<rules>") -> RulesFile:
    """Validate the text of a rules file; raise ``RulesError`` listing every problem."""
    with gc_paused():
        return _parse_rules(text, path)


def _line_and_column(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def _compose(text: str, path: str) -> yaml.Node | None:
    """The YAML node tree of the text; ``RulesError`` where it is not YAML."""
    try:
        return yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as fast:
        error = fast
    except yaml.reader.ReaderError as unreadable:  # a character YAML does not allow
        line, column = _line_and_column(text, unreadable.position)
        code = unreadable.character
        code = ord(code) if isinstance(code, str) else code  # the C reader gives a number
        reason = f"not valid YAML: the character {code:#06x} is not allowed in a rules file"
        raise RulesError(path, [(line, column, reason)]) from None
    except RecursionError:  # the pure-Python composer, on deep nesting
        raise RulesError(path, [(1, 1, "not valid YAML: nested too deeply")]) from None
    try:
        # The pure-Python composer words the error and places it where a person looks.
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as worded:
        error = worded
    except RecursionError:
        pass  # nested too deeply for it: libyaml's words stand
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    raise RulesError(path, [(line, column, f"not valid YAML: {error.problem or error}")])


def _too_large(size: int) -> str:
    return f"the file has {size:,} bytes, more than the {MAX_FILE_BYTES:,} a rules file may"


def _parse_rules(text: str, path: str) -> RulesFile:
    if len(text) > MAX_FILE_BYTES:
        raise RulesError(path, [(1, 1, _too_large(len(text)))])
    root = _compose(text, path)
    if root is None:
        raise RulesError(path, [(1, 1, "the file is empty; it needs at least a 'rules' list")])
    reader = _Reader(len(text))
    try:
        try:
            data = reader.read(root)
        except _TooDeep as deep:
            raise deep.refusal() from None
    except _Refused as refused:
        mark = refused.mark
        raise RulesError(path, [(mark.line + 1, mark.column + 1, refused.reason)]) from None
    marks, problems = reader.marks, reader.errors
    if not isinstance(data, dict):
        raise RulesError(
            path, [(1, 1, "the file must be a mapping with feeds, entities, channels and rules")]
        )
    try:
        rules = RulesFile.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            if error["type"] == "extra_forbidden":
                loc = (*loc, _KEY)
            line, column = _position(marks, loc)
            problems.append((line, column, _describe(error)))
        raise RulesError(path, problems) from None
    for loc, reason, offset in _check_references(rules):
        line, column = _position_in(text, marks, loc, offset)
        problems.append((line, column, reason))
    if problems:
        raise RulesError(path, problems)
    return rules


def load_rules(path: str | Path) -> LoadedRules:
    """Read and validate a rules file."""
    file = Path(path)
    try:
        if (size := file.stat().st_size) > MAX_FILE_BYTES:
            raise RulesError(str(path), [(1, 1, _too_large(size))])
        text = file.read_text(encoding="utf-8")
        mtime = file.stat().st_mtime_ns
    except OSError as exc:
        raise RulesError(str(path), [(1, 1, f"cannot read the file: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise RulesError(str(path), [(1, 1, f"the file is not UTF-8: {exc.reason}")]) from None
    return LoadedRules(str(path), parse_rules(text, str(path)), mtime, text)
