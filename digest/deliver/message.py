"""MIME messages: built once per rendered edition, personalised per subscriber cheaply.

The bytes for one subscriber are the shared headers, the personal headers
(To, Message-ID, List-Unsubscribe, List-Unsubscribe-Post) and the two bodies,
quoted-printable (7-bit clean, lines under 78 bytes), in which only the lines
holding a placeholder are filled and encoded per subscriber.
"""

from __future__ import annotations

import binascii
import datetime as dt
import html
import secrets
from dataclasses import dataclass
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import quote

from digest.config import Config, pages_url
from digest.deliver.dkim import BodyHasher, DkimSigner
from digest.deliver.transport import DotSafe
from digest.models import Subscriber
from digest.render.email import EMAIL, MANAGE_URL, UNSUBSCRIBE_URL, RenderedEmail
from digest.text import one_line


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


def manage_for(config: Config, token: str) -> str:
    """The subscriber's manage page (`digest serve`'s /manage beside its unsubscribe
    endpoint, with a signed manage token), or "" when messages have no web unsubscribe
    endpoint."""
    if not config.email.unsubscribe_url:
        return ""
    return f"{pages_url(config)}manage?token={quote(token)}"


PLACEHOLDER_MARK = "@@digest-"  # every placeholder of render.email starts so


QP_LINE = 76  # RFC 2045 §6.7: encoded lines at most 76 characters


def _qp(text: str) -> bytes:
    data = text.replace("\r\n", "\n").encode("utf-8")
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    return _escape_leading_dots(encoded).replace(b"\n", b"\r\n")


def _escape_leading_dots(encoded: bytes) -> bytes:
    """Write a dot that starts an encoded line as =2E, and keep lines within 76 columns.

    Then no line of the body starts with '.', so SMTP needs no dot-stuffing
    (RFC 5321 §4.5.2) and the transport skips a search through every message.
    A line longer than 76 (after =2E, or from b2a_qp itself, which can end a
    line with an escape at column 77) gets a soft break, never inside =XX.
    """
    out = []
    for line in encoded.split(b"\n"):
        while True:
            if line.startswith(b"."):
                line = b"=2E" + line[1:]
            if len(line) <= QP_LINE:
                break
            cut = QP_LINE - 1
            while b"=" in line[cut - 2:cut]:
                cut -= 1
            out.append(line[:cut] + b"=")
            line = line[cut:]
        out.append(line)
    return b"\n".join(out)


@dataclass(frozen=True)
class EncodedBody:
    """A body encoded quoted-printable once, except the lines that hold placeholders.

    Quoted-printable works line by line, so the lines without a personal part
    are encoded together once; only the few lines with a placeholder are
    substituted and encoded per subscriber (a soft line break can then never
    split a placeholder). Pieces: bytes are ready, str lines still to fill.
    """

    pieces: tuple[bytes | str, ...]

    @classmethod
    def of(cls, text: str) -> EncodedBody:
        pieces: list[bytes | str] = []
        static: list[str] = []
        for line in text.replace("\r\n", "\n").split("\n"):
            if PLACEHOLDER_MARK in line:
                if static:
                    pieces.append(_qp("\n".join(static)))
                    static = []
                pieces.append(line)
            else:
                static.append(line)
        if static:
            pieces.append(_qp("\n".join(static)))
        return cls(tuple(pieces))

    def fill(self, values: dict[str, str], out: list[bytes]) -> None:
        """Append the encoded body, placeholders replaced by `values`, to `out`."""
        for n, piece in enumerate(self.pieces):
            if n:
                out.append(b"\r\n")
            if isinstance(piece, str):
                for placeholder, value in values.items():
                    piece = piece.replace(placeholder, value)
                out.append(_qp(piece))
            else:
                out.append(piece)


def _header_text(text: str, header_name: str) -> str:
    """A header value: plain ASCII as it is (folded), anything else as RFC 2047 words.

    Text holding "=?" is encoded too, so a literal encoded word from a feed or a
    name (say "=?UTF-8?Q?=0A?=Bcc: x") reads back as those characters, never as a
    line break. (email.message.EmailMessage would decode it on assignment and
    write the newline out: header injection.)
    """
    text = one_line(text)
    charset = "us-ascii" if text.isascii() and "=?" not in text else "utf-8"
    # maxlinelen 75: Header lets a continuation word reach maxlinelen, RFC 2047 allows 75.
    return Header(text, charset, maxlinelen=75, header_name=header_name).encode(
        linesep="\r\n")


def _address_header(name: str, address: str, header_name: str = "To") -> str:
    """`Name <address>`: quoted when needed, RFC 2047 words when not plain ASCII."""
    name = one_line(name)
    if not name:
        return address
    if name.isascii() and "=?" not in name:
        return formataddr((name, address))
    return f"{_header_text(name, header_name)} <{address}>"


@dataclass(frozen=True)
class Slot:
    """A body line holding placeholders, filled and encoded per subscriber."""

    line: str
    html: bool  # fill with HTML-escaped values


