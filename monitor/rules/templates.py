"""The language rules write alert templates in: Jinja2's sandbox, narrowed and bounded.

A rule's ``templates:`` are compiled here when the rules file is validated, so a template that
does not compile is refused with the rest of the file; ``monitor.alerts.render`` renders them
(and the default templates) with the same environments. Kinds are ``email`` (HTML, escaped
automatically), ``markdown`` and ``text``. Filters of our own: ``money`` (``70,000,000``),
``isolate`` (Unicode isolates around right-to-left text), ``md`` (Markdown escaped) and
``md_url`` (a URL that cannot end a Markdown link early: ``(`` ``)`` ``[`` ``]`` ``<`` ``>``
``|`` and spaces percent-encoded).

A rules file is trusted to say what an alert shows, not to spend the worker's memory and time,
so the language is bounded:

* Compiling evaluates nothing (Jinja folds constant expressions while compiling: ``{{ "x" *
  10**9 }}`` built a gigabyte in ``rules validate``); every expression waits for rendering.
* Values do not call their methods (``title.center(10**9)``); filters do the work, and only
  those whose output grows no faster than their input (``ALLOWED_FILTERS``).
* ``*``, ``**``, ``+`` and ``~`` refuse to build a value past ``MAX_VALUE_SIZE`` characters or
  items, ``%`` does not format strings, and ``range`` gives at most ``MAX_RANGE`` numbers.
* ``render_bounded`` stops a rendering after ``MAX_RENDER_SECONDS`` (nested loops) or past
  ``MAX_OUTPUT_CHARS`` of output.

A template that breaks a bound raises a ``TemplateError`` saying which; the renderer then uses
the default template.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from types import FrameType
from typing import Any
from urllib.parse import quote

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import pass_context

KINDS = ("email", "markdown", "text")
FSI, PDI = "\u2068", "\u2069"  # first-strong isolate and its closing pop

MAX_VALUE_SIZE = 100_000
MAX_RANGE = 1_000
MAX_RENDER_SECONDS = 1.0
MAX_OUTPUT_CHARS = 200_000
# Jinja's filters whose output is bounded by their input. Left out: center, indent, wordwrap,
# format and replace (they widen a value by an argument), batch and slice, attr (attributes by
# name), pprint and random.
ALLOWED_FILTERS = frozenset(
    {
        "abs", "capitalize", "count", "d", "default", "dictsort", "e", "escape",
        "filesizeformat", "first", "float", "forceescape", "groupby", "int", "items", "join",
        "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr",
        "reverse", "round", "safe", "select", "selectattr", "sort", "string", "striptags", "sum",
        "title", "tojson", "trim", "truncate", "unique", "upper", "urlencode", "urlize",
        "wordcount", "xmlattr",
    }
)  # fmt: skip


def money(value: Any) -> str:
    """A value with thousands separators and at most two decimals: ``70,000,000``."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "?"
    if number == number.to_integral_value():
        return f"{number:,.0f}"
    return f"{number:,.2f}"


def isolate(text: Any) -> str:
    return f"{FSI}{text}{PDI}"


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]()#<>|~"})


def md(text: Any) -> str:
    """Text with Markdown's special characters escaped."""
    return str(text).translate(_MD_SPECIAL)


# What a URL may keep as it is inside ``[text](url)``: RFC 3986's characters, but those that
# end the link or open another (and ``|``, which ends Slack's ``<url|text>``), and ``%``, so
# what was encoded stays so.
_URL_SAFE = "/:?#@!$&'*+,;=%-._~"


def md_url(url: Any) -> str:
    """A URL for a Markdown link's target: one link, whatever the URL holds."""
    return quote(str(url), safe=_URL_SAFE)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() gives at most {MAX_RANGE:,} numbers in a template")
    return numbers


