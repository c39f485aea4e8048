"""The bounce classifier, a pure function of a message's bytes, on real-world notices
(tests/data/bounces/, where each came from is in SOURCES.md) and on bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from digest.deliver.bounce_reports import READ_AT_MOST, BounceKeys, classify_bytes
from digest.deliver.bounce_rules import kind_for, reply_kind
from digest.deliver.tokens import make_return_tag, make_token, read_return_tag

SAMPLES = Path(__file__).parent / "data" / "bounces"
KEYS = BounceKeys(b"sample-secret", "bounces")  # the samples' tags were made with it
EDITION = dt.date(2026, 11, 30)


def outcome(name: str, keys: BounceKeys = KEYS):
    return classify_bytes((SAMPLES / name).read_bytes(), keys)


# (file, kind, the addresses the report names). The flufl_* addresses are the ones
# flufl.bounce's own tests expect of the same files.
REAL_WORLD = [
    ("flufl_postfix_01.txt", "hard", {"xxxxx@local.ie"}),  # 550 5.1.1 in the text
    ("flufl_postfix_05.txt", "soft", {"userx@example.net"}),
    ("flufl_exim_01.txt", "hard", {"userx@its.example.nl"}),
    ("flufl_microsoft_01.txt", "soft", {"userx@example.COM"}),
    ("flufl_microsoft_03.txt", "soft", {"userx@example.com"}),
    ("flufl_qmail_01.txt", "soft", {"userx@example.de"}),
    ("flufl_qmail_03.txt", "hard", {"userx@example.jp"}),  # "no mailbox here by that name"
    ("flufl_qmail_06.txt", "soft", {"ntl@xxx.com"}),  # disk quota exceeded
    ("flufl_yahoo_01.txt", "soft", {"userx@example.com"}),
    ("flufl_yahoo_10.txt", "hard", {"userx@example.com", "usery@example.com",
                                    "userz@example.com"}),  # "doesn't have a yahoo.com account"
    ("flufl_yahoo_11.txt", "hard", {"bad_user@aol.com"}),
    ("flufl_dsn_01.txt", "soft", {"userx@example.com"}),  # 5.0.0, no words: not a guess
    # Warnings of a delay: the server still tries (DSNs with Action: delayed, and
    # flufl.bounce's SimpleWarning texts).
    ("flufl_dsn_05.txt", "delayed", {"userx@example.cz"}),
    ("flufl_dsn_06.txt", "delayed", {"userx@example.com"}),
    ("flufl_dsn_07.txt", "delayed", {"userx@example.nz"}),
    ("flufl_dsn_08.txt", "delayed", {"userx@example.de"}),
    ("flufl_simple_03.txt", "delayed", {"userx@example.za"}),  # Exim, "delayed 24 hours"
    ("flufl_simple_21.txt", "delayed", {"userx@example.com"}),
    ("flufl_simple_28.txt", "delayed", {"userx@example.com"}),  # Gmail's "(Delay)"
    ("flufl_simple_40.txt", "delayed", {"user@example.com"}),
    ("flufl_dsn_09.txt", "policy", {"userx@example.com"}),  # 5.7.1
    ("flufl_dsn_11.txt", "hard", {"joem@example.com"}),
    ("flufl_dsn_12.txt", "hard", {"userx@example.jp"}),
    ("flufl_simple_07.txt", "soft", {"userx@example.net"}),  # mailbox full
    ("flufl_simple_42.txt", "policy", {"david...@gmail.com"}),  # Gmail 550-5.7.1
    ("flufl_sendmail_01.txt", "soft", {"zzzzz@nfg.nl", "zzzzz@shaft.coal.nl"}),
    ("flufl_groupwise_01.txt", "soft", {"userx@example.EDU"}),
    ("flufl_aol_01.txt", "soft", {"screenname@aol.com"}),
    ("flufl_sina_01.txt", "soft", {"userx@sina.com", "usery@sina.com"}),
    ("flufl_smtp32_04.txt", "soft", {"after_another@example.net",
                                     "one_bad_address@example.net"}),
    ("gmail_user_unknown.eml", "hard", {"no.such.reader@gmail.com"}),
    ("gmail_policy_block.eml", "policy", {"reader8@gmail.com"}),  # 5.7.26 DMARC
    ("outlook_null_mx.eml", "hard", {"reader9@parked.example"}),  # 5.1.10
    ("postfix_mailbox_full.eml", "soft", {"reader10@example.net"}),  # 5.2.2
    ("yahoo_arf_complaint.eml", "complaint", {"reader11@yahoo.com"}),
    ("koi8r_mailbox_full.eml", "soft", {"reader12@example.ru"}),  # 4.2.2, KOI8-R text
]


@pytest.mark.parametrize(("name", "kind", "addresses"), REAL_WORLD)
def test_real_world_notices_are_classified(name: str, kind: str, addresses: set[str]):
    found = outcome(name)
    assert found.kind == kind, found
    assert {r.address for r in found.recipients} == addresses


@pytest.mark.parametrize(("name", "subscriber"), [
    ("gmail_user_unknown.eml", 7), ("gmail_policy_block.eml", 8),
    ("outlook_null_mx.eml", 9), ("postfix_mailbox_full.eml", 10),
    ("koi8r_mailbox_full.eml", 12)])
def test_the_verp_tag_names_the_edition_and_subscriber(name: str, subscriber: int):
    found = outcome(name)
    assert (found.tag, found.edition, found.subscriber_id) == ("valid", EDITION, subscriber)
    assert found.acts


def test_without_the_secret_a_tag_is_forged_and_names_nobody():
    found = outcome("gmail_user_unknown.eml", BounceKeys(b"another-secret", "bounces"))
    assert found.tag == "forged" and found.kind == "unknown"
    assert found.subscriber_id is None and found.recipients == () and not found.acts


def test_a_forged_tag_never_acts_on_the_address_the_report_names():
    found = outcome("forged_verp.eml")
    assert found.tag == "forged" and found.kind == "unknown" and not found.acts
    assert found.recipients == () and "forged" in found.detail


def test_statuses_follow_the_rules():
    assert found_kind("5.1.1") == "hard"
    assert found_kind("5.1.10") == "hard"
    assert found_kind("5.2.1") == "hard"
    for soft in ("4.2.2", "4.4.7", "5.2.2", "5.3.4", "5.4.1"):
        assert found_kind(soft) == "soft", soft
    for policy in ("5.7.1", "5.7.26", "4.7.0"):
        assert found_kind(policy) == "policy", policy
    for words in ("Message blocked", "listed on a blocklist", "sender reputation",
                  "rejected as spam", "rejected by policy"):
        assert kind_for(None, f"550 {words}") == "policy", words
    assert kind_for("5.1.1", "blocked") == "hard"  # the code names the address itself


def found_kind(status: str) -> str:
    return kind_for(status, "")


def test_replies_at_send_time_follow_the_same_rules():
    assert reply_kind("550 5.1.1 <gone@example.org>: Recipient address rejected") == "hard"
    assert reply_kind("550 5.7.1 Service unavailable; client host blocked") == "policy"
    assert reply_kind("554 Message rejected as spam") == "policy"
    assert reply_kind("552 5.2.2 Mailbox full") == "soft"
    assert reply_kind("550 No such user here") == "hard"
    assert reply_kind("550 Requested action not taken") == "soft"


def test_a_complaint_names_the_subscriber_by_its_return_path():
    found = outcome("yahoo_arf_complaint.eml")
    assert found.kind == "complaint" and found.subscriber_id == 11
    assert found.tag == "valid" and found.edition == EDITION


def test_a_redacted_complaint_names_the_subscriber_by_the_unsubscribe_token():
    found = outcome("arf_redacted_token_only.eml")
    assert found.kind == "complaint" and found.subscriber_id == 12


def test_a_mailed_unsubscribe_carries_the_signed_token():
    found = outcome("mailed_unsubscribe.eml")
    assert found.kind == "unsubscribe" and found.subscriber_id == 12
    other = outcome("mailed_unsubscribe.eml", BounceKeys(b"another-secret", "bounces"))
    assert other.kind == "unknown" and other.subscriber_id is None


def test_a_token_in_the_address_unsubscribes_too():
    token = make_token(KEYS.secret, 5)
    raw = (f"From: r@example.org\nTo: bounces+{token}@news.example.org\nSubject: hi\n"
           "Message-ID: <u@example.org>\n\nplease\n").encode()
    found = classify_bytes(raw, KEYS)
    assert (found.kind, found.subscriber_id) == ("unsubscribe", 5)


@pytest.mark.parametrize("name", ["out_of_office.eml", "vacation_subject_only.eml",
                                  "flufl_qmail_08.txt"])
def test_automatic_replies_are_recognised(name: str):
    assert outcome(name).kind == "auto_reply"


@pytest.mark.parametrize("name", ["truncated_report.eml", "malformed_report.eml",
                                  "forged_verp.eml", "koi8r_mailbox_full.eml"])
def test_bad_input_never_unsubscribes_or_hard_bounces(name: str):
    found = outcome(name)
    assert found.kind not in ("hard", "complaint", "unsubscribe")


def test_a_five_megabyte_message_is_classified_from_its_start():
    head = (SAMPLES / "gmail_user_unknown.eml").read_bytes()
    boundary = b"--000000000000b4e1a50627f0c1a2--"
    big = head.replace(boundary, b"--000000000000b4e1a50627f0c1a2\nContent-Type: "
                       b"application/octet-stream\n\n" + b"A" * (5 * 1024 * 1024) + b"\n"
                       + boundary)
    assert len(big) > 5 * 1024 * 1024 > READ_AT_MOST
    found = classify_bytes(big, KEYS)
    assert found.kind == "hard" and found.subscriber_id == 7


@pytest.mark.parametrize("raw", [b"", b"\x00\xff\xfe garbage", b"Content-Type: multipart/"
                                 b"report; report-type=delivery-status\n\n--\n",
                                 b"Subject: =?x-unknown?q?=E9?=\n\nhi"])
def test_nonsense_is_unknown(raw: bytes):
    found = classify_bytes(raw, KEYS)
    assert found.kind == "unknown" and not found.acts
    assert found.message_id.startswith("sha256:")


def test_a_notice_for_someone_else_names_them_but_no_subscriber():
    found = outcome("dsn_not_subscriber.eml")
    assert found.kind == "hard" and found.subscriber_id is None and found.tag == "none"
    assert [r.address for r in found.recipients] == ["stranger@example.net"]


def test_return_tags_fit_a_local_part_and_survive_lower_or_upper_case():
    tag = make_return_tag(b"k", EDITION, 2**63 - 1)
    assert len(tag) <= 32 and tag == tag.lower()
    assert read_return_tag(b"k", tag.upper()) == (EDITION, 2**63 - 1)
    assert read_return_tag(b"k", tag[:-1]) is None
    assert read_return_tag(b"k", tag[:-1] + ("a" if tag[-1] != "a" else "b")) is None


# -- what a notice does: the pure decision -------------------------------------------

@pytest.mark.parametrize(("kind", "acts", "status", "streak", "action"), [
    ("hard", True, "active", 1, "bounced"),
    ("hard", True, "paused", 1, "bounced"),
    ("hard", True, "bounced", 1, "unchanged"),
    ("hard", True, "unsubscribed", 1, "unchanged"),
    ("hard", True, None, 1, "not_subscriber"),
    ("hard", False, "active", 1, "left"),  # a forged tag acts on nobody
    ("soft", True, "active", 4, "counted"),
    ("soft", True, "active", 5, "bounced"),
    ("policy", True, "active", 9, "counted"),
    ("complaint", True, "active", 0, "unsubscribed"),
    ("complaint", True, "bounced", 0, "unsubscribed"),
    ("complaint", True, "unsubscribed", 0, "unchanged"),
    ("unsubscribe", True, "paused", 0, "unsubscribed"),
    ("auto_reply", True, "active", 0, "ignored"),
    ("delayed", True, "active", 5, "ignored"),  # the server still tries
    ("delayed", False, "active", 5, "ignored"),
    ("unknown", True, "active", 0, "left"),
])
def test_what_a_notice_does(kind, acts, status, streak, action):
    from digest.deliver.policy import bounce_action

    assert bounce_action(kind, acts, status, streak, 5) == action


@pytest.mark.parametrize(("kind", "action"), [
    ("hard", "unchanged"), ("soft", "unchanged"), ("complaint", "unsubscribed")])
def test_a_late_notice_about_a_copy_before_the_reader_came_back(kind, action):
    from digest.deliver.policy import bounce_action

    assert bounce_action(kind, True, "active", 5, 5, before_return=True) == action


@pytest.mark.parametrize(("kind", "action"), [
    ("hard", "left"), ("soft", "left"), ("policy", "left"), ("complaint", "unsubscribed"),
    ("delayed", "ignored")])
def test_a_notice_whose_tag_names_a_copy_sent_too_long_ago(kind, action):
    from digest.deliver.policy import bounce_action

    assert bounce_action(kind, True, "active", 5, 5, stale=True) == action


def test_a_tag_is_stale_thirty_days_after_its_copy_was_sent():
    from digest.deliver.policy import stale_tag

    now = dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)
    sent = now - dt.timedelta(days=30)
    assert not stale_tag(sent, EDITION, now)  # however old the edition (sent late)
    assert stale_tag(sent - dt.timedelta(seconds=1), EDITION, now)
    # No record of sending it: from the edition's date.
    assert not stale_tag(None, (now - dt.timedelta(days=29)).date(), now)
    assert stale_tag(None, (now - dt.timedelta(days=31)).date(), now)


def test_at_send_time_only_an_unknown_address_bounces_at_once():
    from digest.deliver.bounce_rules import reply_kind
    from digest.deliver.policy import bounce_at_send

    assert bounce_at_send(reply_kind("550 5.1.1 <a@b>: User unknown"), 1)
    assert not bounce_at_send(reply_kind("550 5.7.1 blocked"), 99)
    assert not bounce_at_send(reply_kind("554 transaction failed"), 2)
    assert bounce_at_send(reply_kind("554 transaction failed"), 3)


def test_control_characters_never_reach_the_editors_terminal():
    """What a notice says is printed by `digest bounces` and kept as a status reason:
    escape sequences in it (a retitled terminal, hidden lines) are dropped."""
    raw = (b"From: MAILER-DAEMON@mx.example.net\r\nTo: bounces@news.example.org\r\n"
           b"Subject: Undelivered\r\nMessage-ID: <esc@mx.example.net>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nbounced\r\n"
           b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
           b"Final-Recipient: rfc822; reader\x1b[8m@example.org\r\nAction: failed\r\n"
           b"Status: 5.1.1\r\n"
           b"Diagnostic-Code: smtp; 550 5.1.1 \x1b]0;owned\x07 user unknown \x1b[2J\r\n"
           b"\r\n--b--\r\n")
    found = classify_bytes(raw, KEYS)
    assert found.kind == "hard"
    for recipient in found.recipients:
        for text in (recipient.address or "", recipient.diagnostic):
            assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text), text
    assert any("user unknown" in r.diagnostic for r in found.recipients)