def _body_chunks(boundary: str, text: EncodedBody, html_body: EncodedBody
                 ) -> tuple[bytes | Slot, ...]:
    """The multipart body as whole CRLF-ended lines: shared bytes and personal slots.

    Every chunk ends a line, so DKIM's relaxed canonicalisation (line by line)
    can treat each on its own: the shared ones once per template.
    """
    chunks: list[bytes | Slot] = [
        f"--{boundary}\r\n".encode()
        + b'Content-Type: text/plain; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"]
    for part, is_html in ((text, False), (html_body, True)):
        if is_html:
            chunks.append(f"--{boundary}\r\n".encode()
                          + b'Content-Type: text/html; charset="utf-8"\r\n'
                          b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
        for piece in part.pieces:
            if isinstance(piece, str):
                chunks.append(Slot(piece, is_html))
            else:
                chunks.append(piece + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    merged: list[bytes | Slot] = []
    for chunk in chunks:  # join neighbouring shared chunks: fewer pieces per message
        if isinstance(chunk, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += chunk
        else:
            merged.append(chunk)
    return tuple(merged)


@dataclass(frozen=True)
class MessageTemplate:
    """An edition's message, everything but the personal parts ready as bytes."""

    head: bytes  # shared headers, each ending in CRLF
    boundary: str
    domain: str
    one_click: bool
    body: tuple[bytes | Slot, ...]
    body_hasher: BodyHasher | None = None  # set when the template is built for signing

    def for_subscriber(self, config: Config, subscriber: Subscriber, token: str,
                       signer: DkimSigner | None = None, *, manage: str = "") -> bytes:
        """The complete message, as sent, for one subscriber (DKIM-signed with `signer`);
        `token` signs its unsubscribe link, `manage` its manage link."""
        if signer is not None:
            return self.to_sign(config, subscriber, token, signer, manage=manage)()
        message, _ = self._unsigned(config, subscriber, token, manage)
        return message

    def to_sign(self, config: Config, subscriber: Subscriber, token: str,
                signer: DkimSigner, *, manage: str = "") -> SignLater:
        """The message for one subscriber, to be signed by whoever calls the result.

        The send pool's workers call it: OpenSSL signs without holding Python's
        GIL, so the signatures of several connections are made side by side.
        """
        message, personal = self._unsigned(config, subscriber, token, manage)
        return SignLater(message, signer, self.body_hasher, tuple(personal), self.head)

    def _unsigned(self, config: Config, subscriber: Subscriber, token: str, manage: str
                  ) -> tuple[DotSafe, list[bytes]]:
        """The message and its personal body chunks (for the body hash), in order."""
        leave = unsubscribe_for(config, token)
        manage_url = manage_for(config, manage)
        to = _address_header(subscriber.name, subscriber.email)
        message_id = f"<{secrets.token_hex(12)}.{subscriber.id}@{self.domain}>"
        personal = [f"To: {to}", f"Message-ID: {message_id}",
                    f"List-Unsubscribe: {leave.header}"]
        if leave.one_click:
            personal.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        text_values = {EMAIL: subscriber.email, UNSUBSCRIBE_URL: leave.visible_url,
                       MANAGE_URL: manage_url}
        html_values = {EMAIL: html.escape(subscriber.email),
                       UNSUBSCRIBE_URL: html.escape(leave.visible_url),
                       MANAGE_URL: html.escape(manage_url)}
        parts = [
            self.head,
            "\r\n".join(personal).encode("ascii"),
            b"\r\n",
            f'Content-Type: multipart/alternative; boundary="{self.boundary}"\r\n\r\n'
            .encode(),
        ]
        filled: list[bytes] = []
        for chunk in self.body:
            if isinstance(chunk, Slot):
                line = chunk.line
                for placeholder, value in (html_values if chunk.html else text_values).items():
                    line = line.replace(placeholder, value)
                encoded = _qp(line) + b"\r\n"
                filled.append(encoded)
                parts.append(encoded)
            else:
                parts.append(chunk)
        # Headers start with a name, folds with a space, bodies were escaped: no dots.
        return DotSafe(b"".join(parts)), filled


@dataclass(frozen=True)
class SignLater:
    """A message and what its DKIM signatures need; calling it returns the signed bytes."""

    message: DotSafe
    signer: DkimSigner
    hasher: BodyHasher | None  # None: the body is hashed whole
    personal: tuple[bytes, ...]  # the personal body chunks, for the hasher
    shared_head: bytes = b""  # the header fields the message starts with, the same for many

    def __call__(self) -> bytes:
        digest = self.hasher.digest(self.personal) if self.hasher else None
        return self.signer.sign(self.message, digest, self.shared_head)


def build_template(config: Config, rendered: RenderedEmail, now: dt.datetime, *,
                   signed: bool = False) -> MessageTemplate:
    """Encode the shared headers and body once: From, Subject, Date, MIME-Version, list
    headers; with `signed`, canonicalise and hash the shared body lines for DKIM too."""
    e = config.email
    headers = [
        ("From", _address_header(e.sender_name, e.sender_address, "From")),
        ("Subject", _header_text(rendered.subject, "Subject")),
        ("Date", format_datetime(now.astimezone(dt.UTC))),
    ]
    if e.reply_to:
        name, address = parseaddr(e.reply_to)
        headers.append(("Reply-To", _address_header(name, address, "Reply-To")))
    if e.list_id:
        name, list_address = parseaddr(e.list_id)
        list_id = _address_header(name, list_address, "List-Id") if name else ""
        headers.append(("List-Id", list_id or f"<{list_address}>"))
    if e.feedback_id:
        headers.append(("Feedback-ID", _header_text(e.feedback_id, "Feedback-ID")))
    headers.append(("MIME-Version", "1.0"))
    header_block = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii")
    boundary = "=_digest_" + secrets.token_hex(12)
    body = _body_chunks(boundary, EncodedBody.of(rendered.text), EncodedBody.of(rendered.html))
    hasher = BodyHasher.of([None if isinstance(c, Slot) else c for c in body]) if signed \
        else None
    return MessageTemplate(
        head=header_block,
        boundary=boundary,
        domain=config.email.domain,
        one_click=config.email.unsubscribe_url is not None,
        body=body,
        body_hasher=hasher,
    )
