"""The real Postfix and Dovecot of tests/postfix_site.py and tests/dovecot_site.py behave as
the bounce tests need: these check the fixtures, not the digest.

Postfix refuses an unknown user at RCPT, accepts gone-… and full-… then sends a real RFC 3464
delivery status notification to the VERP envelope sender, which lands in the Maildir of the
return path's base address. Dovecot logs a user in, stores what APPEND gives it and fetches it
back unchanged, and offers MOVE.
"""

from __future__ import annotations

import imaplib
import smtplib
import ssl
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path

import pytest
from dovecot_site import DovecotSite
from postfix_site import DOMAIN, PostfixSite


def newsletter(to: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Aze Daily Digest <digest@news.example.org>"
    message["To"] = to
    message["Subject"] = "Aze Daily Digest — 25 November"
    message["Message-ID"] = message_id
    message.set_content("Today's articles.\n" * 40)
    return message


def parse(path: Path) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(path.read_bytes())  # type: ignore[return-value]


def delivery_status(report: EmailMessage) -> list[Message]:
    """The per-recipient blocks of a multipart/report's message/delivery-status part."""
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    [status] = [p for p in report.walk() if p.get_content_type() == "message/delivery-status"]
    blocks = status.get_payload()
    assert isinstance(blocks, list)
    return blocks[1:]  # the first block is per message (Reporting-MTA …)


def verp(postfix: PostfixSite, tag: str) -> tuple[str, str]:
    """A fresh bounce mailbox and a VERP envelope sender in it."""
    mailbox = postfix.new_mailbox()
    local = mailbox.partition("@")[0]
    return local, f"{local}+{tag}@{DOMAIN}"


def test_an_unknown_user_is_refused_at_rcpt_with_5_1_1(postfix: PostfixSite):
    local, sender = verp(postfix, "t1")
    message = newsletter(f"nobody-here@{DOMAIN}", "<rcpt@news.example.org>")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        postfix.send(sender, [f"nobody-here@{DOMAIN}"], message)
    code, text = refused.value.recipients[f"nobody-here@{DOMAIN}"]
    assert code == 550 and text.startswith(b"5.1.1 ")
    postfix.wait_idle()
    assert postfix.messages(local) == []  # refused at once: no notification comes later


@pytest.mark.parametrize(("prefix", "status", "code"), [("gone", "5.1.1", "550"),
                                                        ("full", "5.2.2", "552")])
def test_accepted_then_bounced_sends_a_dsn_to_the_verp_return_path(
        postfix: PostfixSite, prefix: str, status: str, code: str):
    local, sender = verp(postfix, f"edition-{prefix}.sig")
    recipient = f"{prefix}-reader@{DOMAIN}"
    assert postfix.send(sender, [recipient], newsletter(recipient, f"<{prefix}@x.example>")) == {}
    [path] = postfix.wait_for(local, 1)
    dsn = parse(path)
    assert dsn["Return-Path"] == "<>"  # a notification has the null envelope sender
    assert dsn["Delivered-To"] == sender  # the tag survives, the mailbox is the base address
    assert str(dsn["Auto-Submitted"]).startswith("auto-replied")
    [block] = delivery_status(dsn)
    assert block["Final-Recipient"].split(";")[1].strip() == recipient
    assert block["Action"] == "failed"
    assert block["Status"] == status
    assert code in block["Diagnostic-Code"]
    returned = [p for p in dsn.walk() if p.get_content_type() in ("message/rfc822",
                                                                 "text/rfc822-headers")]
    assert returned and "<" + prefix + "@x.example>" in returned[0].as_string()


def test_a_good_mailbox_gets_the_message_and_the_sender_no_notification(postfix: PostfixSite):
    local, sender = verp(postfix, "t3")
    good = postfix.new_mailbox()
    message = newsletter(good, "<good@news.example.org>")
    assert postfix.send(sender, [good], message) == {}
    [path] = postfix.wait_for(good, 1)
    delivered = parse(path)
    assert delivered["Message-ID"] == "<good@news.example.org>"
    assert delivered["Return-Path"] == f"<{sender}>"
    assert delivered.get_content().count("Today's articles.") == 40
    postfix.wait_idle()
    assert postfix.messages(local) == []


def test_nothing_is_relayed_to_other_domains(postfix: PostfixSite):
    _, sender = verp(postfix, "t4")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        postfix.send(sender, ["someone@example.org"], newsletter("someone@example.org", "<r@x>"))
    code, _ = refused.value.recipients["someone@example.org"]
    assert code == 554  # relay access denied


RAW = (b"From: Mail Delivery System <MAILER-DAEMON@mail.example.net>\r\n"
       b"To: box-000+tag@mail.example.net\r\nSubject: Undelivered Mail Returned to Sender\r\n"
       b"Message-ID: <imap-1@mail.example.net>\r\n\r\nThis is the mail system.\r\n")


def test_dovecot_refuses_a_wrong_password_and_logs_a_user_in(dovecot: DovecotSite):
    user = dovecot.new_user()
    wrong = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=30)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        wrong.login(user.user, "wrong")
    wrong.logout()
    with dovecot.connect(user) as imap:
        _, lines = imap.capability()  # after login: imaplib keeps the greeting's
        assert {b"MOVE", b"UIDPLUS"} <= set(b" ".join(lines).split())
        status, _ = imap.select("INBOX")
        assert status == "OK"


def test_dovecot_speaks_tls_with_a_certificate_a_client_can_trust(dovecot: DovecotSite):
    user = dovecot.new_user()
    trusting = ssl.create_default_context(cafile=str(dovecot.certificate))
    with imaplib.IMAP4_SSL(dovecot.host, dovecot.tls_port, ssl_context=trusting,
                           timeout=30) as imap:
        status, _ = imap.login(user.user, user.password)
        assert status == "OK"
    with pytest.raises(ssl.SSLCertVerificationError):
        imaplib.IMAP4_SSL(dovecot.host, dovecot.tls_port,
                          ssl_context=ssl.create_default_context(), timeout=30)


def test_dovecot_append_then_fetch_gives_the_message_back_per_user(dovecot: DovecotSite):
    user, other = dovecot.new_user(), dovecot.new_user()
    dovecot.append(user, RAW)
    dovecot.append(user, RAW.replace(b"imap-1", b"imap-2"), flags=r"(\Seen)")
    first, second = dovecot.mailbox(user)
    assert first.raw == RAW and first.flags == ()
    assert b"<imap-2@mail.example.net>" in second.raw and second.flags == ("\\Seen",)
    assert dovecot.mailbox(other) == []  # users do not see each other's mail
    assert dovecot.mailbox(user, "processed") == []  # no such mailbox yet
    dovecot.append(user, RAW, mailbox="processed")
    assert [m.raw for m in dovecot.mailbox(user, "processed")] == [RAW]
