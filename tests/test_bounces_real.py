"""Bounces end to end against real mail servers: `digest send` through a real Postfix
(tests/postfix_site.py), whose refusals at RCPT and delivery status notifications come back
as they would from the Internet, then `digest bounces` reading Postfix's Maildir, and the
same notices read over IMAP from a real Dovecot (tests/dovecot_site.py).

The subscribers at mail.example.net: a good mailbox; ``nobody-…`` (no such user: 550 5.1.1 at RCPT);
``gone-…`` and ``full-…`` (accepted, then refused by the server behind: a DSN with 5.1.1 or
5.2.2 comes back to the VERP return path); and one at example.org, which this server does not
relay for (554 5.7.1 at RCPT: a policy refusal, not the address's fault).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from dovecot_site import DovecotSite
from newsroom import SAMPLE_DATE, run, sample_config
from postfix_site import DOMAIN, PostfixSite, start_postfix

SAMPLES = Path(__file__).parent / "data" / "bounces"


@dataclass(frozen=True)
class Sent:
    """A project that sent the sample edition through Postfix."""

    config: Path
    bounces: str  # the return path: the bounce mailbox's address at mail.example.net
    good: str
    unknown: str
    gone: str
    full: str
    blocked: str
    output: str  # what `digest send` printed


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def statuses(config: Path) -> dict[str, str]:
    with sqlite3.connect(config.parent / "state" / "digest.sqlite3") as db:
        return dict(db.execute("SELECT email, status FROM subscribers").fetchall())


def send_through(postfix: PostfixSite, folder: Path, mailbox: str | None = None) -> Sent:
    """The sample edition sent to five subscribers through Postfix, with VERP return paths
    in a fresh bounce mailbox; [bounces] reads it (or `mailbox` when given)."""
    bounces, good = postfix.new_mailbox(), postfix.new_mailbox()
    n = bounces.partition("@")[0].removeprefix("box-")
    sent = Sent(config=folder / "config.toml", bounces=bounces, good=good,
                unknown=f"nobody-{n}@{DOMAIN}", gone=f"gone-{n}@{DOMAIN}",
                full=f"full-{n}@{DOMAIN}", blocked=f"reader-{n}@example.org", output="")
    where = mailbox or f"maildir:{postfix.maildir(bounces)}"
    config = sample_config(
        folder, postfix.port,
        email_extra=f'return_path = "{bounces}"\nunsubscribe_mailto = "{bounces}"',
        tail=f'[bounces]\nmailbox = "{where}"\nsoft_limit = 2\n')
    for address in (sent.good, sent.unknown, sent.gone, sent.full, sent.blocked):
        run(config, "subscribers", "add", address)
    # Exit 1: two addresses were refused for good (the unknown user and the relay refusal).
    output = run(config, "send", "--date", SAMPLE_DATE, code=1)
    assert "sent 3" in output and "failed 2" in output, output
    postfix.wait_idle()  # every message delivered or bounced, every DSN delivered
    return replace(sent, config=config, output=output)


def bounces_json(config: Path, *args: str) -> dict[str, object]:
    answer: dict[str, object] = json.loads(run(config, "bounces", "--json", *args))
    return answer


def lines(report: dict[str, object]) -> set[tuple[object, object, object]]:
    messages = report["messages"]
    assert isinstance(messages, list)
    return {(m["address"], m["kind"], m["action"]) for m in messages}


def test_send_through_postfix_then_bounces_reads_its_dsns(postfix: PostfixSite,
                                                          tmp_path: Path):
    sent = send_through(postfix, tmp_path)
    config = sent.config
    # At send time: no such user (550 5.1.1 at RCPT) is bounced at once; the relay refusal
    # (554 5.7.1) is a policy block and leaves the address active.
    assert f"{sent.unknown}: refused (550 5.1.1" in sent.output  # the server's reply, shown
    assert f"{sent.blocked}: refused (554 5.7.1" in sent.output
    after_send = statuses(config)
    assert after_send[sent.unknown] == "bounced"
    assert after_send[sent.blocked] == "active"
    assert after_send[sent.gone] == after_send[sent.full] == "active"  # accepted, for now

    # The good reader got the newsletter with a VERP envelope sender in the bounce mailbox.
    [delivered] = postfix.messages(sent.good)
    message = parse(delivered.read_bytes())
    local = sent.bounces.partition("@")[0]
    assert str(message["Return-Path"]).startswith(f"<{local}+")

    # Postfix sent one DSN per refused-behind reader to that return path.
    notices = postfix.messages(sent.bounces)
    assert len(notices) == 2
    for notice in notices:
        assert parse(notice.read_bytes()).get_content_type() == "multipart/report"

    dry = bounces_json(config, "--dry-run")
    assert dry["total"] == 2 and lines(dry) == {(sent.gone, "hard", "bounced"),
                                                (sent.full, "soft", "counted")}
    assert statuses(config) == after_send  # a dry run changes nothing …
    assert sorted(postfix.messages(sent.bounces)) == sorted(notices)  # … and moves nothing

    report = bounces_json(config)
    assert lines(report) == {(sent.gone, "hard", "bounced"), (sent.full, "soft", "counted")}
    messages = report["messages"]
    assert isinstance(messages, list)
    gone = next(m for m in messages if m["address"] == sent.gone)
    assert gone["status"] == "5.1.1" and gone["tag"] == "valid"
    assert gone["edition"] == SAMPLE_DATE and "User unknown" in gone["diagnostic"]
    full = next(m for m in messages if m["address"] == sent.full)
    assert full["status"] == "5.2.2" and "Mailbox full" in full["diagnostic"]

    now = statuses(config)
    assert now[sent.gone] == "bounced"
    assert now[sent.full] == "active"  # one soft bounce; soft_limit is 2 editions
    assert now[sent.good] == now[sent.blocked] == "active"

    # Handled notices moved to the Maildir's .processed folder; a rerun counts nothing.
    box = postfix.maildir(sent.bounces)
    assert postfix.messages(sent.bounces) == []
    assert len(list((box / ".processed" / "cur").iterdir())) == 2
    again = bounces_json(config)
    assert again["total"] == 0 and again["messages"] == []
    assert statuses(config) == now

    listed = run(config, "subscribers", "list", "--status", "bounced")
    assert sent.gone in listed and sent.unknown in listed
    records = run(config, "subscribers", "list", "--status", "bounced", "--json")
    why = {r["email"]: r for r in map(json.loads, records.splitlines()[:-1])}  # then a count
    assert "5.1.1" in why[sent.gone]["status_reason"]  # the DSN's status, and when
    assert "5.1.1" in why[sent.unknown]["status_reason"]  # the refusal at RCPT
    assert why[sent.gone]["status_changed_at"]
    assert sent.good not in listed and sent.full not in listed and sent.blocked not in listed
    # The JSON, then the warnings (stderr, which the test runner mixes in).
    status, _ = json.JSONDecoder().raw_decode(run(config, "status", "--json"))
    assert status["subscribers"]["bounced"] == 2 and status["subscribers"]["active"] == 3
    assert status["bounces"]["policy_blocks"] == [{"domain": "example.org", "blocks": 1}]
    # Each recipient not served, with the server's reply or the notice's diagnostic.
    failures = {line.split("\t")[0].strip(): line for line in run(
        config, "editions", "show", SAMPLE_DATE, "--failures").splitlines() if "\t" in line}
    assert set(failures) == {sent.unknown, sent.gone, sent.full, sent.blocked}
    assert "User unknown" in failures[sent.unknown] and "User unknown" in failures[sent.gone]
    assert "Mailbox full" in failures[sent.full]
    assert "Relay access denied" in failures[sent.blocked]
    active = run(config, "subscribers", "list", "--status", "active")
    assert sent.good in active


def test_a_delay_warning_from_postfix_changes_nothing(tmp_path: Path):
    """A greylisting server behind keeps Postfix retrying; Postfix warns the sender of the
    delay (`Action: delayed`). The reader stays active, nothing is counted against them,
    and the warning is put away."""
    with start_postfix(settings={"maximal_queue_lifetime": "1h",
                                 "delay_warning_time": "1s"}) as postfix:
        bounces = postfix.new_mailbox()
        n = bounces.partition("@")[0].removeprefix("box-")
        slow = f"slow-{n}@{DOMAIN}"
        config = sample_config(
            tmp_path, postfix.port, email_extra=f'return_path = "{bounces}"',
            tail=f'[bounces]\nmailbox = "maildir:{postfix.maildir(bounces)}"\nsoft_limit = 1\n')
        run(config, "subscribers", "add", slow)
        assert "sent 1" in run(config, "send", "--date", SAMPLE_DATE)  # accepted at RCPT
        [warning] = postfix.wait_for(bounces, 1, timeout=60)
        notice = parse(warning.read_bytes())
        assert notice.get_content_type() == "multipart/report"
        assert "Action: delayed" in warning.read_text(errors="replace")
        assert slow in postfix.queue()  # still trying

        report = bounces_json(config)
        assert lines(report) == {(slow, "delayed", "ignored")}
        [line] = report["messages"]  # type: ignore[misc]
        assert line["status"] == "4.2.0" and "Greylisted" in line["diagnostic"]
        assert line["tag"] == "valid" and line["edition"] == SAMPLE_DATE
        # soft_limit is 1: counted as a soft bounce, the reader would be bounced now.
        assert statuses(config)[slow] == "active"
        status, _ = json.JSONDecoder().raw_decode(run(config, "status", "--json"))
        assert status["bounces"]["bounced"] == 0
        assert status["bounces"]["delays"] == [{"domain": DOMAIN, "delays": 1}]
        assert postfix.messages(bounces) == []  # put away
        assert len(list((postfix.maildir(bounces) / ".processed" / "cur").iterdir())) == 1


def test_the_next_send_reads_the_bounce_mailbox_first(postfix: PostfixSite, tmp_path: Path):
    sent = send_through(postfix, tmp_path)
    again = run(sent.config, "send", "--date", SAMPLE_DATE)
    first = again.splitlines()[0]
    assert first.startswith("bounces: 2 message(s)") and "1 bounced" in first, again
    assert statuses(sent.config)[sent.gone] == "bounced"
    assert postfix.messages(sent.bounces) == []  # put away in .processed


def test_a_mailed_unsubscribe_through_postfix_unsubscribes(postfix: PostfixSite,
                                                           tmp_path: Path):
    sent = send_through(postfix, tmp_path)
    [delivered] = postfix.messages(sent.good)
    header = str(parse(delivered.read_bytes())["List-Unsubscribe"])
    [mailto] = [part.strip(" <>") for part in header.split(",") if "mailto:" in part]
    target = urlsplit(mailto)
    address = target.path
    subject = unquote(dict(q.split("=", 1) for q in target.query.split("&"))["subject"])
    assert address.partition("@")[2] == DOMAIN  # it reaches the bounce mailbox
    request = EmailMessage()  # what a mail client sends for the mailto link
    request["From"] = sent.good
    request["To"] = address
    request["Subject"] = subject
    request["Message-ID"] = f"<unsubscribe-{sent.good}>"
    request.set_content("This message will unsubscribe you.")
    assert postfix.send(sent.good, [address], request) == {}
    postfix.wait_for(sent.bounces, 3)  # the two DSNs of the send and the request

    report = bounces_json(config := sent.config)
    assert (sent.good, "unsubscribe", "unsubscribed") in lines(report)
    assert statuses(config)[sent.good] == "unsubscribed"
    assert statuses(config)[sent.blocked] == "active"


def imap_url(dovecot: DovecotSite, user: str) -> str:
    return f"imap://{user}@{dovecot.host}:{dovecot.port}/INBOX"


def complaint(original: bytes, reporter: str) -> bytes:
    """An ARF report (RFC 5965) as a feedback loop sends it, around the message as the
    reader's mailbox got it (Return-Path included)."""
    return (f"""From: Feedback Loop <fbl@isp.example>
To: {reporter}
Subject: Abuse report
Message-ID: <arf-1@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="arf"

--arf
Content-Type: text/plain

This is an email abuse report for an email message received.

--arf
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: isp-fbl/1.0
Version: 1

--arf
Content-Type: message/rfc822

""".encode() + original + b"\n--arf--\n")


