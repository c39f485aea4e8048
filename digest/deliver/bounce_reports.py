"""What one message in the bounce mailbox says: a pure function of its bytes.

In order: its structure (an RFC 3464 delivery status notification, an RFC 5965 ARF
feedback report), a mailed unsubscribe (a valid signed token in the subject or the
address), the non-standard bounces real servers send (flufl.bounce's detectors), an
automatic reply; the VERP tag of the address it was sent to names the subscriber. A
forged tag never names anyone. Nothing here reads a file or the store.
"""

from __future__ import annotations

import datetime as dt
import email
import email.message
import hashlib
import logging
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.utils import getaddresses
from typing import Literal
from urllib.parse import unquote

from flufl.bounce import all_failures

from digest.deliver.bounce_rules import BounceKind, is_auto_reply, kind_for, status_in
from digest.deliver.tokens import read_return_tag, read_token

# A detector that fails is caught here (the message is unknown); flufl.bounce logs it
# too, which would reach stderr through logging's last resort: not for every message.
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())

READ_AT_MOST = 1024 * 1024  # bytes of a message classified: its headers and first parts
DIAGNOSTIC_CHARS = 300
# stale: valid, but naming a copy sent longer ago than any mail server reports on
# (`policy.stale_tag`: told where the deliveries are known, not here).
TagState = Literal["valid", "forged", "stale", "none"]
# Where a message sent to a tagged address keeps that address.
ADDRESSED_TO = ("to", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to",
                "x-delivered-to", "cc")
DSN_STATUS = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})")
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,16}\.[A-Za-z0-9_-]{16,32}")


@dataclass(frozen=True)
class Recipient:
    """One address a report is about, and what it says of it."""

    address: str | None  # as the report names it; None when it names none
    kind: BounceKind
    status: str | None  # the enhanced status code, "5.1.1"
    diagnostic: str  # the server's words, one line


@dataclass(frozen=True)
class BounceKeys:
    """What classifying needs from the digest: the secret the tags and tokens are signed
    with, and the part of `[email] return_path` before the `@` (None: not set)."""

    secret: bytes
    return_local: str | None = None


@dataclass(frozen=True)
class BounceOutcome:
    """What a message in the bounce mailbox means."""

    kind: BounceKind
    recipients: tuple[Recipient, ...]
    message_id: str  # its Message-ID, or "sha256:…" of its bytes when it has none
    tag: TagState = "none"
    edition: dt.date | None = None  # from a valid VERP tag
    subscriber_id: int | None = None  # from a valid VERP tag or unsubscribe token
    detail: str = ""  # why, when it is unknown: for the editor
    attributed: bool = True  # False: return_path is set, yet nothing signed names anyone

    @property
    def acts(self) -> bool:
        """Whether the outcome may change a subscriber: never on a forged tag, nor (with
        a return path) on a notice that only names an address."""
        return self.tag != "forged" and self.kind != "unknown" and self.attributed


def classify_bytes(data: bytes, keys: BounceKeys) -> BounceOutcome:
    """Classify a message from its bytes (at most READ_AT_MOST of them are looked at)."""
    data = data[:READ_AT_MOST]
    message = email.message_from_bytes(data)
    return classify(message, keys, fallback_id=_hash_id(data))


