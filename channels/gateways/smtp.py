"""E-mail over SMTP: a multipart (text + HTML) message with STARTTLS and AUTH options."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

from channels.gateways.base import Message, Outcome, SendResult


@dataclass
class SmtpGateway:
    """Sends one e-mail per message. 4xx replies and network errors are transient."""

    host: str
    port: int = 587
    sender: str = "noreply@example.com"
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    """trust this CA for STARTTLS (default: the system's)"""
    timeout_s: float = 15.0
    concurrency: int = 8
    """SMTP sessions open at once in `send_many`"""
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)

    def close(self) -> None:
        """Wait for sessions in flight (every send opens and closes its own session)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def send_many(self, messages: Sequence[Message]) -> list[SendResult]:
        """One SMTP session per message, ``concurrency`` of them at once."""
        if len(messages) == 1:
            return [self.send(messages[0])]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="smtp")
        return list(self._pool.map(self.send, messages))

    def compose(self, message: Message) -> EmailMessage:
        """The e-mail for ``message``: subject, plain text and, when there is one, HTML."""
        content = message.content
        email = EmailMessage()
        email["Subject"] = content.subject or content.text[:78]
        email["From"] = self.sender
        email["To"] = message.address
        email["Message-ID"] = make_msgid(idstring=message.idempotency_key.replace(":", "."))
        email["X-Notice-Id"] = message.notice_id
        email.set_content(content.text)
        if content.html:
            email.add_alternative(content.html, subtype="html")
        return email

    def send(self, message: Message) -> SendResult:
        try:
            email = self.compose(message)
        except ValueError as exc:  # an address or subject with a line break, say
            return SendResult("failed", error=f"cannot compose: {exc}")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context(cafile=self.ca_file))
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            return _by_code(code, reply)
        except smtplib.SMTPResponseException as exc:
            return _by_code(exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:
            return SendResult("retry", error=f"{type(exc).__name__}: {exc}")
        if refused:
            code, reply = next(iter(refused.values()))
            return _by_code(code, reply)
        return SendResult("sent", provider_id=email["Message-ID"])


def _by_code(code: int, reply: bytes | str) -> SendResult:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    outcome: Outcome = "retry" if 400 <= code < 500 else "failed"
    return SendResult(outcome, error=f"SMTP {code}: {text}")
