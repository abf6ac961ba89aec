"""Reading a rules file: YAML to ``monitor.rules.model`` objects, every problem placed.

A file is refused as a whole: ``RulesError`` lists each problem as ``file:line:column: reason``.
YAML that does not parse is one problem. Otherwise one pass lists them all: each value the
schema refuses, in the file's words (``rules[2].money.min: a number is expected, got 'lots'``,
``rules[0]: unknown key 'notfiy'; did you mean 'notify'?``), and in every part the schema took
(a rule, an entity, a channel), each name that refers to nothing (with the nearest that does)
and each query that does not parse (placed at the offending character of a one-line query). A
rule the schema refused is read as meant (``_mended``: a misspelt key as the key meant, a
broken value left out) so its references are checked too; a part the schema refused still
declares its name: one mistake is reported once. The YAML is read by
``monitor.rules.positions``. ``monitor.rules.live`` keeps the last valid file in force while an
edit is refused.

The feed lists the file names (``feed_lists:``, ``monitor.rules.feedlists``) are read with it,
relative to it, and their feeds merged into ``feeds``, one per URL. A list that cannot be read
is a problem of the rules file, at its ``path``. A bad line of a list is placed at
``list:line``; it refuses the file unless the caller skips such lines (the running worker
does, so one bad line does not stop the other feeds): then they are ``LoadedRules.skipped``.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from monitor.errors import RulesError
from monitor.rules.channels import literal_secrets, unknown_service
from monitor.rules.feedlists import (
    ListDefaults,
    ListProblem,
    ListUnreadable,
    merge_feeds,
    read_feed_list,
)
from monitor.rules.model import (
    Feed,
    FeedList,
    Rule,
    RulesFile,
    closest,
    did_you_mean,
    tag_name,
    tag_of_reference,
)
from monitor.rules.positions import (
    KEY,
    MAX_FILE_BYTES,
    Path_,
    Reader,
    Refused,
    TooDeep,
    compose,
    position,
    too_large,
)
from monitor.rules.query import QueryError, parse_query, terms_of


@dataclass(frozen=True)
class LoadedRules:
    """A validated rules file and where it came from: its text, and the feed lists it read
    with ``stamp``, the mtimes of the file and of each list (None: unreadable) as they were
    read, for telling when one changed."""

    path: str
    rules: RulesFile
    mtime_ns: int = 0
    text: str = ""
    lists: tuple[Path, ...] = ()
    stamp: tuple[int | None, ...] = ()
    skipped: tuple[ListProblem, ...] = ()
    """The bad lines of the lists, left out (only when the caller asked to skip them)."""


# Bad lines of feed lists said at each load: the first few say what is wrong; thousands would
# bury the rest of the log.
SHOWN_BAD_LINES = 20


def skipped_lines(loaded: LoadedRules) -> list[str]:
    """The bad list lines ``loaded`` left out, as said to a person: the first
    ``SHOWN_BAD_LINES`` each on a line, then how many more."""
    said = [f"feed list line skipped: {problem}" for problem in loaded.skipped[:SHOWN_BAD_LINES]]
    if len(loaded.skipped) > SHOWN_BAD_LINES:
        more = len(loaded.skipped) - SHOWN_BAD_LINES
        said.append(f"feed lists of {loaded.path}: {more} more bad lines skipped")
    return said


class RulesRefused(RulesError):
    """A ``RulesError`` of a rules file whose feed lists were read: it names the lists (a
    worker watches them for the fix) and their bad lines, each ``list:line: reason`` after
    the rules file's own ``file:line:column: reason``."""

    def __init__(
        self,
        path: str,
        problems: list[tuple[int, int, str]],
        in_lists: Sequence[ListProblem],
        lists: tuple[Path, ...],
    ) -> None:
        super().__init__(path, problems)
        self.in_lists = tuple(in_lists)
        self.lists = lists
        lines = [*(str(self).splitlines() if problems else ()), *map(str, self.in_lists)]
        self.args = ("\n".join(lines),)
        self.reason = lines[0] if lines else "invalid rules"


