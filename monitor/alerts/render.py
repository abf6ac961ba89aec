"""What an alert says: one template per channel kind, rendered in a sandbox.

Kinds: ``email`` (HTML, with the ``text`` kind as its plain-text part), ``markdown``
(chat services: Slack, Discord, Telegram, Matrix, Mattermost, Teams, Rocket.Chat, Zulip) and
``text`` (everything else, webhooks included). Every kind shows the title, source, published
time in the analyst's time zone (``MONITOR_TIMEZONE``), link, the snippet with the matched
words marked, the amounts with their converted value, the rule and why it fired. A digest
lists each article that fired instead.

Right-to-left text reads right: in text and Markdown every free-text field sits between
Unicode isolates (FSI … PDI) so an Arabic title cannot reorder the Latin around it; in HTML
each block carries ``dir="auto"``.

A rule may override the template of a kind (``monitor.rules.model``); its ``text`` template is
then the plain-text part of its emails too. Templates run in Jinja2's sandbox
(``monitor.rules.templates``), so a rules file cannot reach Python objects; an override that
fails to render is logged in one line and the default template is used instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError
from markupsafe import Markup

from monitor.console import local_time
from monitor.rules.templates import environment, isolate, md, money, render_bounded

log = logging.getLogger(__name__)

CHAT_SCHEMES = frozenset(
    {
        "slack", "discord", "tgram", "matrix", "matrixs", "mmost", "mmosts", "msteams",
        "rocket", "rockets", "zulip", "gchat", "ryver", "guilded", "revolt", "workflows",
    }
)  # fmt: skip
EMAIL_SCHEMES = frozenset({"mailto", "mailtos"})


def kind_of(url: str) -> str:
    """The template kind for an apprise URL, from its scheme."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in EMAIL_SCHEMES:
        return "email"
    return "markdown" if scheme in CHAT_SCHEMES else "text"


TEXT = """\
Rule: {{ rule }} (matched: {{ why|isolate }})
Title: {{ title|isolate }}
Source: {{ source or "-" }}
Published: {{ published }}
Link: {{ link }}

{{ snippet|isolate }}
{% if amounts %}

Amounts: {% for a in amounts %}{{ a.text|isolate }} = {{ a.value|money }} {{ a.currency or "?" }}\
{% if a.converted %} (≈ {{ a.converted|money }} {{ a.converted_currency }}){% endif %}\
{{ "; " if not loop.last }}{% endfor %}
{% endif %}
"""

MARKDOWN = """\
**{{ rule|md }}**: [{{ title|md|isolate }}]({{ link|md_url }})
{{ source|md or "-" }} · {{ published }}

> {{ snippet_md|isolate }}

Why: {{ why|md|isolate }}
{% for a in amounts %}
- {{ a.text|md|isolate }} = {{ a.value|money }} {{ a.currency or "?" }}\
{% if a.converted %} (≈ {{ a.converted|money }} {{ a.converted_currency }}){% endif %}
{% endfor %}
"""

HTML = """\
<div>
<p><b>Rule:</b> {{ rule }} <span dir="auto">({{ why }})</span></p>
<h2 dir="auto"><a href="{{ link }}">{{ title }}</a></h2>
<p><b>Source:</b> <span dir="auto">{{ source or "-" }}</span> ·
<b>Published:</b> {{ published }}</p>
<blockquote dir="auto">{{ snippet_html }}</blockquote>
{% if amounts %}
<p><b>Amounts:</b></p><ul>
{% for a in amounts %}
<li><bdi>{{ a.text }}</bdi> = {{ a.value|money }} {{ a.currency or "?" }}\
{% if a.converted %} (≈ {{ a.converted|money }} {{ a.converted_currency }}){% endif %}</li>
{% endfor %}
</ul>
{% endif %}
</div>
"""

DIGEST_TEXT = """\
Digest: {{ rule }}, {{ items|length }} articles
{% for i in items %}

{{ loop.index }}. {{ i.title|isolate }}
   {{ i.source or "-" }} · {{ i.published }}
   {{ i.link }}
   matched: {{ i.why|isolate }}
{% endfor %}
"""

DIGEST_MARKDOWN = """\
**Digest: {{ rule|md }}**, {{ items|length }} articles
{% for i in items %}
{{ loop.index }}. [{{ i.title|md|isolate }}]({{ i.link|md_url }}): {{ i.source|md or "-" }} · \
{{ i.published }} · {{ i.why|md|isolate }}
{% endfor %}
"""

