"""Signed, opaque unsubscribe tokens: HMAC over the subscriber id, never the address."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import os
from collections.abc import Callable

TAG_BYTES = 16


def secret_for(stored: Callable[[], bytes]) -> bytes:
    """DIGEST_SECRET from the environment, else the secret `stored` gives (the random one
    kept in the state file: `store.secret`), asked for only when the environment has none."""
    env = os.environ.get("DIGEST_SECRET")
    if env:
        return env.encode()
    return stored()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(secret: bytes, purpose: bytes, body: bytes, size: int = TAG_BYTES) -> bytes:
    return hmac.new(secret, purpose + b":" + body, hashlib.sha256).digest()[:size]


def _sign(secret: bytes, purpose: bytes, body: bytes) -> str:
    """`body` and its HMAC tag; the purpose is signed too, so no kind of token stands in
    for another."""
    return _b64(body) + "." + _b64(_mac(secret, purpose, body))


def _read(secret: bytes, purpose: bytes, token: str) -> bytes | None:
    """The body of a token signed for `purpose`; None if forged, malformed or another's."""
    try:
        body_text, tag_text = token.strip().split(".")
        body = base64.urlsafe_b64decode(body_text + "=" * (-len(body_text) % 4))
        tag = base64.urlsafe_b64decode(tag_text + "=" * (-len(tag_text) % 4))
    except (ValueError, TypeError):
        return None
    return body if hmac.compare_digest(tag, _mac(secret, purpose, body)) else None


def _id_body(subscriber_id: int) -> bytes:
    return subscriber_id.to_bytes(8, "big").lstrip(b"\0") or b"\0"


def _read_id(secret: bytes, purpose: bytes, token: str) -> int | None:
    body = _read(secret, purpose, token)
    if not body or len(body) > 8:
        return None
    return int.from_bytes(body, "big")


def make_token(secret: bytes, subscriber_id: int) -> str:
    return _sign(secret, b"unsubscribe", _id_body(subscriber_id))


def read_token(secret: bytes, token: str) -> int | None:
    """The subscriber id a token was made for, or None if it is forged or malformed."""
    return _read_id(secret, b"unsubscribe", token)


def make_confirm_token(secret: bytes, subscriber_id: int, expires: int,
                       nonce: bytes = b"") -> str:
    """A signed confirmation token for a pending subscriber, valid until `expires` (Unix
    seconds) and bound to the pending request `nonce` names (a later sign-up of the same
    address gets another: this link does not confirm it). Its purpose is part of what
    is signed: no unsubscribe token confirms."""
    return _sign(secret, b"confirm",
                 subscriber_id.to_bytes(8, "big") + expires.to_bytes(8, "big") + nonce)


def read_confirm_token(secret: bytes, token: str) -> tuple[int, int, bytes] | None:
    """(subscriber id, expiry in Unix seconds, request nonce) of a confirmation token, or
    None if it is forged or malformed (expiry and nonce are the caller's to check; a
    token made before links were bound to requests has an empty nonce)."""
    body = _read(secret, b"confirm", token)
    if body is None or len(body) < 16 or len(body) > 48:
        return None
    return int.from_bytes(body[:8], "big"), int.from_bytes(body[8:16], "big"), body[16:]


def make_manage_token(secret: bytes, subscriber_id: int) -> str:
    """A signed token for a subscriber's manage page. It does not expire (like an
    unsubscribe token: it sits in every newsletter kept), and its purpose is part of what
    is signed: neither an unsubscribe nor a confirmation token opens the manage page."""
    return _sign(secret, b"manage", _id_body(subscriber_id))


def read_manage_token(secret: bytes, token: str) -> int | None:
    """The subscriber id a manage token was made for, or None if it is forged, malformed
    or made for another purpose."""
    return _read_id(secret, b"manage", token)


# The VERP tag of an envelope sender (`bounces+TAG@domain`): the edition's date and the
# subscriber, signed. Some servers lower-case local parts, so it is base32 in lower case
# (case does not matter), with a shorter MAC than the tokens: a local part holds 64
# characters. 2 bytes of date + at most 8 of id + 10 of MAC: at most 32 characters.
RETURN_TAG_MAC = 10
EPOCH = dt.date(2000, 1, 1)


def make_return_tag(secret: bytes, edition_date: dt.date, subscriber_id: int) -> str:
    body = (edition_date - EPOCH).days.to_bytes(2, "big") + _id_body(subscriber_id)
    raw = body + _mac(secret, b"return-path", body, RETURN_TAG_MAC)
    return base64.b32encode(raw).decode().rstrip("=").lower()


def read_return_tag(secret: bytes, tag: str) -> tuple[dt.date, int] | None:
    """(edition date, subscriber id) a VERP tag was made for; None when it is forged,
    malformed or cut short."""
    text = tag.strip().upper()
    if not text or len(text) > 40 or not text.isascii() or not text.isalnum():
        return None
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (ValueError, binascii.Error):
        return None
    body, mac = raw[:-RETURN_TAG_MAC], raw[-RETURN_TAG_MAC:]
    if len(body) < 3 or len(body) > 10:
        return None
    if not hmac.compare_digest(mac, _mac(secret, b"return-path", body, RETURN_TAG_MAC)):
        return None
    return (EPOCH + dt.timedelta(days=int.from_bytes(body[:2], "big")),
            int.from_bytes(body[2:], "big"))


def return_path_for(return_path: str, secret: bytes, edition_date: dt.date,
                    subscriber_id: int) -> str:
    """The VERP envelope sender `LOCAL+TAG@DOMAIN` for one subscriber's message."""
    local, _, domain = return_path.rpartition("@")
    return f"{local}+{make_return_tag(secret, edition_date, subscriber_id)}@{domain}"