def file_stamp(paths: Sequence[Path]) -> tuple[int | None, ...]:
    """The mtime of each file, None for one that cannot be read."""
    stamp: list[int | None] = []
    for path in paths:
        try:
            stamp.append(path.stat().st_mtime_ns)
        except OSError:
            stamp.append(None)
    return tuple(stamp)


# --- the schema's errors, in the file's words ------------------------------------------------

# What the schema wanted, by the type of pydantic's error; the validators of
# ``monitor.rules.model`` word their own errors (``value_error``).
_EXPECTED = {
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "decimal_parsing": "a number",
    "decimal_type": "a number",
    "finite_number": "a finite number",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "string_type": "a string",
    "string_unicode": "text in UTF-8",
    "string_too_short": "a string that is not empty",
    "tuple_type": "a list",
}


def _key_path(loc: Path_) -> str:
    """A place in the file as its author reads it: ``rules[2].money.min``."""
    path = ""
    for step in loc:
        path += f"[{step}]" if isinstance(step, int) else f".{step}" if path else step
    return path


def _at(loc: Path_, reason: str) -> str:
    return f"{_key_path(loc)}: {reason}" if loc else reason


def _shown(value: Any) -> str:
    """A value as the file wrote it, or what kind of value it is when it is not a plain one."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bytes):
        return "binary data"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)


def _without_none(kind: Any) -> Any:
    """``X`` of a field typed ``X | None``."""
    if get_origin(kind) in (Union, UnionType):
        return next(option for option in get_args(kind) if option is not type(None))
    return kind


def _keys_at(loc: Path_) -> list[str]:
    """The keys the schema knows in the mapping at ``loc``, found by following ``loc`` down
    the schema's types: a model's fields, a list's items, a mapping's values."""
    kind: Any = RulesFile
    for step in loc:
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            kind = _without_none(kind.model_fields[str(step)].annotation)
        else:
            # tuple[X, ...] or dict[str, X]
            kind = get_args(kind)[-1 if get_origin(kind) is dict else 0]
    return list(kind.model_fields) if isinstance(kind, type) and issubclass(kind, BaseModel) else []


def _meant_keys(errors: list[ErrorDetails]) -> set[Path_]:
    """Keys that an unknown key is a misspelling of: ``notfiy`` written for ``notify`` is
    reported with the hint, and ``notify`` not reported missing as well."""
    meant: set[Path_] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            *parent, key = error["loc"]
            match = closest(str(key), _keys_at(tuple(parent)))
            if match is not None:
                meant.add((*parent, match))
    return meant


def _describe(error: ErrorDetails) -> str:
    loc, kind = tuple(error["loc"]), error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return _at(loc[:-1], f"unknown key {key!r}{did_you_mean(key, _keys_at(loc[:-1]))}")
    if kind == "missing":
        return _at(loc[:-1], f"{loc[-1]!r} is missing")
    if kind in _EXPECTED:
        return _at(loc, f"{_EXPECTED[kind]} is expected, got {_shown(error['input'])}")
    return _at(loc, error["msg"].removeprefix("Value error, "))


def _schema_problems(
    errors: list[ErrorDetails], marks: dict[Path_, yaml.Mark]
) -> list[tuple[int, int, str]]:
    meant = _meant_keys(errors)
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "missing" and loc in meant:
            continue
        if error["type"] == "extra_forbidden":
            loc = (*loc, KEY)
        line, column = position(marks, loc)
        problems.append((line, column, _describe(error)))
    return problems


def _without(data: dict[str, Any], broken: set[Path_]) -> dict[str, Any]:
    """The file's data less each part of it in ``broken``: a whole section (``("rules",)``)
    or one item of a section (``("rules", 2)``, ``("entities", "musk")``)."""
    kept: dict[str, Any] = {}
    for section, value in data.items():
        if (section,) in broken:
            continue
        if isinstance(value, list):
            value = [item for i, item in enumerate(value) if (section, i) not in broken]
        elif isinstance(value, dict):
            value = {key: item for key, item in value.items() if (section, key) not in broken}
        kept[section] = value
    return kept


def _kept(data: dict[str, Any], broken: set[Path_], section: str) -> list[int]:
    """Where in the file's list ``section`` each item the schema kept stands."""
    items = data.get(section, ())
    if (section,) in broken or not isinstance(items, list):
        return []
    return [i for i in range(len(items)) if (section, i) not in broken]


