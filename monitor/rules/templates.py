"""The language rules write alert templates in: Jinja2's sandbox with our filters.

A rule's ``templates:`` are compiled here when the rules file is validated, so a template that
does not compile is refused with the rest of the file; ``monitor.alerts.render`` renders them
(and the default templates) with the same environments. Kinds are ``email`` (HTML, escaped
automatically), ``markdown`` and ``text``. Filters: ``money`` (``70,000,000``), ``isolate``
(Unicode isolates around right-to-left text) and ``md`` (Markdown escaped).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

KINDS = ("email", "markdown", "text")
FSI, PDI = "\u2068", "\u2069"  # first-strong isolate and its closing pop


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


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        autoescape=autoescape, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(money=money, isolate=isolate, md=md)
    return env


_PLAIN = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


def environment(kind: str) -> SandboxedEnvironment:
    """The environment templates of ``kind`` compile and render in."""
    return _HTML if kind == "email" else _PLAIN


def check_template(source: str, kind: str) -> str | None:
    """Why a template does not compile, or None when it does."""
    try:
        environment(kind).from_string(source)
    except TemplateError as exc:
        return f"line {getattr(exc, 'lineno', '?')}: {exc.message or exc}"
    return None
