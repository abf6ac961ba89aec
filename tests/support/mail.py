"""A loopback SMTP server (aiosmtpd) that records the mail it gets, for tests and
benchmarks."""

from __future__ import annotations

import email
import email.policy
import threading
from email.message import EmailMessage
from typing import NamedTuple

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.servers import HOST, _Stoppable, free_port


class MailEnvelope(NamedTuple):
    """SMTP envelope of one received message."""

    mail_from: str
    rcpt_tos: list[str]


class _SmtpHandler:
    """aiosmtpd handler that hands each DATA to the owning SmtpSink."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Parse and record the message."""
        content = envelope.content
        raw = content.encode("utf-8") if isinstance(content, str) else bytes(content or b"")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self.sink._record(message, MailEnvelope(envelope.mail_from or "", list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpSink(_Stoppable):
    """An SMTP server (aiosmtpd) on 127.0.0.1, no auth and no TLS, that keeps every message."""

    START_ATTEMPTS = 5

    def __init__(self) -> None:
        #: Received messages, parsed.
        self.messages: list[EmailMessage] = []
        #: The envelope of each message, same order as `.messages`.
        self.envelopes: list[MailEnvelope] = []
        self._lock = threading.Condition()
        last_error: Exception | None = None
        for _ in range(self.START_ATTEMPTS):
            port = free_port()
            controller = Controller(
                _SmtpHandler(self), hostname=HOST, port=port, enable_SMTPUTF8=True
            )
            try:
                controller.start()
            except Exception as exc:  # port taken meanwhile
                last_error = exc
                continue
            self._controller: Controller | None = controller
            self.port = port
            return
        raise RuntimeError(f"SMTP sink failed to start: {last_error}")

    def apprise_url(self, to: str = "desk@example.org", sender: str = "alerts@example.org") -> str:
        """An apprise mailto:// URL that delivers here in plain SMTP."""
        return f"mailto://{HOST}:{self.port}?from={sender}&to={to}&mode=insecure"

    def _record(self, message: EmailMessage, envelope: MailEnvelope) -> None:
        with self._lock:
            self.messages.append(message)
            self.envelopes.append(envelope)
            self._lock.notify_all()

    def wait_for(self, n: int, timeout: float = 30.0) -> list[EmailMessage]:
        """Wait until at least `n` messages arrived; return them all (AssertionError if not)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.messages) >= n, timeout):
                summary = [
                    (m["Subject"], e) for m, e in zip(self.messages, self.envelopes, strict=True)
                ]
                raise AssertionError(
                    f"SMTP sink got {len(self.messages)} of {n} messages in {timeout}s: {summary!r}"
                )
            return list(self.messages)

    def stop(self) -> None:
        """Stop the SMTP server."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def text_parts(msg: EmailMessage) -> tuple[str, str | None]:
    """Return the decoded text/plain body ("" if none) and text/html body (None if none)."""
    plain: str | None = None
    html: str | None = None
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = part.get_content()
        elif ctype == "text/html" and html is None:
            html = part.get_content()
    return plain or "", html