def _validate(
    data: dict[str, Any], marks: dict[Path_, yaml.Mark]
) -> tuple[RulesFile, dict[str, Any], set[Path_], list[ErrorDetails], set[int]]:
    """The file as the schema reads it, the data it read (rules mended), the parts it left
    out, its errors, and the places of the rules mended. A part with an error (a whole
    section, or one feed, entity, channel, rate or rule) is left out, so that the rest is still
    checked; a rule is first mended (``_mended``) so that its references are checked too."""
    try:
        return RulesFile.model_validate(data), data, set(), [], set()
    except ValidationError as exc:
        errors = exc.errors()
    data, mended = _mended(data, errors, marks)
    try:
        RulesFile.model_validate(data)
        broken: set[Path_] = set()
    except ValidationError as exc:
        broken = {tuple(error["loc"][:2]) for error in exc.errors()}
    # What is left holds by construction: each part of it passed on its own, and no check of
    # the schema spans two parts of a section.
    return RulesFile.model_validate(_without(data, broken)), data, broken, errors, mended


def _mended(
    data: dict[str, Any], errors: list[ErrorDetails], marks: dict[Path_, yaml.Mark]
) -> tuple[dict[str, Any], set[int]]:
    """The file with each rule the schema refused read as its author meant it, where that can
    be told: a misspelt key (``notfiy``) as the key it is closest to, when that one is not
    there; a key with a wrong value left out. So ``notify: [dsek]`` is still checked in a rule
    whose ``money.min`` is not a number. Returns the places of the rules mended: only their
    references are checked, so what was left out is not reported again as missing. A key
    read as another keeps its place in the file: ``marks`` learns the new name of each."""
    rules = data.get("rules")
    if not isinstance(rules, list):
        return data, set()
    mended = list(rules)
    changed: set[int] = set()
    for error in errors:
        loc = tuple(error["loc"])
        if len(loc) < 3 or loc[0] != "rules" or not isinstance(mended[int(loc[1])], dict):
            continue
        index, key = int(loc[1]), str(loc[2])
        rule = mended[index] = dict(mended[index])
        changed.add(index)
        if key not in rule:
            continue
        value = rule.pop(key)
        meant = closest(key, _keys_at(("rules", index)))
        if error["type"] == "extra_forbidden" and meant is not None and meant not in rule:
            rule[meant] = value
            written = ("rules", index, key)
            for place, mark in list(marks.items()):
                if place[:3] == written:
                    marks[("rules", index, meant, *place[3:])] = mark
    return {**data, "rules": mended}, changed


# --- the names the rules refer to -------------------------------------------------------------


@dataclass(frozen=True)
class _Names:
    """The names one section of the file declares, read before the schema: an entity, channel
    or feed the schema refused still counts, so the rules naming it are not refused as well.
    A section that is not even a list or mapping of them is ``unreadable``: no name can be said
    to be missing from it."""

    known: frozenset[str] = frozenset()
    unreadable: bool = False

    def lacks(self, name: str) -> bool:
        return not self.unreadable and name not in self.known

    def hint(self, name: str) -> str:
        return did_you_mean(name, self.known)


@dataclass(frozen=True)
class _Declared:
    """What the rules may refer to: entities, channels, feeds by URL or name, and tags."""

    entities: _Names
    channels: _Names
    feeds: _Names
    tags: _Names


def _section(data: dict[str, Any], name: str, default: Any) -> Any:
    """A top-level section of the file; when the file lacks it, the one under a key misspelled
    for it (refused as unknown, with the hint): ``entites:`` still declares its entities."""
    if name in data:
        return data[name]
    sections = RulesFile.model_fields
    misspelled = (v for k, v in data.items() if k not in sections and closest(k, sections) == name)
    return next(misspelled, default)


