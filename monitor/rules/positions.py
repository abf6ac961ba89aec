"""A rules file's YAML read into plain data, noting where each value is written.

Bounded as the file is untrusted: ``MAX_DEPTH`` levels, aliases expanding to at most
``MAX_EXPANSION`` values a character, ``MAX_FILE_BYTES``. ``Refused`` says where a bound broke;
YAML that does not parse is a ``RulesError`` placed where a person looks (``compose``).
``Reader.marks`` maps each path of the data (``("rules", 2, "money", "min")``) to where its
value starts, ``(*path, KEY)`` to where its key is written; ``position`` finds the nearest.
"""

from __future__ import annotations

from typing import Any

import yaml

from monitor.errors import RulesError

Path_ = tuple[str | int, ...]
KEY = "\0key"  # marks[(*path, KEY)] is where the key of that path is written


# A rules file is a few levels deep (rules, a rule, entities, all, a name); deeper nesting, or
# an alias that contains itself, is refused rather than followed down Python's stack.
MAX_DEPTH = 32
# Aliases let a few bytes stand for a large tree (nine levels of nine aliases: 387 million
# values). The values built may be at most this many times the characters of the file (plus a
# little): sharing a list of aliases between entities stays far below it.
MAX_EXPANSION = 2
MAX_FILE_BYTES = 100_000_000


class Refused(Exception):
    def __init__(self, mark: yaml.Mark, reason: str) -> None:
        super().__init__(reason)
        self.mark = mark
        self.reason = reason


class TooDeep(Exception):
    """Raised past ``MAX_DEPTH``; each level it passes adds its node, so the top can tell a
    loop (a node that contains itself) from plain deep nesting."""

    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__("too deep")
        self.mark = mark
        self.chain: list[int] = []

    def refusal(self) -> Refused:
        if len(set(self.chain)) < len(self.chain):
            return Refused(self.mark, "an alias inside the value it names: the value would "
                            "contain itself without end")  # fmt: skip
        return Refused(self.mark, f"nested more than {MAX_DEPTH} levels deep")


class Reader:
    """Plain Python data from a YAML node tree, noting where each value starts; bounded in
    depth and in how far aliases expand (``Refused`` says where)."""

    def __init__(self, text_length: int) -> None:
        self.marks: dict[Path_, yaml.Mark] = {}
        self.errors: list[tuple[int, int, str]] = []
        self.budget = MAX_EXPANSION * text_length + 10_000

    def read(self, node: yaml.Node, path: Path_ = ()) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise Refused(node.start_mark, "aliases here expand to far more values than the "
                           "file holds (an alias bomb?); write the values out instead")  # fmt: skip
        if len(path) > MAX_DEPTH:
            raise TooDeep(node.start_mark)
        self.marks[path] = node.start_mark
        try:
            return self._value(node, path)
        except TooDeep as deep:
            deep.chain.append(id(node))
            raise
        except Refused as refused:
            if len(path) == 1 and refused.reason.startswith("aliases"):
                # where the value that explodes is written, not where the budget ran out
                refused.mark = node.start_mark
            raise

    def _value(self, node: yaml.Node, path: Path_) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise Refused(key_node.start_mark, "a key must be a plain value, not a "
                                   "list or a mapping")  # fmt: skip
                key = key_node.value
                if key in out:
                    mark = key_node.start_mark
                    self.errors.append((mark.line + 1, mark.column + 1, f"duplicate key {key!r}"))
                self.marks[(*path, key, KEY)] = key_node.start_mark
                out[key] = self.read(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.read(v, (*path, i)) for i, v in enumerate(node.value)]
        try:
            return SCALARS.construct_object(node)
        except yaml.constructor.ConstructorError as exc:  # a tag YAML cannot build here
            raise Refused(node.start_mark, f"{exc.problem}; quote it if it is text") from None


# libyaml's composer when PyYAML has it: ten times faster on files of many thousand rules.
COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# A constructor for scalars only: ints, floats, booleans and strings as YAML 1.1 reads them.
SCALARS = yaml.SafeLoader("")


def position(marks: dict[Path_, yaml.Mark], loc: Path_) -> tuple[int, int]:
    for cut in range(len(loc), -1, -1):
        mark = marks.get(tuple(loc[:cut]))
        if mark is not None:
            return mark.line + 1, mark.column + 1
    return 1, 1


def line_and_column(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def compose(text: str, path: str) -> yaml.Node | None:
    """The YAML node tree of the text; ``RulesError`` where it is not YAML."""
    try:
        return yaml.compose(text, Loader=COMPOSER)
    except yaml.MarkedYAMLError as fast:
        error = fast
    except yaml.reader.ReaderError as unreadable:  # a character YAML does not allow
        line, column = line_and_column(text, unreadable.position)
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


def too_large(size: int) -> str:
    return f"the file has {size:,} bytes, more than the {MAX_FILE_BYTES:,} a rules file may"
