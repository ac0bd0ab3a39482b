"""Email over SMTP (stdlib smtplib, in a thread), STARTTLS optional.

The step's idempotency key is the `Message-ID` (and `X-Defib-Idempotency-Key`), so a
message sent twice after a crash is recognisably the same message.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from defib.integrations.base import DeliveryError, Notice

IDEMPOTENCY_EMAIL_HEADER = "X-Defib-Idempotency-Key"


def message_id(idempotency_key: str, from_address: str) -> str:
    """A stable Message-ID: `:` is not allowed left of the @, so it becomes `.`."""
    domain = from_address.rsplit("@", 1)[-1] or "defib"
    left = "".join(c if c.isalnum() or c in "-_.+=" else "." for c in idempotency_key)
    return f"<{left}@{domain}>"


def compose(
    notice: Notice, idempotency_key: str, from_address: str, to: Sequence[str]
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = from_address
    msg["To"] = ", ".join(to)
    msg["Subject"] = notice.subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(idempotency_key, from_address)
    msg[IDEMPOTENCY_EMAIL_HEADER] = idempotency_key
    systems = ", ".join(notice.systems) or "(none named)"
    msg.set_content(
        f"{notice.text}\n\n"
        f"Incident: {notice.incident_id}\n"
        f"Type:     {notice.type}\n"
        f"Severity: {notice.severity}\n"
        f"Status:   {notice.status}\n"
        f"Systems:  {systems}\n"
        f"Link:     {notice.link}\n"
    )
    return msg


@dataclass(frozen=True, slots=True)
class SmtpMailer:
    host: str
    port: int
    from_address: str
    to: Sequence[str]
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 10.0
    ssl_context: ssl.SSLContext | None = None
    channel: str = "email"

    @property
    def target(self) -> str:
        return ", ".join(self.to)

    def _send(self, msg: EmailMessage) -> dict[str, Any]:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                if self.username is not None:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"SMTP {self.host}:{self.port}: every recipient refused ({codes})",
                retryable=all(400 <= c < 500 for c in codes),
                status=codes[0] if codes else None,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            # 4xx is "try again later"; 5xx is final (bad address, auth refused, ...).
            raise DeliveryError(
                f"SMTP {self.host}:{self.port}: {exc.smtp_code} {exc.smtp_error!r}",
                retryable=400 <= exc.smtp_code < 500,
                status=exc.smtp_code,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}", retryable=True
            ) from exc
        return {"refused": sorted(refused), "message_id": msg["Message-ID"]}

    async def send_once(self, notice: Notice, idempotency_key: str) -> Mapping[str, Any]:
        msg = compose(notice, idempotency_key, self.from_address, self.to)
        return await asyncio.to_thread(self._send, msg)

    async def send_text(self, subject: str, body: str, idempotency_key: str) -> Mapping[str, Any]:
        """A plain-text message of our own (not an incident notice), keyed like the rest."""
        msg = EmailMessage()
        msg["From"] = self.from_address
        msg["To"] = ", ".join(self.to)
        msg["Subject"] = subject
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = message_id(idempotency_key, self.from_address)
        msg[IDEMPOTENCY_EMAIL_HEADER] = idempotency_key
        msg.set_content(body)
        return await asyncio.to_thread(self._send, msg)
