"""E-mail over SMTP (core.ports.Mailer), for the digest: `--smtp-url
smtp://[user:password@]host[:port]` (`smtp+starttls://` to upgrade the
connection first; port 25 by default) and `--smtp-from`. The standard
library's smtplib, in a thread: a digest is a few messages a minute, not a
hot path, and a slow mail server then never holds up the event loop."""

from __future__ import annotations

import asyncio
import email.message
import smtplib
import urllib.parse

from hubbub.core.ports import MailError

SCHEMES = ("smtp", "smtp+starttls")
TIMEOUT = 10.0  # seconds per SMTP conversation


def check_smtp_url(url: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError(f"not an SMTP URL (smtp://host:port): {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        raise ValueError(f"bad port in {url!r}") from None
    return parts


class SmtpMailer:
    def __init__(self, url: str, sender: str) -> None:
        self.parts = check_smtp_url(url)
        self.sender = sender

    async def send(self, to: str, subject: str, text: str) -> None:
        msg = email.message.EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg.set_content(text)
        try:
            await asyncio.to_thread(self._deliver, msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"{type(exc).__name__}: {exc}") from exc

    def _deliver(self, msg: email.message.EmailMessage) -> None:
        p = self.parts
        with smtplib.SMTP(p.hostname or "", p.port or 25, timeout=TIMEOUT) as smtp:
            if p.scheme == "smtp+starttls":
                smtp.starttls()
            if p.username:
                smtp.login(urllib.parse.unquote(p.username), urllib.parse.unquote(p.password or ""))
            smtp.send_message(msg)