def inflated(dsn: bytes, size: int = 5 * 1024 * 1024) -> bytes:
    """The DSN with its returned message grown past `size` bytes: the report stays first,
    5 MB of the returned message's text follow (a large newsletter sent back whole)."""
    boundary = parse(dsn).get_boundary()
    assert boundary
    end = f"\n--{boundary}--".encode()
    line = b"%07d returned text of a very large message\n"
    filler = b"".join(line % n for n in range(size // len(line % 0) + 1))
    assert dsn.count(end) == 1
    return dsn.replace(end, b"\n" + filler + end)


@pytest.fixture
def imap_sent(postfix: PostfixSite, dovecot: DovecotSite, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> tuple[Sent, str]:
    """A project whose [bounces] mailbox is an IMAP INBOX holding Postfix's two real DSNs,
    a complaint about the good reader's copy, an out-of-office reply and junk."""
    user = dovecot.new_user()
    monkeypatch.setenv("DIGEST_IMAP_PASSWORD", user.password)
    sent = send_through(postfix, tmp_path, imap_url(dovecot, user.user))
    for notice in postfix.messages(sent.bounces):
        raw = notice.read_bytes()
        if sent.gone.encode() in raw:
            raw = inflated(raw)  # read in part: the report comes first
        dovecot.append(user, raw)
    [copy] = postfix.messages(sent.good)
    dovecot.append(user, complaint(copy.read_bytes(), sent.bounces))
    dovecot.append(user, (SAMPLES / "out_of_office.eml").read_bytes())
    dovecot.append(user, b"From: someone@example.org\r\nSubject: hello\r\n"
                         b"Message-ID: <junk@example.org>\r\n\r\nNot a report.\r\n")
    return sent, user.user


def test_bounces_over_imap_flags_moves_and_counts_nothing_twice(
        imap_sent: tuple[Sent, str], dovecot: DovecotSite):
    sent, name = imap_sent
    user = next(u for u in dovecot.users if u.user == name)
    config = sent.config
    before = dovecot.mailbox(user)
    assert len(before) == 5 and all(m.flags == () for m in before)

    dry = bounces_json(config, "--dry-run")
    assert dry["total"] == 5
    assert dovecot.mailbox(user) == before  # nothing flagged, nothing moved
    with dovecot.connect(user) as imap:  # not even the folder is made
        assert not any(imap.list('""', '"processed"')[1])

    report = bounces_json(config)
    found = lines(report)
    assert {line for line in found if line[1] != "auto_reply"} == {
        (sent.gone, "hard", "bounced"), (sent.full, "soft", "counted"),
        (sent.good, "complaint", "unsubscribed"), (None, "unknown", "left")}
    assert [line[2] for line in found if line[1] == "auto_reply"] == ["ignored"]
    now = statuses(config)
    assert now[sent.gone] == "bounced" and now[sent.good] == "unsubscribed"
    assert now[sent.full] == now[sent.blocked] == "active"

    # The four handled messages are in "processed", flagged \Seen; the junk stays, unseen.
    processed = dovecot.mailbox(user, "processed")
    assert len(processed) == 4 and all("\\Seen" in m.flags for m in processed)
    # The 5 MB notice was classified from its start and moved whole.
    assert sorted(len(m.raw) for m in processed) == sorted(len(m.raw) for m in before
                                                          if b"<junk@" not in m.raw)
    assert max(len(m.raw) for m in processed) > 5 * 1024 * 1024
    [left] = dovecot.mailbox(user)
    assert b"<junk@example.org>" in left.raw and "\\Seen" not in left.flags

    again = bounces_json(config)
    assert lines(again) == set() and again["left_earlier"] == 1  # not read again
    assert lines(bounces_json(config, "--again")) == {(None, "unknown", "left")}
    assert statuses(config) == now
    assert len(dovecot.mailbox(user, "processed")) == 4
    [still] = dovecot.mailbox(user)  # for a person to read: where it was, unseen
    assert b"<junk@example.org>" in still.raw and "\\Seen" not in still.flags


def test_imaps_with_a_trusted_certificate_and_clear_errors_before(
        postfix: PostfixSite, dovecot: DovecotSite, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch):
    """IMAP over TLS, as editors use it: the server's certificate is trusted through
    SSL_CERT_FILE (here the test server's own). Before that, an untrusted certificate, a
    wrong password and a missing one each stop the run with an error that names the
    mailbox, and change nothing on either side."""
    user = dovecot.new_user()
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.certificate))
    monkeypatch.setenv("DIGEST_IMAP_PASSWORD", user.password)
    where = f"imaps://{user.user}@127.0.0.1:{dovecot.tls_port}/INBOX"
    sent = send_through(postfix, tmp_path, where)
    for notice in postfix.messages(sent.bounces):
        dovecot.append(user, notice.read_bytes())
    config, before, inbox = sent.config, statuses(sent.config), dovecot.mailbox(user)

    monkeypatch.delenv("SSL_CERT_FILE")
    untrusted = run(config, "bounces", code=1)
    assert where in untrusted and "certificate" in untrusted.lower()
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.certificate))
    monkeypatch.setenv("DIGEST_IMAP_PASSWORD", "not-the-password")
    wrong = run(config, "bounces", code=1)
    assert where in wrong and "authentication failed" in wrong.lower()
    assert "b'" not in wrong  # the server's words, not the bytes imaplib raised
    monkeypatch.delenv("DIGEST_IMAP_PASSWORD")
    missing = run(config, "bounces", code=1)
    assert "DIGEST_IMAP_PASSWORD" in missing
    assert statuses(config) == before
    assert dovecot.mailbox(user) == inbox and dovecot.mailbox(user, "processed") == []

    monkeypatch.setenv("DIGEST_IMAP_PASSWORD", user.password)
    report = bounces_json(config)
    assert lines(report) == {(sent.gone, "hard", "bounced"), (sent.full, "soft", "counted")}
    assert dovecot.mailbox(user) == []
    assert sorted(m.raw for m in dovecot.mailbox(user, "processed")) == \
        sorted(m.raw for m in inbox)  # moved whole
