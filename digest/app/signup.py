"""Signing up on the form: double opt-in.

A reader who fills the form becomes a *pending* subscriber (never sent an edition)
and is mailed a signed link that expires; only a POST to it (a person pressing the
button, not a mail scanner following the link) makes them active and records their
consent. What the form answers never depends on the address's state: every path
ends in the same "check your inbox" page, and what differs goes by mail only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Literal

from digest.config import Config
from digest.deliver import mailing
from digest.deliver.tokens import (
    make_confirm_token,
    make_manage_token,
    make_token,
    read_confirm_token,
    secret_for,
)
from digest.models import Subscriber
from digest.render.context import words_for
from digest.render.templates import environment
from digest.store import Store

RESEND_AFTER = 3600.0  # seconds: at most one mail per address an hour


@dataclass(frozen=True)
class SignUp:
    """What a POST of the form did (never shown to the reader: the page is the same)."""

    mailed: Literal["confirmation", "already_active", "nothing"]
    email: str = ""


@dataclass(frozen=True)
class ConfirmAnswer:
    """What a confirmation token came to."""

    state: Literal["confirm", "done", "invalid", "expired"]
    email: str = ""


def public_path(config: Config, name: str) -> str:
    """The absolute URL of endpoint `name` of `digest serve`, below public_url."""
    return f"{config.public_url.rstrip('/')}/{name}"


def sign_up(config: Config, store: Store, email: str, name: str,
            categories: frozenset[str], now: dt.datetime, form: str) -> SignUp:
    """Store the address as pending (unless active) and mail it what fits its state."""
    subscriber, due = store.sign_up(email, name, categories, RESEND_AFTER, form)
    if not due:
        return SignUp("nothing", subscriber.email)
    if subscriber.status == "pending":
        expires = int((now + dt.timedelta(days=config.subscribe.confirm_days)).timestamp())
        token = make_confirm_token(secret_for(store.secret), subscriber.id, expires)
        _mail(config, subscriber, "confirm", now,
              url=f"{public_path(config, 'confirm')}?token={token}")
        return SignUp("confirmation", subscriber.email)
    if subscriber.status == "active":
        secret = secret_for(store.secret)
        token = make_token(secret, subscriber.id)
        base = config.email.unsubscribe_url or public_path(config, "unsubscribe")
        manage = f"{public_path(config, 'manage')}?token={make_manage_token(secret, subscriber.id)}"
        _mail(config, subscriber, "active", now,
              url=f"{base}{'&' if '?' in base else '?'}token={token}", manage=manage)
        return SignUp("already_active", subscriber.email)
    return SignUp("nothing", subscriber.email)  # bounced: mail to it does not arrive


def confirm(config: Config, store: Store, token: str | None, now: dt.datetime, *,
            confirmed: bool, ip: str = "") -> ConfirmAnswer:
    """What a confirmation token names; `confirmed` (the POST) activates the subscriber
    and records their consent. A forged, malformed or expired token changes nothing."""
    read = read_confirm_token(secret_for(store.secret), token) if token else None
    if read is None:
        return ConfirmAnswer("invalid")
    subscriber_id, expires = read
    if now.timestamp() > expires:
        return ConfirmAnswer("expired")
    subscriber = store.subscriber_by_id(subscriber_id)
    if subscriber is None or subscriber.status not in ("pending", "active"):
        return ConfirmAnswer("invalid")  # forgotten or unsubscribed since
    if subscriber.status == "active":  # a reused link: already done
        return ConfirmAnswer("done", subscriber.email)
    if not confirmed:
        return ConfirmAnswer("confirm", subscriber.email)
    kept = ip if config.subscribe.store_ip else ip_hash(ip, secret_for(store.secret))
    store.record_consent(subscriber.id, kept)
    return ConfirmAnswer("done", subscriber.email)


def ip_hash(ip: str, secret: bytes) -> str:
    """A salted hash of an IP address: shows two consents came from one place, not where."""
    return "sha256:" + hashlib.sha256(secret + b"ip:" + ip.encode()).hexdigest()[:32]


def _mail(config: Config, subscriber: Subscriber, kind: Literal["confirm", "active"],
          now: dt.datetime, *, url: str, manage: str = "") -> None:
    """One message (plain text and HTML, in the digest's language) through the
    configured transport."""
    words = words_for(config)
    values = {"title": config.title, "email": subscriber.email, "url": url,
              "days": config.subscribe.confirm_days}
    env = environment(config.templates)
    context = {"words": words, "values": values, "kind": kind, "url": url, "manage": manage,
               "title": config.title, "link": config.link, "language": config.language}
    message = EmailMessage()
    message["Subject"] = words(f"{kind}_mail_subject", **values)
    message["From"] = config.email.sender
    message["To"] = subscriber.email
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=config.email.domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(env.get_template("signup_email.txt").render(context))
    message.add_alternative(env.get_template("signup_email.html").render(context),
                            subtype="html")
    transport = mailing.open_transport(config, "signup")
    try:
        transport.send(config.email.sender_address, subscriber.email, message.as_bytes(policy=SMTP))
    finally:
        transport.close()