def _hash_id(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()[:32]


def classify(message: email.message.Message, keys: BounceKeys, *,
             fallback_id: str = "") -> BounceOutcome:
    """Classify a parsed message (compat32, as `email.message_from_bytes` gives)."""
    message_id = _header(message, "message-id").strip() or fallback_id
    tag, edition, subscriber_id = _verp(message, keys)
    base = BounceOutcome("unknown", (), message_id, tag, edition, subscriber_id)
    try:
        found = _classify(message, keys, base)
    except Exception as exc:  # a broken message is unknown, never a crash
        return _replace(base, detail=f"could not be read: {type(exc).__name__}: {exc}")
    if tag == "forged":  # an outsider's tag: nobody is named, nothing is done
        return _replace(found, kind="unknown", subscriber_id=None, edition=None,
                        recipients=(), detail="forged VERP tag")
    if (keys.return_local and found.subscriber_id is None
            and found.kind in ("hard", "soft", "policy", "complaint")):
        # Every newsletter's notice comes back to its tagged address (or, for a
        # complaint, holds the tag or the unsubscribe token in the original): one that
        # only names an address could come from anyone who can mail the bounce address.
        return _replace(found, attributed=False,
                        detail="no valid VERP tag or token: the address it names is not "
                               "trusted")
    return found


def _classify(message: email.message.Message, keys: BounceKeys,
              base: BounceOutcome) -> BounceOutcome:
    report = message.get_param("report-type", header="content-type")
    report_type = report.lower() if isinstance(report, str) else ""
    if message.get_content_type() == "multipart/report":
        if report_type == "delivery-status":
            found = _dsn(message, base)
            if found is not None:
                return found
        elif report_type == "feedback-report":
            return _arf(message, keys, base)
    unsubscribe = _mailed_unsubscribe(message, keys, base)
    if unsubscribe is not None:
        return unsubscribe
    detected = _detected(message, base)
    if detected is not None:
        return detected
    if is_auto_reply(_headers(message)):
        return _replace(base, kind="auto_reply")
    if base.tag == "valid":
        return _replace(base, detail="sent to a VERP address, but not a bounce it knows")
    return _replace(base, detail="not a report it knows")


def _replace(outcome: BounceOutcome, **changes: object) -> BounceOutcome:
    import dataclasses
    return dataclasses.replace(outcome, **changes)  # type: ignore[arg-type]


# -- headers ----------------------------------------------------------------------

def _header(message: email.message.Message, name: str) -> str:
    """A header's decoded text ("" when absent or undecodable)."""
    value = message.get(name)
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (LookupError, UnicodeError, ValueError, TypeError):
        return str(value)


def _headers(message: email.message.Message) -> dict[str, str]:
    return {name.lower(): _header(message, name) for name in message}


def _addresses(message: email.message.Message, names: tuple[str, ...]) -> list[str]:
    values = [str(v) for name in names for v in (message.get_all(name) or [])]
    return [address for _, address in getaddresses(values) if "@" in address]


def _verp(message: email.message.Message, keys: BounceKeys
          ) -> tuple[TagState, dt.date | None, int | None]:
    """The VERP tag of the address the message was sent to: valid (edition, subscriber),
    forged, or none found."""
    if not keys.return_local:
        return "none", None, None
    prefix = keys.return_local.lower() + "+"
    state: TagState = "none"
    for address in _addresses(message, ADDRESSED_TO):
        local = address.rpartition("@")[0].lower()
        if not local.startswith(prefix):
            continue
        tag = local[len(prefix):]
        read = read_return_tag(keys.secret, tag)
        if read is not None:
            return "valid", read[0], read[1]
        if "." not in tag and not tag.startswith("unsubscribe"):  # not an unsubscribe token
            state = "forged"
    return state, None, None


# Control characters (C0, DEL, C1): what a notice says is printed on the editor's
# terminal and kept as a status reason, where an escape sequence has no business.
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _one_line(text: str) -> str:
    return CONTROLS.sub("", " ".join(text.split()))[:DIAGNOSTIC_CHARS]


def _address_field(value: str) -> str | None:
    """The address of a DSN or ARF field (`rfc822; user@example.org`, `<a@b>`)."""
    text = value.rpartition(";")[2] if ";" in value else value
    address = text.strip().strip("<>").strip()
    return address if "@" in address and " " not in address and not CONTROLS.search(
        address) else None


# -- RFC 3464 delivery status notifications --------------------------------------

def _dsn(message: email.message.Message, base: BounceOutcome) -> BounceOutcome | None:
    """The per-recipient fields of a DSN; None when it has none to read (malformed)."""
    status_part = next((p for p in message.walk()
                        if p.get_content_type() in ("message/delivery-status",
                                                    "message/global-delivery-status")),
                       None)
    if status_part is None:
        return None
    blocks = status_part.get_payload()
    if not isinstance(blocks, list):
        return None
    recipients: list[Recipient] = []
    for block in blocks[1:]:
        if not isinstance(block, email.message.Message):
            continue
        found = _dsn_recipient(block)
        if found is not None and found not in recipients:
            recipients.append(found)
    if not recipients:
        return None
    failures = [r for r in recipients if r.kind != "unknown"]
    if not failures:
        return _replace(base, recipients=tuple(recipients),
                        detail="a delivery report without a failure (delivered or relayed)")
    return _replace(base, kind=_worst(failures), recipients=tuple(failures))


def _dsn_recipient(block: email.message.Message) -> Recipient | None:
    final = _header(block, "final-recipient")
    original = _header(block, "original-recipient")
    address = _address_field(original) or _address_field(final)
    action = _header(block, "action").strip().lower()
    if not (address or action):
        return None
    found = DSN_STATUS.search(_header(block, "status"))
    status = ".".join(found.groups()) if found else None
    diagnostic = _one_line(_header(block, "diagnostic-code").partition(";")[2]
                           or _header(block, "diagnostic-code"))
    if action in ("delivered", "relayed", "expanded"):
        return Recipient(address, "unknown", status, diagnostic)
    if action == "delayed":
        # Still queued, and tried again: nothing has failed yet (a failure, if it comes,
        # is a report of its own). Counting it would bounce a reader whose server is only
        # slow (greylisting, a full queue) though every copy arrives in the end.
        return Recipient(address, "delayed", status, diagnostic)
    permanent = None if status is None else status.startswith("5")
    kind = kind_for(status, diagnostic, permanent=permanent if action != "failed" else True)
    return Recipient(address, kind, status, diagnostic)


SEVERITY: tuple[BounceKind, ...] = ("hard", "policy", "soft", "delayed")


def _worst(recipients: list[Recipient]) -> BounceKind:
    kinds = {r.kind for r in recipients}
    return next((k for k in SEVERITY if k in kinds), recipients[0].kind)


# -- RFC 5965 feedback reports (complaints) --------------------------------------

def _arf(message: email.message.Message, keys: BounceKeys,
         base: BounceOutcome) -> BounceOutcome:
    fields: object = None
    original: email.message.Message | None = None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/feedback-report" and fields is None:
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                fields = payload[0]
            elif isinstance(payload, str):
                fields = email.message_from_string(payload)
        elif kind == "message/rfc822" and original is None:
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(
                    payload[0], email.message.Message):
                original = payload[0]
        elif kind == "text/rfc822-headers" and original is None:
            original = email.message_from_string(_text_of(part))
    if not isinstance(fields, email.message.Message):
        return _replace(base, detail="a feedback report without its fields")
    feedback = _header(fields, "feedback-type").strip().lower()
    address = _address_field(_header(fields, "original-rcpt-to"))
    subscriber_id, edition, tag = base.subscriber_id, base.edition, base.tag
    if original is not None:
        inner_tag, inner_edition, inner_id = _verp_of_return_path(original, keys)
        if inner_tag == "valid":
            subscriber_id, edition, tag = inner_id, inner_edition, "valid"
        elif subscriber_id is None:
            subscriber_id = _token_subscriber(_header(original, "list-unsubscribe"), keys)
        if address is None:
            found = _addresses(original, ("to",))
            address = found[0] if found else None
    complaint: BounceKind = "complaint" if feedback == "abuse" else "unknown"
    recipient = Recipient(address, complaint, None,
                          _one_line(f"feedback report: {feedback or 'no type'}"))
    return _replace(base, kind=complaint, recipients=(recipient,),
                    subscriber_id=subscriber_id, edition=edition, tag=tag,
                    detail="" if complaint == "complaint" else f"feedback type {feedback!r}")


def _verp_of_return_path(original: email.message.Message, keys: BounceKeys
                         ) -> tuple[TagState, dt.date | None, int | None]:
    """The VERP tag of an embedded original's Return-Path (ARF reports keep it)."""
    if not keys.return_local:
        return "none", None, None
    probe = email.message.Message()
    for name in ("return-path", "x-return-path"):
        for value in original.get_all(name) or []:
            probe["To"] = str(value)
    return _verp(probe, keys)


def _token_subscriber(header: str, keys: BounceKeys) -> int | None:
    for candidate in TOKEN.findall(unquote(header)):
        found = read_token(keys.secret, candidate)
        if found:
            return found
    return None


def _text_of(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(part.get_content_charset() or "utf-8", "replace") \
            if _known_charset(part.get_content_charset()) else payload.decode("latin-1")
    return str(part.get_payload())


def _known_charset(name: str | None) -> bool:
    import codecs
    try:
        codecs.lookup(name or "utf-8")
    except LookupError:
        return False
    return True


# -- mailed unsubscribes, and what the detectors find -------------------------------

def _mailed_unsubscribe(message: email.message.Message, keys: BounceKeys,
                        base: BounceOutcome) -> BounceOutcome | None:
    """A request to the List-Unsubscribe mailto address: a valid signed token in the
    subject (`unsubscribe TOKEN`) or the address (`…+TOKEN@…`)."""
    subject = _header(message, "subject")
    places = [subject, *(a.rpartition("@")[0] for a in _addresses(message, ADDRESSED_TO))]
    for text in places:
        subscriber_id = _token_subscriber(text, keys)
        if subscriber_id:
            return _replace(base, kind="unsubscribe", subscriber_id=subscriber_id, tag=(
                base.tag if base.tag == "valid" else "none"), recipients=(Recipient(
                    None, "unsubscribe", None, _one_line(f"subject: {subject}")),))
    return None


def _detected(message: email.message.Message, base: BounceOutcome) -> BounceOutcome | None:
    """The non-standard bounces flufl.bounce's detectors know (qmail, Exim, Yahoo, …).
    A message without a From is none (flufl.bounce 6.0's Yale detector fails on one)."""
    if not _addresses(message, ("from",)):
        return None
    temporary, permanent = all_failures(message)
    if not (temporary or permanent):
        return None
    text = _body_text(message)
    status = status_in(text)
    recipients = []
    for raw in sorted(permanent):
        address = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if CONTROLS.search(address):
            continue
        recipients.append(Recipient(address, kind_for(status, text, permanent=True), status,
                                    _diagnostic_near(text, address)))
    for raw in sorted(temporary - permanent):
        address = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if CONTROLS.search(address):
            continue
        # flufl.bounce's temporary failures are the warnings of a delay (its DSN and
        # SimpleWarning detectors): the server still tries.
        recipients.append(Recipient(address, "delayed", status,
                                    _diagnostic_near(text, address)))
    if not recipients:
        return None
    return _replace(base, kind=_worst(recipients), recipients=tuple(recipients))


def _body_text(message: email.message.Message, limit: int = 64 * 1024) -> str:
    """The text of the first text parts (not the returned original), at most `limit`."""
    pieces: list[str] = []
    size = 0
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            break
        if part.get_content_maintype() != "text" or part.is_multipart():
            continue
        piece = _text_of(part)
        pieces.append(piece)
        size += len(piece)
        if size >= limit:
            break
    return "\n".join(pieces)[:limit]


def _diagnostic_near(text: str, address: str) -> str:
    """The line of the bounce that names the address, with the next one (the reason)."""
    lines = text.splitlines()
    lowered = address.lower()
    for n, line in enumerate(lines):
        if lowered in line.lower():
            return _one_line(" ".join(lines[n:n + 3]))
    return _one_line(text[:DIAGNOSTIC_CHARS])