DIGEST_HTML = """\
<div>
<p><b>Digest:</b> {{ rule }}, {{ items|length }} articles</p>
<ol>
{% for i in items %}
<li dir="auto"><a href="{{ i.link }}">{{ i.title }}</a><br>
{{ i.source or "-" }} · {{ i.published }} · <span dir="auto">{{ i.why }}</span></li>
{% endfor %}
</ol>
</div>
"""

DEFAULTS = {"email": HTML, "markdown": MARKDOWN, "text": TEXT}
DIGEST_DEFAULTS = {"email": DIGEST_HTML, "markdown": DIGEST_MARKDOWN, "text": DIGEST_TEXT}


@dataclass(frozen=True)
class Message:
    """A rendered alert: what apprise is given. ``text`` is an email's plain-text part."""

    subject: str
    body: str
    kind: str
    text: str | None = None


def render(
    alert: dict[str, Any],
    kind: str,
    zone: str = "UTC",
    templates: Mapping[str, str] | None = None,
) -> Message:
    """Render one alert (or digest) record for a channel kind.

    ``alert`` is the stored record (``monitor.alerts.make.Alert.to_dict``); ``templates`` (a
    rule's, by kind) replace the default templates for a single alert.
    """
    values = template_values(alert, zone)
    if alert.get("items"):
        subject = f"[{alert['rule']}] digest: {len(alert['items'])} articles"
    else:
        subject = f"[{alert['rule']}] {alert['title']}"
    body = _render_kind(alert, kind, values, templates or {})
    text = _render_kind(alert, "text", values, templates or {}) if kind == "email" else None
    return Message(subject, body, kind, text)


def _render_kind(
    alert: dict[str, Any], kind: str, values: dict[str, Any], templates: Mapping[str, str]
) -> str:
    env = environment(kind)
    digest = bool(alert.get("items"))
    override = None if digest else templates.get(kind)
    if override:
        try:
            return render_bounded(override, kind, values).strip()
        except TemplateError as exc:  # a bound broken (SecurityError) is one of these
            log.warning(
                "rule %s: its %s template failed (%s); the default is used",
                alert["rule"],
                kind,
                exc,
            )
    source = (DIGEST_DEFAULTS if digest else DEFAULTS)[kind]
    return env.from_string(source).render(values).strip()


def template_values(alert: dict[str, Any], zone: str) -> dict[str, Any]:
    """What a template may use (see the README's "Alerts" section)."""
    return {
        "rule": alert["rule"],
        "why": why(alert.get("evidence", [])),
        "title": alert.get("title", ""),
        "source": alert.get("source", ""),
        "published": local_time(alert.get("published"), zone),
        "link": alert.get("url", ""),
        "language": alert.get("language"),
        "snippet": alert.get("snippet", ""),
        # Stored already escaped, with <mark> around the matched words.
        "snippet_html": Markup(alert.get("snippet_html", "")),  # noqa: S704
        "snippet_md": md(alert.get("snippet", "")).replace("⟦", "**").replace("⟧", "**"),
        "amounts": [
            {"converted": None, "converted_currency": None, **a}
            for a in _once_each(alert.get("amounts", []))
        ],
        "items": [
            {
                "title": item.get("title", ""),
                "link": item.get("url", ""),
                "source": item.get("source", ""),
                "published": local_time(item.get("published"), zone),
                "why": why(item.get("evidence", [])),
            }
            for item in alert.get("items", [])
        ],
    }


def _once_each(amounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each amount once, though the article states it more than once (in its title and again
    in its body): a reader wants the sums, not their every mention."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for amount in amounts:
        seen.setdefault((amount.get("text"), amount.get("value"), amount.get("currency")), amount)
    return list(seen.values())


def why(evidence: list[dict[str, Any]]) -> str:
    """The terms that matched, then the amounts that met the rule's threshold. Each term and
    amount as written sits in an isolate of its own, so Arabic beside English keeps its place
    (one isolate around them all showed "EUR 70,000,000 ≈ يورو مليون amount 70")."""
    terms = dict.fromkeys(isolate(e["term"]) for e in evidence if e["kind"] != "money")
    parts = [", ".join(terms)] if terms else []
    amounts = list(
        dict.fromkeys(
            f"{isolate(e['term'])} ≈ {money(e.get('converted'))} {e['name']}"
            for e in evidence
            if e["kind"] == "money"
        )
    )
    if amounts:
        parts.append("amount " + ", ".join(amounts))
    return "; ".join(parts)
