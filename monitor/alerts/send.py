"""Sending one alert to one target through apprise.

An alert counts as sent when apprise reports success for its one target (every service that
URL loaded accepted it; a partial success is a failure). ``monitor.alerts.delivery`` records
that in the store before the task is acknowledged.

Every message carries the alert id as its idempotency key, the same on every attempt: an
``Idempotency-Key`` header on HTTP targets that take headers (json://, xml://, form://) and
the ``Message-ID`` of email (``<id@smtp-host>``). A worker killed after a target accepted an
alert and before the store recorded it sends the alert again; a receiver that honours the
key (a webhook that keeps the keys it has seen, a mail store that drops a Message-ID it
already holds) shows the analyst one message. Chat services take no such key.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

import apprise

from monitor.alerts.make import Alert
from monitor.alerts.render import kind_of, render
from monitor.alerts.secrets import hidden, redact, secrets_of
from monitor.errors import DeliveryFailed

IDEMPOTENCY_HEADER = "Idempotency-Key"

# The Message-ID of the email being sent in this thread or task, if any. Apprise makes the
# Message-ID itself, after any header we give it, so the only way to make it stable is to
# answer its call for a new one (``_message_id`` below).
_MESSAGE_ID_KEY: ContextVar[str | None] = ContextVar("message_id_key", default=None)


def _message_id(idstring: str | None = None, domain: str | None = None) -> str:
    key = _MESSAGE_ID_KEY.get()
    if key is None:
        return email.utils.make_msgid(idstring, domain)
    return f"<{key}@{domain or 'localhost'}>"


# The plain-text part of the email being sent in this thread or task, if any. Apprise makes
# an HTML email's plain part by converting the HTML, which drops the marks around the matched
# words; answering its call for that conversion (``_plain_part`` below) puts ours there.
_PLAIN_PART: ContextVar[str | None] = ContextVar("plain_part", default=None)


def _install_email_hooks() -> None:
    import apprise.plugins.email.base as email_base

    found = vars(email_base)
    for name in ("make_msgid", "convert_between"):
        if name not in found:
            raise ImportError(
                f"apprise's email plugin no longer calls {name}: stable Message-IDs and our "
                "plain-text part need monitor.alerts.send updated"
            )
    convert: Callable[[Any, Any, str | None], Any] = found["convert_between"]

    def _plain_part(from_format: Any, to_format: Any, content: str | None = None) -> Any:
        plain = _PLAIN_PART.get()
        if plain is not None and (from_format, to_format) == (
            apprise.NotifyFormat.HTML,
            apprise.NotifyFormat.TEXT,
        ):
            return plain
        return convert(from_format, to_format, content)

    found["make_msgid"] = _message_id
    found["convert_between"] = _plain_part


_install_email_hooks()


def send(
    alert: Alert,
    url: str,
    *,
    zone: str = "UTC",
    templates: Mapping[str, str] | None = None,
    secrets: tuple[str, ...] = (),
) -> None:
    """Send one alert to one apprise URL; ``DeliveryFailed`` says why it was not accepted.

    Neither the reason nor any log line written meanwhile contains the URL's secrets
    (``monitor.alerts.secrets``: ``secrets``, when the caller found them already, else found
    here), whatever apprise logged.
    """
    secrets = secrets or tuple(secrets_of(url, []))
    with hidden(secrets):
        _send(alert, url, zone, templates or {}, secrets)


def _send(
    alert: Alert, url: str, zone: str, templates: Mapping[str, str], secrets: tuple[str, ...]
) -> None:
    asset = apprise.AppriseAsset(secure_logging=True)
    subject = f"{alert.channel}#{alert.target}"
    plugin = apprise.Apprise.instantiate(url, asset=asset)
    if not plugin:
        raise DeliveryFailed("the channel URL is not one apprise understands", subject=subject)
    message = render(alert.to_dict(), kind_of(url), zone, templates)
    headers = getattr(plugin, "headers", None)
    if message.kind != "email" and isinstance(headers, dict):
        headers[IDEMPOTENCY_HEADER] = alert.id
    notifier = apprise.Apprise(asset=asset)
    notifier.add(plugin)
    body_format = {
        "email": apprise.NotifyFormat.HTML,
        "markdown": apprise.NotifyFormat.MARKDOWN,
        "text": apprise.NotifyFormat.TEXT,
    }[message.kind]
    token = _MESSAGE_ID_KEY.set(alert.id)
    plain = _PLAIN_PART.set(message.text)
    try:
        with apprise.LogCapture(level=apprise.logging.WARNING) as captured:  # type: ignore[no-untyped-call]
            result = notifier.notify(
                title=message.subject, body=message.body, body_format=body_format
            )
            detail = captured.getvalue().strip().splitlines()
    finally:
        _PLAIN_PART.reset(plain)
        _MESSAGE_ID_KEY.reset(token)
    services = list(result)
    # Check each service the URL loaded, not only the overall result: a partial success is
    # a failure of this target, and the whole target is tried again.
    if result.status == apprise.AppriseResultStatus.SUCCESS and services and all(services):
        return
    reason = detail[-1].split(" - ", 2)[-1] if detail else "the target refused the alert"
    raise DeliveryFailed(redact(reason, secrets), subject=subject)