def _names_of(section: Any) -> _Names:
    return _Names(frozenset(section)) if isinstance(section, dict) else _Names(unreadable=True)


def _feed_names(feeds: Any, listed: Sequence[Feed]) -> _Names:
    """Each feed's URL and name, in the file or its lists: the two ways a rule may refer to
    it."""
    if not isinstance(feeds, list) or not all(isinstance(feed, dict) for feed in feeds):
        return _Names(unreadable=True)
    written = (str(f[key]) for f in feeds for key in ("url", "name") if f.get(key))
    read = (name for feed in listed for name in (feed.url, feed.name) if name)
    return _Names(frozenset(chain(written, read)))


def _written_tags(value: Any) -> list[str]:
    """The tags a feed or a list of the file names, however malformed the rest of it."""
    tags = value.split(",") if isinstance(value, str) else value
    return [tag_name(tag) for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []


def _feed_tags(data: dict[str, Any], listed: Sequence[Feed]) -> _Names:
    """Every tag a feed of the file or its lists carries, or a list gives its feeds."""
    sections = [_section(data, "feeds", []), _section(data, "feed_lists", [])]
    if not all(isinstance(s, list) and all(isinstance(e, dict) for e in s) for s in sections):
        return _Names(unreadable=True)
    entries = chain.from_iterable(sections)
    written = (tag for entry in entries for tag in _written_tags(entry.get("tags")))
    return _Names(frozenset(chain(written, (tag for feed in listed for tag in feed.tags))))


def _declared(data: dict[str, Any], listed: Sequence[Feed]) -> _Declared:
    return _Declared(
        entities=_names_of(_section(data, "entities", {})),
        channels=_names_of(_section(data, "channels", {})),
        feeds=_feed_names(_section(data, "feeds", []), listed),
        tags=_feed_tags(data, listed),
    )


# --- what the schema cannot check -------------------------------------------------------------

_HAS_WORD = re.compile(r"\w")
Problem = tuple[Path_, str, int | None]  # where, reason, offset inside a query string


def _unknown(kind: str, name: str, rule: Rule) -> str:
    return f"unknown {kind} {name!r} in rule {rule.name!r}"


def _check_query(rule: Rule, where: Path_, entities: _Names) -> list[Problem]:
    if rule.query is None:
        return []
    loc: Path_ = (*where, "query")
    try:
        tree = parse_query(rule.query)
    except QueryError as exc:
        return [(loc, f"query of rule {rule.name!r}: {exc.reason}", exc.at)]
    problems: list[Problem] = []
    for term in terms_of(tree):
        if term.kind == "entity" and entities.lacks(term.text):
            reason = _unknown("entity", term.text, rule) + entities.hint(term.text)
            problems.append((loc, reason, term.at))
        elif term.kind == "word" and not _HAS_WORD.search(term.text):
            reason = f"{term.text!r} in rule {rule.name!r} has no letter or digit to match"
            problems.append((loc, reason, term.at))
    return problems


def _undeclared(
    names: tuple[str, ...], where: Path_, declared: _Names, reason: Callable[[str], str]
) -> list[Problem]:
    """A problem for each of ``names`` (a list at ``where``) that the file does not declare,
    with the nearest name it does."""
    return [
        ((*where, i), reason(name) + declared.hint(name), None)
        for i, name in enumerate(names)
        if declared.lacks(name)
    ]


def _check_feed_references(rule: Rule, where: Path_, declared: _Declared) -> list[Problem]:
    """Each entry of a rule's ``feeds:``: a feed's URL or name, or ``tag:`` a tag, that the
    file or its lists declare."""
    problems: list[Problem] = []
    for i, reference in enumerate(rule.feeds):
        tag = tag_of_reference(reference)
        if tag is None and declared.feeds.lacks(reference):
            reason = f"feed {reference!r} of rule {rule.name!r} is not in the file's feeds"
            problems.append(((*where, i), reason + declared.feeds.hint(reference), None))
        elif tag is not None and declared.tags.lacks(tag):
            reason = _unknown("tag", tag, rule) + declared.tags.hint(tag)
            problems.append(((*where, i), reason, None))
    return problems


def _check_rule(rule: Rule, where: Path_, declared: _Declared, mended: bool) -> list[Problem]:
    """A rule's references, and, unless parts of it were left out (``mended``), whether it
    states a condition and a money range."""
    problems: list[Problem] = []
    stated = (rule.entities, rule.keywords, rule.query, rule.money)
    if stated == (None, None, None, None) and not mended:
        reason = f"rule {rule.name!r} states no condition (entities, keywords, query or money)"
        problems.append((where, reason, None))
    problems += _check_query(rule, where, declared.entities)
    problems += _check_feed_references(rule, (*where, "feeds"), declared)
    for part in ("all", "any", "none") if rule.keywords else ():
        for j, keyword in enumerate(getattr(rule.keywords, part)):
            if not _HAS_WORD.search(keyword):
                reason = f"keyword {keyword!r} in rule {rule.name!r} has no letter or digit"
                problems.append(((*where, "keywords", part, j), reason, None))
    for part in ("all", "any", "none") if rule.entities else ():
        problems += _undeclared(
            getattr(rule.entities, part),
            (*where, "entities", part),
            declared.entities,
            lambda ref: _unknown("entity", ref, rule),
        )
    problems += _undeclared(
        rule.notify,
        (*where, "notify"),
        declared.channels,
        lambda channel: _unknown("channel", channel, rule),
    )
    if rule.money is not None and rule.money.min is None and rule.money.max is None:
        problems.append(((*where, "money"), "money needs min, max or both", None))
    return problems


def _check_rules(
    rules: RulesFile, numbers: list[int], declared: _Declared, mended: set[int]
) -> list[Problem]:
    """Each rule's references and conditions; ``numbers`` are the rules' places in the file,
    ``mended`` those of the rules read without their broken parts."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, rule in zip(numbers, rules.rules, strict=True):
        where: Path_ = ("rules", i)
        if rule.name in seen:
            problems.append(((*where, "name"), f"duplicate rule name {rule.name!r}", None))
        seen.add(rule.name)
        problems += _check_rule(rule, where, declared, i in mended)
    return problems


def _check_entities(entities: dict[str, tuple[str, ...]]) -> list[Problem]:
    problems: list[Problem] = []
    for name, aliases in entities.items():
        for i, alias in enumerate(aliases):
            if not alias.strip():
                problems.append(
                    (("entities", name, i), f"entity {name!r} has an empty alias", None)
                )
            elif not _HAS_WORD.search(alias):
                reason = f"alias {alias!r} of entity {name!r} has no letter or digit to match"
                problems.append((("entities", name, i), reason, None))
    return problems


def _check_channels(channels: dict[str, tuple[str, ...]]) -> list[Problem]:
    problems: list[Problem] = []
    for name, urls in channels.items():
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
    return problems


def _position_in(
    text: str, marks: dict[Path_, yaml.Mark], loc: Path_, offset: int | None
) -> tuple[int, int]:
    """Line and column of ``loc``; inside a one-line (plain or quoted) string, of the
    character at ``offset``."""
    line, column = position(marks, loc)
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
    """Validate the text of a rules file, and read the feed lists it names relative to
    ``path``; raise ``RulesError`` listing every problem, bad lines of the lists included."""
    return loaded_from_text(text, path).rules


def loaded_from_text(
    text: str, path: str = "<rules>", *, mtime_ns: int = 0, skip_bad_list_lines: bool = False
) -> LoadedRules:
    """Validate the text of a rules file and read its feed lists; raise ``RulesError`` listing
    every problem. With ``skip_bad_list_lines``, a bad line of a list is left out and noted
    in ``skipped`` instead."""
    with gc_paused():
        return _parse_rules(text, path, mtime_ns, skip_bad_list_lines)


@dataclass(frozen=True)
class _Lists:
    """What the feed lists of a rules file hold, and the problems of the rules file they
    give (a list it names that cannot be read)."""

    paths: tuple[Path, ...]
    stamp: tuple[int | None, ...]
    feeds: list[Feed]
    bad_lines: list[ListProblem]
    unreadable: list[Problem]


def _read_lists(entries: Sequence[FeedList], numbers: list[int], base: Path) -> _Lists:
    """The lists ``entries`` name (at ``numbers`` in the file's ``feed_lists``), relative to
    ``base``."""
    paths = tuple(base / entry.path for entry in entries)
    stamp: list[int | None] = []
    feeds: list[Feed] = []
    bad_lines: list[ListProblem] = []
    unreadable: list[Problem] = []
    for number, entry, file in zip(numbers, entries, paths, strict=True):
        try:
            listed = read_feed_list(file, str(file), ListDefaults(entry.every, entry.tags))
        except ListUnreadable as exc:
            stamp.append(None)
            where: Path_ = ("feed_lists", number, "path")
            unreadable.append((where, _at(where, f"cannot read {entry.path}: {exc}"), None))
            continue
        stamp.append(listed.mtime_ns)
        feeds += listed.feeds
        bad_lines += listed.problems
    return _Lists(paths, tuple(stamp), feeds, bad_lines, unreadable)


def _parse_rules(text: str, path: str, mtime_ns: int, skip_bad_list_lines: bool) -> LoadedRules:
    if len(text) > MAX_FILE_BYTES:
        raise RulesError(path, [(1, 1, too_large(len(text)))])
    root = compose(text, path)
    if root is None:
        raise RulesError(path, [(1, 1, "the file is empty; it needs at least a 'rules' list")])
    reader = Reader(len(text))
    try:
        try:
            data = reader.read(root)
        except TooDeep as deep:
            raise deep.refusal() from None
    except Refused as refused:
        mark = refused.mark
        raise RulesError(path, [(mark.line + 1, mark.column + 1, refused.reason)]) from None
    marks, problems = reader.marks, reader.errors
    if not isinstance(data, dict):
        raise RulesError(
            path, [(1, 1, "the file must be a mapping with feeds, entities, channels and rules")]
        )
    rules, data, broken, errors, mended = _validate(data, marks)
    problems += _schema_problems(errors, marks)
    lists = _read_lists(rules.feed_lists, _kept(data, broken, "feed_lists"), Path(path).parent)
    declared = _declared(data, lists.feeds)
    checks = _check_entities(rules.entities) + _check_channels(rules.channels) + lists.unreadable
    numbers = _kept(data, broken, "rules")
    for loc, reason, offset in checks + _check_rules(rules, numbers, declared, mended):
        line, column = _position_in(text, marks, loc, offset)
        problems.append((line, column, reason))
    if problems or (lists.bad_lines and not skip_bad_list_lines):
        raise RulesRefused(path, problems, lists.bad_lines, lists.paths)
    rules = rules.model_copy(update={"feeds": merge_feeds((*rules.feeds, *lists.feeds))})
    stamp = (mtime_ns, *lists.stamp)
    return LoadedRules(path, rules, mtime_ns, text, lists.paths, stamp, tuple(lists.bad_lines))


def load_rules(path: str | Path, *, skip_bad_list_lines: bool = False) -> LoadedRules:
    """Read and validate a rules file and its feed lists (see ``loaded_from_text``)."""
    file = Path(path)
    try:
        # the mtime before the text: an edit made while reading shows as a change later
        status = file.stat()
        if status.st_size > MAX_FILE_BYTES:
            raise RulesError(str(path), [(1, 1, too_large(status.st_size))])
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(str(path), [(1, 1, f"cannot read the file: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise RulesError(str(path), [(1, 1, f"the file is not UTF-8: {exc.reason}")]) from None
    return loaded_from_text(
        text, str(path), mtime_ns=status.st_mtime_ns, skip_bad_list_lines=skip_bad_list_lines
    )
