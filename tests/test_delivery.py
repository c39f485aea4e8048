"""Delivery end to end through `digest send`: headers as sent, outcomes, retries, bounces."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections import Counter
from dataclasses import replace
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from feeds import Item, rss
from mailservers import Sink, running
from newsroom import SAMPLE_DATE, add_subscribers, numbered, run, sample_config
from support.project import SAMPLE, write_config
from support.servers import FeedServer, Route

from digest.app import pipeline
from digest.config import load_config
from digest.deliver.message import build_template
from digest.models import Article, Edition, Section, Subscriber
from digest.render.email import render_email
from digest.render.templates import environment
from digest.store import Store

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ONCE = ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "List-Unsubscribe",
        "List-Unsubscribe-Post", "List-Id", "Feedback-ID")


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None
    return str(part.get_content())


def edition_rows(config: Path) -> list[tuple[str, str | None]]:
    db = sqlite3.connect(config.parent / "state" / "digest.sqlite3")
    return db.execute("SELECT date, completed_at FROM editions ORDER BY date").fetchall()


def test_every_message_as_sent_meets_the_inbox_rules_whatever_the_feeds_and_names_hold(
        tmp_path: Path, feed_server: FeedServer):
    hostile = [
        Item(1, "Budget passes\r\nBcc: evil@example.org", NOW - dt.timedelta(hours=1)),
        Item(2, "=?UTF-8?Q?=0A?=Bcc: x", NOW - dt.timedelta(hours=2)),
        Item(3, "Xəbərlər: Gəncə\nCc: other@example.org " + "long " * 300,
             NOW - dt.timedelta(hours=3)),
    ]
    feed_server.routes["/news/"] = Route(200, {"Content-Type": "application/rss+xml"},
                                         rss("news", hostile))
    sink = Sink()
    with running(sink) as port:
        config = write_config(
            tmp_path, [("news", "News", [feed_server.url("/news/")])], smtp_port=port,
            email_extra='list_id = "Aze Daily <daily.news.example.org>"\n'
                        'feedback_id = "daily:digest:news-example"')
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace('title = "Aze Daily Digest"',
                                       'title = "Azə Günlük\\r\\nBcc: title@example.org '
                                       '=?UTF-8?Q?=0A?=Cc: y"'),
                          encoding="utf-8")
        add_subscribers(config, [
            ("plain@example.org", "", ""),
            ("ascii@example.org", 'Evil "Name", Jr. <x@y>', ""),
            ("uni@example.org", "Günel Həsənova " * 6, ""),
            ("enc@example.org", "=?UTF-8?Q?=0A?=Bcc: x", ""),
        ])
        run(config, "subscribers", "add", "cli@example.org", "--name",
            "Eve\r\nBcc: name@example.org")
        out = run(config, "send")
    assert "sent 5, deferred 0, failed 0" in out
    assert sorted(sink.recipients()) == ["ascii@example.org", "cli@example.org",
                                         "enc@example.org", "plain@example.org",
                                         "uni@example.org"]
    for _, _, raw in sink.received:
        head, _, _rest = raw.partition(b"\r\n\r\n")
        assert head.isascii(), head  # item 6: non-ASCII only as RFC 2047 words
        assert raw.isascii()  # bodies are quoted-printable: 7-bit clean
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998  # item 7
        message = parse(raw)
        names = Counter(k.lower() for k in message)
        for name in ONCE:  # items 1, 5, 8: each exactly once
            assert names[name.lower()] == 1, (name, names)
        assert not {"bcc", "cc"} & set(names)  # item 6: no injected header
        assert len(message["From"].addresses) == 1
        assert message["From"].addresses[0].addr_spec == "digest@news.example.org"
        assert message["Message-ID"].endswith("@news.example.org>")
        assert message["Date"].endswith("+0000")
        assert message["MIME-Version"] == "1.0"
        assert message["Subject"].startswith(
            "Azə Günlük Bcc: title@example.org =?UTF-8?Q?=0A?=Cc: y — ")
        assert message["List-Id"] == "Aze Daily <daily.news.example.org>"
        assert message["Feedback-ID"] == "daily:digest:news-example"
        uris = re.findall(r"<([^>]*)>", message["List-Unsubscribe"])
        assert len(uris) == 2
        https, mailto = uris
        assert https.startswith("https://news.example.org/digest/unsubscribe?token=")
        assert mailto.startswith("mailto:digest@news.example.org?subject=unsubscribe")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        recipient = message["To"].addresses[0].addr_spec
        assert recipient.split("@")[0] not in message["List-Unsubscribe"]  # opaque token
        text_part, html_part = body(message, "plain"), body(message, "html")
        assert https in text_part and https.replace("&", "&amp;") in html_part
        assert "@@digest-" not in text_part + html_part
        assert "Budget passes Bcc: evil@example.org" in text_part  # titles stay in the body
    by_name = {parse(raw)["To"].addresses[0].addr_spec: parse(raw)["To"]
               for _, _, raw in sink.received}
    # A long non-ASCII name is split into several RFC 2047 words; the RFC's decoder joins
    # them (policy.default's display_name adds a space between words, a parser quirk).
    [uni] = sink.raw_for("uni@example.org")
    raw_to = BytesParser(policy=policy.compat32).parsebytes(uni)["To"]
    assert max(len(w) for w in re.findall(r"=\?[^ ]*\?=", raw_to)) <= 75
    assert str(make_header(decode_header(raw_to))) == (
        ("Günel Həsənova " * 6).strip() + " <uni@example.org>")
    assert by_name["ascii@example.org"].addresses[0].display_name == 'Evil "Name", Jr. <x@y>'
    assert by_name["cli@example.org"].addresses[0].display_name == "Eve Bcc: name@example.org"
    assert by_name["plain@example.org"] == "plain@example.org"
    assert by_name["enc@example.org"].addresses[0].display_name == "=?UTF-8?Q?=0A?=Bcc: x"


def test_personal_parts_are_the_same_as_a_full_render_would_give(tmp_path: Path):
    config_path = sample_config(tmp_path, 25)
    run(config_path, "fetch")
    run(config_path, "build", "--date", SAMPLE_DATE)
    config = load_config(config_path)
    with Store(config.state) as store:
        edition = store.edition(dt.date.fromisoformat(SAMPLE_DATE))
    assert edition is not None
    rendered = render_email(config, edition, environment())
    template = build_template(config, rendered, NOW)
    subscriber = Subscriber(7, "o'brien+news@example.org", "Seán O'Brien")
    message = parse(template.for_subscriber(config, subscriber, "tok.en", manage="man.age"))
    url = "https://news.example.org/digest/unsubscribe?token=tok.en"
    manage = "https://news.example.org/digest/manage?token=man.age"
    html, text = rendered.personalise(subscriber.email, url, manage)
    # The manage link sits beside unsubscribe, in both parts.
    assert f'href="{manage}"' in html and f"<{manage}>" in text
    # Same text, line for line (the parser hands back the CRLF line ends of the wire).
    assert body(message, "html").splitlines() == html.splitlines()
    assert body(message, "plain").splitlines() == text.splitlines()


def test_a_transient_refusal_is_retried_within_the_run(tmp_path: Path):
    sink = Sink(rcpt={"reader00001@example.org": ["451 4.7.1 greylisted", "250"],
                      "reader00002@example.org": ["421 4.7.0 busy", "452 full", "250"]})
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        add_subscribers(config, numbered(5))
        out = run(config, "send", "--date", SAMPLE_DATE)
    assert "sent 5, deferred 0, failed 0" in out
    assert sorted(sink.recipients()) == [a for a, _, _ in numbered(5)]
    assert edition_rows(config)[0][1] is not None  # finished


def test_what_is_left_keeps_the_edition_open_and_the_next_run_delivers_only_that(
        tmp_path: Path):
    sink = Sink(rcpt={"reader00001@example.org": ["451 4.3.0 try later"],
                      "reader00003@example.org": ["550 5.1.1 unknown user"]},
                data={"reader00004@example.org": ["552 5.3.4 too big"]})
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        add_subscribers(config, numbered(6))
        out = run(config, "send", "--date", SAMPLE_DATE, code=1)
        assert "sent 3, deferred 1, failed 2" in out
        assert "reader00003@example.org: refused (550 5.1.1 unknown user)" in out
        assert "reader00004@example.org: refused (552 5.3.4 too big)" in out
        assert "reader00001@example.org: deferred (451 4.3.0 try later)" in out
        assert "some mail was not delivered" in out
        assert edition_rows(config) == [(SAMPLE_DATE, None)]  # never "finished" with one left
        first = list(sink.recipients())

        sink.rcpt = {}
        sink.data = {}
        out = run(config, "send", "--date", SAMPLE_DATE)
        assert "sent 1, deferred 0, failed 0" in out
    assert sink.recipients()[len(first):] == ["reader00001@example.org"]
    assert edition_rows(config)[0][1] is not None
    db = sqlite3.connect(tmp_path / "state" / "digest.sqlite3")
    statuses = dict(db.execute("SELECT s.email, d.status || ' ' || coalesce(d.reply, '') "
                               "FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id"))
    assert statuses["reader00003@example.org"] == "failed 550 5.1.1 unknown user"
    assert statuses["reader00001@example.org"] == "sent "


def test_subscribers_with_nothing_in_their_categories_do_not_hold_the_edition_open(
        tmp_path: Path):
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        add_subscribers(config, [("all@example.org", "", ""),
                                 ("energy@example.org", "", "energy")])
        # The energy feed gives nothing for the edition: that reader gets no mail.
        empty = tmp_path / "energy.xml"
        empty.write_bytes(rss("energy", []))
        text = config.read_text()
        config.write_text(text.replace(str(SAMPLE / "feeds" / "energy.xml"), str(empty)))
        out = run(config, "send", "--date", SAMPLE_DATE)
    assert sink.recipients() == ["all@example.org"]
    assert "1 subscriber(s) had nothing in their categories" in out
    assert edition_rows(config)[0][1] is not None


def editions_of(store: Store, dates: list[str]) -> list[Edition]:
    """One stored edition per date, each with an article of its own."""
    made = []
    for n, date in enumerate(dates):
        article = Article(key=f"story-{n}", link=f"https://news.example.org/{n}/",
                          title=f"Story {n}", summary_html="<p>Text</p>", excerpt="Text",
                          author=None, published=NOW, image=None, reading_minutes=1,
                          feed_url="https://news.example.org/feed/")
        store.add_articles([article], "news", NOW)
        [stored] = [a for a in store.candidate_articles(NOW - dt.timedelta(days=1), NOW, date)
                    if a.key == article.key]
        made.append(store.save_edition(Edition(dt.date.fromisoformat(date),
                                               (Section("news", "News", (stored,)),), NOW)))
    return made


def test_repeated_permanent_failures_mark_the_address_bounced(tmp_path: Path):
    # A refusal that names no cause: 3 editions in a row (a 5.1.1 bounces at once, below).
    sink = Sink(rcpt={"gone@example.org": ["554 transaction failed"]})
    with running(sink) as port:
        config_path = sample_config(tmp_path, port)
        add_subscribers(config_path, [("gone@example.org", "", ""),
                                      ("here@example.org", "", "")])
        config = load_config(config_path)
        with Store(config.state) as store:
            first, second, third, fourth = editions_of(
                store, ["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"])
            for edition in (first, second):
                report = pipeline.deliver(config, store, edition)
                assert (report.sent, report.failed, report.bounced) == (1, 1, [])
            assert store.subscriber("gone@example.org").status == "active"  # type: ignore[union-attr]
            report = pipeline.deliver(config, store, third)
            assert report.bounced == ["gone@example.org"]
            assert store.subscriber("gone@example.org").status == "bounced"  # type: ignore[union-attr]
            report = pipeline.deliver(config, store, fourth)
            assert (report.sent, report.failed) == (1, 0)
    assert Counter(sink.recipients()) == {"here@example.org": 4}


def test_an_unknown_user_bounces_at_once_and_a_policy_block_never(tmp_path: Path):
    sink = Sink(rcpt={"gone@example.org": ["550 5.1.1 <gone@example.org>: Recipient "
                                           "address rejected: User unknown"],
                      "blocked@example.net": ["550 5.7.1 Service unavailable; client host "
                                              "[192.0.2.1] blocked using Spamhaus"]})
    with running(sink) as port:
        config_path = sample_config(tmp_path, port)
        add_subscribers(config_path, [("gone@example.org", "", ""),
                                      ("blocked@example.net", "", ""),
                                      ("here@example.org", "", "")])
        config = load_config(config_path)
        with Store(config.state) as store:
            editions = editions_of(store, ["2026-12-01", "2026-12-02", "2026-12-03",
                                           "2026-12-04"])
            report = pipeline.deliver(config, store, editions[0])
            assert (report.sent, report.failed, report.bounced) == (1, 2, ["gone@example.org"])
            gone = store.subscriber("gone@example.org")
            assert gone is not None and gone.status == "bounced"
            assert gone.status_reason is not None and "5.1.1" in gone.status_reason
            assert gone.status_changed_at is not None
            for edition in editions[1:]:
                report = pipeline.deliver(config, store, edition)
                assert report.bounced == []
            blocked = store.subscriber("blocked@example.net")
            assert blocked is not None and blocked.status == "active"
            assert store.policy_blocks() == [("example.net", 4)]
            assert store.bounce_tally(editions[0].id).bounced == 1
            assert store.bounce_tally().blocked == 1
    assert Counter(sink.recipients())["gone@example.org"] == 0


def test_bodies_never_start_a_line_with_a_dot_and_stay_within_76_columns():
    import binascii
    import random

    from digest.deliver.message import EncodedBody

    rng = random.Random(7)
    alphabet = "..ab =\té—x"
    for _ in range(300):
        lines = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 240)))
                 for _ in range(rng.randint(1, 6))]
        text = "\n".join(lines)
        out: list[bytes] = []
        EncodedBody.of(text).fill({}, out)
        encoded = b"".join(out)
        assert all(len(line) <= 76 and not line.startswith(b".")
                   for line in encoded.split(b"\r\n")), encoded
        decoded = binascii.a2b_qp(encoded.replace(b"\r\n", b"\n")).decode("utf-8")
        # Trailing spaces are encoded, so they survive too.
        assert decoded == text


def test_deferred_recipients_are_retried_with_a_doubling_wait(tmp_path: Path):
    from digest.deliver.mailing import deliver_edition

    sink = Sink(rcpt={"reader00001@example.org": ["451 4.7.1 greylisted"]})
    waits: list[float] = []
    with running(sink) as port:
        config_path = sample_config(tmp_path, port, smtp_extra="retries = 3")
        text = config_path.read_text()
        config_path.write_text(text.replace("retry_delay = 0.05", "retry_delay = 10"))
        add_subscribers(config_path, numbered(3))
        run(config_path, "fetch")
        run(config_path, "build", "--date", SAMPLE_DATE)
        config = load_config(config_path)
        with Store(config.state) as store:
            edition = store.edition(dt.date.fromisoformat(SAMPLE_DATE))
            assert edition is not None
            report = deliver_edition(config, store, edition, now=dt.datetime.now(dt.UTC),
                                     sleep=waits.append)
    assert waits == [10, 20, 40]
    assert (report.sent, report.deferred, report.failed, report.passes) == (2, 1, 0, 4)
    assert report.problems == ["reader00001@example.org: deferred (451 4.7.1 greylisted)"]
    db = sqlite3.connect(tmp_path / "state" / "digest.sqlite3")
    attempts = db.execute("SELECT d.attempts FROM deliveries d JOIN subscribers s "
                          "ON s.id = d.subscriber_id WHERE s.email = ?",
                          ("reader00001@example.org",)).fetchone()[0]
    assert attempts == 4
    assert sorted(sink.recipients()) == ["reader00000@example.org", "reader00002@example.org"]


@pytest.mark.parametrize(("extra", "tail", "problem"), [
    ("connections = 0", "", "[smtp] connections: must be between 1 and 64"),
    ("rate = -1", "", "[smtp] rate: must be at least 0"),
    ("ca_file = \"missing.pem\"", "", "[smtp] ca_file: file"),
    ("", "[dkim]\ndomain = \"news.example.org\"\nprivate_key = \"k.pem\"",
     "[dkim] selector: is required"),
    ("", "[dkim]\ndomain = \"news.example.org\"\nselector = \"a\"\nprivate_key = \"k.pem\"\n"
     "selektor = \"b\"", "did you mean 'selector'?"),
])
def test_delivery_settings_are_checked(tmp_path: Path, extra: str, tail: str, problem: str):
    config = sample_config(tmp_path, 25, smtp_extra=extra, tail=tail)
    (tmp_path / "k.pem").write_text("-----BEGIN RSA PRIVATE KEY-----\n")
    out = run(config, "status", code=2)
    assert problem in out, out


def test_connections_the_relay_refuses_are_reported_and_the_others_carry_the_list(
        tmp_path: Path):
    sink = Sink(max_sessions=2)
    with running(sink) as port:
        config = sample_config(tmp_path, port, smtp_extra="connections = 4")
        add_subscribers(config, numbered(30))
        out = run(config, "send", "--date", SAMPLE_DATE)
    assert "sent 30, deferred 0, failed 0" in out
    assert "2 of 4 connection(s) could not be used" in out
    assert "421 4.7.0 too many connections" in out
    assert sorted(sink.recipients()) == [a for a, _, _ in numbered(30)]


def test_a_long_list_of_refusals_is_cut_to_a_count():
    from digest.deliver.policy import PROBLEMS_SHOWN, retry_delays, shown_problems

    lines = [f"r{n}@example.org: refused (550 no)" for n in range(PROBLEMS_SHOWN)]
    assert shown_problems(lines, PROBLEMS_SHOWN + 5) == [*lines, "... and 5 more"]
    assert shown_problems(lines[:3], 3) == lines[:3]
    assert retry_delays(3, 30) == [30, 60, 120]
    assert retry_delays(0, 30) == []


class SenderRefused(Sink):
    """A server that refuses the envelope sender (`reply`, {} the address)."""

    def __init__(self, reply: str) -> None:
        super().__init__()
        self.reply = reply

    async def handle_MAIL(self, server: object, session: object, envelope: object,
                          address: str, mail_options: list[str]) -> str:
        return self.reply.format(address)


@pytest.mark.parametrize("reply", [
    # its domain does not resolve (a return path with a typo, a DNS outage): X.1.8 is
    # about the sender's address (RFC 3463), not the recipient's
    "553 5.1.8 <{}>: Sender address rejected: Domain not found",
    # Postfix's reject_unlisted_sender: a 5.1.0 at MAIL FROM, about the sender too
    "550 5.1.0 <{}>: Sender address rejected: User unknown in local recipient table",
])
def test_a_refused_sender_address_stops_the_send_and_keeps_everyone_owed(
        tmp_path: Path, reply: str):
    # A refusal at MAIL FROM refuses the whole list alike; nobody's address is wrong.
    # The send stops, says so, records nothing, and a later send (the sender fixed)
    # still owes everyone the edition.
    with running(SenderRefused(reply)) as port:
        config_path = sample_config(tmp_path, port)
        add_subscribers(config_path, [("one@example.org", "", ""),
                                      ("two@example.net", "", "")])
        config = load_config(config_path)
        with Store(config.state) as store:
            [edition] = editions_of(store, ["2026-12-01"])
            report = pipeline.deliver(config, store, edition)
            assert (report.sent, report.failed, report.bounced) == (0, 0, [])
            assert report.stopped is not None
            assert "refused the envelope sender" in report.stopped
            assert "[email] from and return_path" in report.stopped
            assert reply.split()[1] in report.stopped  # the server's own words
            for address in ("one@example.org", "two@example.net"):
                found = store.subscriber(address)
                assert found is not None and found.status == "active"
            assert store.db.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 0
            assert store.db.execute("SELECT count(*) FROM bounce_events").fetchone()[0] == 0
    sink = Sink()  # the sender fixed (here: a server that takes it): both are sent
    with running(sink) as port:
        config = load_config(config_path)
        config = replace(config, smtp=replace(config.smtp, port=port))
        with Store(config.state) as store:
            [edition] = [e for e in store.editions() if e.date.isoformat() == "2026-12-01"]
            again = pipeline.deliver(config, store, edition)
            assert (again.sent, again.failed) == (2, 0)
