"""Signing up on the form: double opt-in.

A reader who fills the form becomes a *pending* subscriber (never sent an edition)
and is mailed a signed link that expires; only a POST to it (a person pressing the
button, not a mail scanner following the link) makes them active and records their
consent. What the form answers never depends on the address's state: every path
ends in the same "check your inbox" page, and what differs goes by mail only. The
mail leaves the request: the request stores its decision and queues the message
(in the state file, one transaction), and `send_queued` sends it (`digest serve`'s
mailer thread, or the daily `send` for what is left), so every answer takes the
same time whatever the address's state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Literal

from digest.config import Config, pages_url
from digest.deliver import mailing
from digest.deliver.tokens import (
    make_confirm_token,
    make_manage_token,
    make_token,
    read_confirm_token,
    secret_for,
)
from digest.deliver.transport import Transport
from digest.errors import DeliveryError
from digest.models import Subscriber
from digest.render.context import words_for
from digest.render.templates import environment
from digest.store import QueuedMail, Store

if TYPE_CHECKING:
    import jinja2

RESEND_AFTER = 3600.0  # seconds: at most one mail per address an hour
GIVE_UP_AFTER = 12  # attempts of one message (about 7 hours of trying)


@dataclass(frozen=True)
class SignUp:
    """What a POST of the form did (never shown to the reader: the page is the same).
    `queued` is the message it owes ("" for none: one was sent within the hour, or
    the sign-up was refused); `refused` says why nothing was stored."""

    queued: Literal["confirmation", "already_active", ""]
    email: str = ""
    refused: Literal["", "honeypot", "rate", "domain"] = ""


@dataclass(frozen=True)
class MailRun:
    """What a pass over the queue of sign-up mail did."""

    sent: int = 0
    dropped: int = 0  # no longer owed (confirmed, left or forgotten since) or refused (5xx)
    later: int = 0  # deferred, or the server could not be reached: tried again later
    problem: str = ""  # why the server could not be used, when it could not


@dataclass(frozen=True)
class ConfirmAnswer:
    """What a confirmation token came to."""

    state: Literal["confirm", "done", "invalid", "expired"]
    email: str = ""


def public_path(config: Config, name: str) -> str:
    """The absolute URL of endpoint `name` of `digest serve` (see `pages_url`)."""
    return pages_url(config) + name


def takes_mail(config: Config, address: str) -> bool:
    """Whether the address's domain has an MX (or A/AAAA) record (`check_domain`)."""
    from digest.config.addresses import nameserver
    from digest.subscribers import domain_takes_mail

    server = config.subscribe.nameserver
    return domain_takes_mail(address, nameserver(server) if server else None)


def sign_up(config: Config, store: Store, email: str, name: str,
            categories: frozenset[str], now: dt.datetime, form: str) -> SignUp:
    """Store the address as pending (unless active) and queue what fits its state; the
    mail itself goes out of the request (`send_queued`)."""
    expires = int((now + dt.timedelta(days=config.subscribe.confirm_days)).timestamp())
    subscriber, kind = store.sign_up(email, name, categories, RESEND_AFTER, form, expires)
    queued: dict[str, Literal["confirmation", "already_active"]] = {
        "confirm": "confirmation", "active": "already_active"}
    return SignUp(queued[kind] if kind else "", subscriber.email)


def send_queued(config: Config, store: Store, now: Callable[[], dt.datetime]) -> MailRun:
    """Send every sign-up message that is due, a batch at a time; what the server defers,
    or cannot take now, waits (1, 2, 4 … minutes, at most an hour) and is tried again."""
    totals = MailRun()
    transport: Transport | None = None
    env = environment(config.templates)  # compiled once for the pass
    try:
        while batch := store.claim_signup_mail():
            if transport is None:
                transport = mailing.open_transport(config, "signup")
            done = _send_batch(config, store, transport, batch, now(), env)
            totals = MailRun(totals.sent + done.sent, totals.dropped + done.dropped,
                             totals.later + done.later, done.problem)
            if done.problem:
                break
    except DeliveryError as exc:  # the server cannot be used: everything waits
        totals = MailRun(totals.sent, totals.dropped, totals.later, str(exc))
    finally:
        if transport is not None:
            transport.close()
    return totals