def _unfoldable(function: Callable[..., Any]) -> Callable[..., Any]:
    """The filter as one that needs the render context, which Jinja never calls while
    compiling (it would, to fold ``"x"|upper`` into a constant)."""
    kind = getattr(function, "jinja_pass_arg", None)
    if kind is not None and kind.name == "context":
        return function

    @pass_context
    def at_render(context: Context, *args: Any, **kwargs: Any) -> Any:
        if kind is not None and kind.name == "environment":
            return function(context.environment, *args, **kwargs)
        if kind is not None and kind.name == "eval_context":
            return function(context.eval_ctx, *args, **kwargs)
        return function(*args, **kwargs)

    return at_render


class _Compiler(CodeGenerator):
    """Jinja's code generator, but one that folds nothing into constants and sends ``~``
    through the environment's size check."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        raise nodes.Impossible()

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat(context, (")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")


class _BoundedSandbox(SandboxedEnvironment):
    code_generator_class = _Compiler
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, autoescape: bool) -> None:
        super().__init__(
            autoescape=autoescape,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            optimized=False,  # the optimizer folds constant expressions, evaluating them
        )
        own = {"money": money, "isolate": isolate, "md": md, "md_url": md_url}
        allowed = {name: FILTERS[name] for name in ALLOWED_FILTERS}
        self.filters = {name: _unfoldable(f) for name, f in {**allowed, **own}.items()}
        self.globals.pop("lipsum", None)
        self.globals["range"] = _bounded_range

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return not callable(value) and super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for value, times in ((left, right), (right, left)):
                if isinstance(times, int) and _size(value) * times > MAX_VALUE_SIZE:
                    raise SecurityError(f"a value past {MAX_VALUE_SIZE:,} characters or items")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and left not in (
                -1, 0, 1
            ) and abs(left).bit_length() * right > 4 * MAX_VALUE_SIZE:  # fmt: skip
                raise SecurityError(f"a number past {4 * MAX_VALUE_SIZE:,} bits")
        elif operator == "+":
            if _size(left) + _size(right) > MAX_VALUE_SIZE:
                raise SecurityError(f"a value past {MAX_VALUE_SIZE:,} characters or items")
        elif isinstance(left, str):  # % on a string formats it: a width there has no bound
            raise SecurityError("% does not format strings in templates; use filters")
        return super().call_binop(context, operator, left, right)

    def bounded_concat(self, context: Context, parts: tuple[Any, ...]) -> str:
        if sum(len(str(part)) for part in parts) > MAX_VALUE_SIZE:
            raise SecurityError(f"a value past {MAX_VALUE_SIZE:,} characters")
        join = markup_join if context.eval_ctx.autoescape else str_join
        return str(join(parts))


_PLAIN = _BoundedSandbox(autoescape=False)
_HTML = _BoundedSandbox(autoescape=True)


def environment(kind: str) -> SandboxedEnvironment:
    """The environment templates of ``kind`` compile and render in."""
    return _HTML if kind == "email" else _PLAIN


def check_template(source: str, kind: str) -> str | None:
    """Why a template does not compile, or None when it does. Evaluates nothing."""
    try:
        environment(kind).from_string(source)
    except TemplateError as exc:
        return f"line {getattr(exc, 'lineno', '?')}: {exc.message or exc}"
    return None


class RenderTooLong(SecurityError):
    """A template rendered for longer than ``MAX_RENDER_SECONDS``."""


def render_bounded(source: str, kind: str, values: Mapping[str, Any]) -> str:
    """Render a rule's template within the bounds of the module docstring; ``TemplateError``
    when it breaks one (or does not render)."""
    template = environment(kind).from_string(source)
    deadline = time.monotonic() + MAX_RENDER_SECONDS
    steps = 0

    def watch(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal steps
        steps += 1
        if steps % 1000 == 0 and time.monotonic() > deadline:
            raise RenderTooLong(f"rendering took more than {MAX_RENDER_SECONDS:g} s")
        return watch

    output: list[str] = []
    size = 0
    previous = sys.gettrace()
    sys.settrace(watch)  # counts the template's steps: its loops run as Python code
    try:
        chunks: Iterator[str] = template.generate(dict(values))
        for chunk in chunks:
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise SecurityError(f"the output passed {MAX_OUTPUT_CHARS:,} characters")
            output.append(chunk)
    finally:
        sys.settrace(previous)
    return "".join(output)
