"""The ``query:`` language of a rule: the boolean syntax of the commercial monitoring tools.

Grammar (operators in capitals; anything else is a term)::

    query    := or
    or       := and ("OR" and)*
    and      := near (["AND"] near)*          two operands side by side mean AND
    near     := unary ("NEAR/" n unary)*       within n words of each other, either order
    unary    := "NOT" unary | "(" or ")" | term
    term     := word | word* | "quoted phrase" | @entity

* ``word`` matches as a whole word (with the normaliser, Arabic proclitics and, when the rule
  says ``inflect: true``, the endings of ``monitor.text.inflect``); a bare token with punctuation
  inside, like ``U.S.``, is a phrase of its words.
* ``word*`` matches every word that begins with ``word`` (at least three letters).
* ``"quoted phrase"`` matches its words in order, apart by anything but a sentence end.
* ``@name`` matches any alias of the entity ``name`` of the rules file.
* ``a NEAR/n b``: some occurrence of ``a`` and some of ``b`` with at most ``n`` words between
  them. Its operands are terms or parenthesised ORs of terms.
* ``x NOT y`` reads as ``x AND NOT y``.

``parse_query`` raises ``QueryError`` with the offset in the query text and a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

MIN_PREFIX = 3
# Parentheses and NOTs nest at most this deep: enough for any query a person writes, and far
# from the depth where parsing and matching, which recurse, would exhaust Python's stack.
MAX_DEPTH = 40

TermKind = Literal["word", "prefix", "entity"]


@dataclass(frozen=True, slots=True)
class Term:
    """A literal (``word``: a word or phrase), a ``prefix`` wildcard, or an ``entity`` name."""

    kind: TermKind
    text: str
    at: int = 0


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    part: Node


@dataclass(frozen=True, slots=True)
class Near:
    left: Node
    right: Node
    distance: int


Node = Term | And | Or | Not | Near


class QueryError(ValueError):
    """A query that does not parse: ``at`` is the offset in the query text."""

    def __init__(self, at: int, reason: str) -> None:
        super().__init__(reason)
        self.at = at
        self.reason = reason


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<open>\() | (?P<close>\)) |
      (?P<phrase>"[^"]*"?) |
      (?P<near>NEAR(?:/\d+)?)(?=[\s()"]|$) |
      (?P<op>AND|OR|NOT)(?=[\s()"]|$) |
      (?P<word>[^\s()"]+)
    )""",
    re.VERBOSE,
)

Token = tuple[str, str, int]  # kind, text, offset


def _tokens(query: str) -> list[Token]:
    # Every character that is not whitespace starts one of the alternatives, so the matches
    # tile the query: none is skipped.
    out: list[Token] = []
    for m in _TOKEN.finditer(query):
        kind = m.lastgroup or "word"
        text, at = m[kind], m.start(kind)
        if kind == "word":
            if text.startswith("NEAR/"):
                raise QueryError(at, "NEAR without a number of words: write it like NEAR/5")
            out.append(("word", text, at))
        elif kind == "phrase":
            if len(text) < 2 or not text.endswith('"'):
                raise QueryError(at, 'a quoted phrase is never closed: add the final "')
            phrase = text[1:-1]
            if not phrase.strip():
                raise QueryError(at, "an empty quoted phrase")
            if "*" in phrase:
                raise QueryError(at, "a wildcard '*' may only end a single word, not a phrase")
            out.append(("phrase", phrase, at))
        elif kind == "near":
            if len(text) == 4:
                raise QueryError(at, "NEAR without a number of words: write it like NEAR/5")
            out.append(("near", text[5:], at))
        else:  # an operator or a parenthesis
            out.append((text, text, at))
    return out


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _tokens(query)
        self.i = 0
        self.depth = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise QueryError(0, "the query is empty")
        node = self.or_()
        token = self.peek()
        if token is not None:
            if token[0] == ")":
                raise QueryError(token[2], "unbalanced parenthesis: this ')' closes nothing")
            raise QueryError(token[2], f"unexpected {token[1]!r}")
        return node

    def or_(self) -> Node:
        parts = [self.and_()]
        while (token := self.peek()) is not None and token[0] == "OR":
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_(self) -> Node:
        parts = [self.near()]
        while (token := self.peek()) is not None and token[0] not in ("OR", ")"):
            if token[0] == "AND":
                self.take()
            parts.append(self.near())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def near(self) -> Node:
        node = self.unary()
        while (token := self.peek()) is not None and token[0] == "near":
            self.take()
            right = self.unary()
            for side in (node, right):
                if not _near_operand(side):
                    raise QueryError(
                        token[2], "NEAR joins terms or parenthesised ORs of terms, not AND or NOT"
                    )
            node = Near(node, right, int(token[1]))
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token is None:
            raise QueryError(len(self.query), "the query ends where a term was expected")
        kind, text, at = self.take()
        if kind in ("NOT", "("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError(at, f"parentheses and NOTs nested more than {MAX_DEPTH} deep")
            try:
                return self._nested(kind, at)
            finally:
                self.depth -= 1
        if kind == "phrase":
            return Term("word", text, at)
        if kind == "word":
            return _word_term(text, at)
        raise QueryError(at, f"{text!r} where a term was expected")

    def _nested(self, kind: str, at: int) -> Node:
        if kind == "NOT":
            return Not(self.unary())
        node = self.or_()
        closing = self.peek()
        if closing is None or closing[0] != ")":
            raise QueryError(at, "unbalanced parenthesis: this '(' is never closed")
        self.take()
        return node


def _word_term(text: str, at: int) -> Term:
    if text.startswith("@"):
        if len(text) == 1:
            raise QueryError(at, "'@' needs an entity name after it, as in @musk")
        return Term("entity", text[1:], at)
    if text.endswith("*"):
        stem = text[:-1]
        if "*" in stem or not re.fullmatch(r"\w+", stem):
            raise QueryError(at, f"{text!r}: a wildcard '*' may only end a single word")
        if len(stem) < MIN_PREFIX:
            raise QueryError(at, f"{text!r}: a wildcard needs at least {MIN_PREFIX} letters")
        return Term("prefix", stem, at)
    if "*" in text:
        raise QueryError(at, f"{text!r}: a wildcard '*' may only end a single word")
    return Term("word", text, at)


def _near_operand(node: Node) -> bool:
    if isinstance(node, Term):
        return True
    return isinstance(node, Or) and all(isinstance(p, Term) for p in node.parts)


# Validating a rules file parses every query and compiling it parses them again: the trees
# (immutable) are kept for the second time. About 0.7 KB a query.
@lru_cache(maxsize=1 << 17)
def parse_query(query: str) -> Node:
    """The syntax tree of a query; ``QueryError`` if it does not parse."""
    return _Parser(query).parse()


def terms_of(node: Node) -> list[Term]:
    """Every term of the query, in order of writing."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return terms_of(node.part)
    if isinstance(node, Near):
        return terms_of(node.left) + terms_of(node.right)
    return [t for part in node.parts for t in terms_of(part)]