def _send_batch(config: Config, store: Store, transport: Transport,
                batch: list[QueuedMail], now: dt.datetime, env: jinja2.Environment,
                ) -> MailRun:
    sent = dropped = later = 0
    for position, mail in enumerate(batch):
        message = _message(config, store, mail, now, env)
        if message is None:
            store.signup_mail_done(mail.id)
            dropped += 1
            continue
        wait = now + dt.timedelta(minutes=min(60, 2 ** (mail.attempts - 1)))
        try:
            outcome = transport.send(config.email.sender_address, mail.subscriber.email,
                                     message)
        except DeliveryError as exc:
            for waiting in batch[position:]:
                store.signup_mail_later(waiting.id, wait, str(exc))
            return MailRun(sent, dropped, later + len(batch) - position, str(exc))
        if outcome.status == "sent" or outcome.status == "unknown":  # never twice
            store.signup_mail_done(mail.id)
            sent += 1
        elif outcome.status == "failed" or mail.attempts >= GIVE_UP_AFTER:
            store.signup_mail_done(mail.id)
            dropped += 1
        else:
            store.signup_mail_later(mail.id, wait, outcome.reply or "deferred")
            later += 1
    return MailRun(sent, dropped, later)


def _message(config: Config, store: Store, mail: QueuedMail, now: dt.datetime,
             env: jinja2.Environment) -> bytes | None:
    """The message `mail` owes, or None when it is no longer owed."""
    subscriber = mail.subscriber
    secret = secret_for(store.secret)
    if mail.kind == "confirm":
        if subscriber.status != "pending" or now.timestamp() > mail.expires:
            return None  # confirmed, left, or too late for its link
        token = make_confirm_token(secret, subscriber.id, mail.expires, mail.nonce)
        return _mail(config, env, subscriber, "confirm", now,
                     url=f"{public_path(config, 'confirm')}?token={token}")
    if subscriber.status not in ("active", "paused"):
        return None
    base = config.email.unsubscribe_url or public_path(config, "unsubscribe")
    manage = f"{public_path(config, 'manage')}?token={make_manage_token(secret, subscriber.id)}"
    leave = f"{base}{'&' if '?' in base else '?'}token={make_token(secret, subscriber.id)}"
    return _mail(config, env, subscriber, "active", now, url=leave, manage=manage)


def confirm(config: Config, store: Store, token: str | None, now: dt.datetime, *,
            confirmed: bool, ip: str = "") -> ConfirmAnswer:
    """What a confirmation token names; `confirmed` (the POST) activates the subscriber
    and records their consent. A forged, malformed or expired token changes nothing;
    neither does one made for an earlier request of the same address (it was
    unsubscribed and signed up again since: only the new link confirms)."""
    read = read_confirm_token(secret_for(store.secret), token) if token else None
    if read is None:
        return ConfirmAnswer("invalid")
    subscriber_id, expires, nonce = read
    if now.timestamp() > expires:
        return ConfirmAnswer("expired")
    subscriber = store.subscriber_by_id(subscriber_id)
    if subscriber is None or subscriber.status not in ("pending", "active", "paused"):
        return ConfirmAnswer("invalid")  # forgotten or unsubscribed since
    if not hmac.compare_digest(nonce, store.confirm_nonce(subscriber.id) or b""):
        return ConfirmAnswer("invalid")  # made for another request of this address
    if subscriber.status != "pending":  # a reused link: already done
        return ConfirmAnswer("done", subscriber.email)
    if not confirmed:
        return ConfirmAnswer("confirm", subscriber.email)
    kept = ip if config.subscribe.store_ip else ip_hash(ip, secret_for(store.secret))
    store.record_consent(subscriber.id, kept)
    return ConfirmAnswer("done", subscriber.email)


def ip_hash(ip: str, secret: bytes) -> str:
    """A salted hash of an IP address: shows two consents came from one place, not where."""
    return "sha256:" + hashlib.sha256(secret + b"ip:" + ip.encode()).hexdigest()[:32]


def _mail(config: Config, env: jinja2.Environment, subscriber: Subscriber,
          kind: Literal["confirm", "active"], now: dt.datetime, *, url: str,
          manage: str = "") -> bytes:
    """One message (plain text and HTML, in the digest's language), as sent."""
    words = words_for(config)
    values = {"title": config.title, "email": subscriber.email, "url": url,
              "days": config.subscribe.confirm_days}
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
    return message.as_bytes(policy=SMTP)
