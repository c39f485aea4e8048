"""MIME messages: built once per rendered edition, personalised per subscriber cheaply.

The bytes for one subscriber are the shared headers, three personal headers
(To, Message-ID, List-Unsubscribe) and the two bodies with the placeholders
replaced, each encoded quoted-printable (7-bit clean, lines under 78 bytes).
"""

from __future__ import annotations

import binascii
import datetime as dt
import email.policy
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import quote

from digest.config import Config
from digest.models import Subscriber
from digest.render.email import RenderedEmail
from digest.sources.sanitize import one_line


@dataclass(frozen=True)
class Unsubscribe:
    """The ways one subscriber can leave: the link shown in the body and the header."""

    visible_url: str
    header: str
    one_click: bool


def unsubscribe_for(config: Config, token: str) -> Unsubscribe:
    mailbox = config.email.unsubscribe_mailto or config.email.sender_address
    mailto = f"mailto:{mailbox}?subject={quote('unsubscribe ' + token)}"
    if config.email.unsubscribe_url:
        base = config.email.unsubscribe_url
        url = f"{base}{'&' if '?' in base else '?'}token={quote(token)}"
        return Unsubscribe(url, f"<{url}>, <{mailto}>", True)
    return Unsubscribe(mailto, f"<{mailto}>", False)


def _qp(text: str) -> bytes:
    data = text.replace("\r\n", "\n").encode("utf-8")
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    return encoded.replace(b"\n", b"\r\n")


@dataclass(frozen=True)
class MessageTemplate:
    """An edition's message, everything but the personal parts ready as bytes."""

    rendered: RenderedEmail
    head: bytes  # shared headers, each ending in CRLF
    boundary: str
    domain: str
    one_click: bool

    def for_subscriber(self, config: Config, subscriber: Subscriber, token: str) -> bytes:
        """The complete message, as sent, for one subscriber."""
        leave = unsubscribe_for(config, token)
        html_body, text_body = self.rendered.personalise(subscriber.email, leave.visible_url)
        to = formataddr((one_line(subscriber.name), subscriber.email), charset="utf-8")
        message_id = f"<{secrets.token_hex(12)}.{subscriber.id}@{self.domain}>"
        personal = [f"To: {to}", f"Message-ID: {message_id}",
                    f"List-Unsubscribe: {leave.header}"]
        if leave.one_click:
            personal.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        b = self.boundary
        parts = [
            self.head,
            "\r\n".join(personal).encode("ascii"),
            b"\r\n",
            f'Content-Type: multipart/alternative; boundary="{b}"\r\n\r\n'.encode(),
            f"--{b}\r\n".encode(),
            b'Content-Type: text/plain; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            _qp(text_body),
            f"\r\n--{b}\r\n".encode(),
            b'Content-Type: text/html; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            _qp(html_body),
            f"\r\n--{b}--\r\n".encode(),
        ]
        return b"".join(parts)


def build_template(config: Config, rendered: RenderedEmail, now: dt.datetime) -> MessageTemplate:
    """Encode the shared headers once: From, Subject, Date, MIME-Version and list headers."""
    head = EmailMessage(policy=email.policy.SMTP)
    head["From"] = config.email.sender
    head["Subject"] = one_line(rendered.subject)
    head["Date"] = format_datetime(now.astimezone(dt.UTC))
    if config.email.reply_to:
        head["Reply-To"] = config.email.reply_to
    if config.email.list_id:
        head["List-Id"] = config.email.list_id
    head["MIME-Version"] = "1.0"
    raw = head.as_bytes()
    header_block = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    return MessageTemplate(
        rendered=rendered,
        head=header_block,
        boundary="=_digest_" + secrets.token_hex(12),
        domain=config.email.domain,
        one_click=config.email.unsubscribe_url is not None,
    )
