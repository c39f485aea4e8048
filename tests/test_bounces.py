"""`digest bounces` end to end: a real send (file transport) with VERP return paths, then
notices in a real Maildir and mbox on disk, read, acted on and put away."""

from __future__ import annotations

import datetime as dt
import json
import mailbox
import sqlite3
from email import message_from_bytes
from pathlib import Path

import pytest
from click.testing import CliRunner
from feeds import Item, rss
from support.project import write_config
from support.servers import FeedServer, Route

from digest.cli import cli

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
READERS = ["gone@example.org", "full@example.net", "blocked@example.com",
           "angry@example.org", "leaving@example.org", "away@example.org",
           "fine@example.org"]
SAMPLES = Path(__file__).parent / "data" / "bounces"


def run(config: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result.output


def first_json(output: str) -> dict:  # type: ignore[type-arg]
    """The JSON document an output starts with (the summary line may follow it)."""
    return json.JSONDecoder().raw_decode(output)[0]  # type: ignore[no-any-return]


def dsn(to: str, recipient: str, status: str, words: str, message_id: str,
        action: str = "failed") -> bytes:
    return f"""Return-Path: <>
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: {to}
Subject: Undelivered Mail Returned to Sender
Message-ID: <{message_id}@mx.example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

<{recipient}>: {words}

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {words}

--b--
""".replace("\n", "\r\n").encode()


def plain(to: str, subject: str, message_id: str, extra: str = "") -> bytes:
    return (f"From: someone@example.org\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{message_id}@example.org>\r\n{extra}\r\nHello.\r\n").encode()


def arf(original_return_path: str, recipient: str, message_id: str) -> bytes:
    return f"""From: fbl@isp.example
To: bounces@news.example.org
Subject: complaint
Message-ID: <{message_id}@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="f"

--f
Content-Type: text/plain

A complaint.

--f
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: isp/1
Version: 1
Original-Rcpt-To: <{recipient}>

--f
Content-Type: message/rfc822

Return-Path: <{original_return_path}>
From: Aze Daily Digest <digest@news.example.org>
To: {recipient}
Subject: the digest

body
--f--
""".replace("\n", "\r\n").encode()


@pytest.fixture
def project(tmp_path: Path, feed_server: FeedServer) -> Path:
    feed_server.routes["/category/news/feed/"] = Route(
        200, {"Content-Type": "application/rss+xml; charset=UTF-8"},
        rss("news", [Item(1001, "Parliament passes budget", NOW - dt.timedelta(hours=2))]))
    maildir = tmp_path / "bounces"
    mailbox.Maildir(maildir, create=True).close()
    path = write_config(
        tmp_path, [("news", "News", [feed_server.url("/category/news/feed/")])],
        transport="file", email_extra='return_path = "bounces@news.example.org"\n'
        'unsubscribe_mailto = "bounces@news.example.org"',
        extra=f'\n[bounces]\nmailbox = "maildir:{maildir}"\nsoft_limit = 2\n')
    for reader in READERS:
        run(path, "subscribers", "add", reader)
    return path


def sent(project: Path) -> dict[str, bytes]:
    """Each reader's .eml of the last send, by address."""
    found: dict[str, bytes] = {}
    for eml in sorted((project.parent / "outbox").glob("*/*.eml")):
        raw = eml.read_bytes()
        found[str(message_from_bytes(raw)["To"])] = raw
    return found


def return_path(raw: bytes) -> str:
    return str(message_from_bytes(raw)["Return-Path"]).strip("<>")


def test_each_message_has_its_own_signed_return_path(project: Path):
    run(project, "send", "--quiet")
    messages = sent(project)
    assert set(messages) == set(READERS)
    paths = {address: return_path(raw) for address, raw in messages.items()}
    assert len(set(paths.values())) == len(READERS)
    for address, path in paths.items():
        local, _, domain = path.partition("@")
        assert domain == "news.example.org" and local.startswith("bounces+")
        assert len(local) <= 64 and local == local.lower()
        assert address not in path  # the tag is opaque
    unsubscribe = str(message_from_bytes(messages["fine@example.org"])["List-Unsubscribe"])
    assert "mailto:bounces@news.example.org?subject=unsubscribe%20" in unsubscribe


def deliver_notices(project: Path, notices: list[bytes]) -> Path:
    maildir = project.parent / "bounces"
    box = mailbox.Maildir(maildir, create=False)
    for notice in notices:
        box.add(notice)
    box.close()
    return maildir


def statuses(project: Path) -> dict[str, tuple[str, str | None]]:
    with sqlite3.connect(project.parent / "state" / "digest.sqlite3") as db:
        return {r[0]: (r[1], r[2]) for r in db.execute(
            "SELECT email, status, status_reason FROM subscribers")}


def test_bounces_acts_on_each_notice_and_puts_it_away(project: Path):
    run(project, "send", "--quiet")
    paths = {address: return_path(raw) for address, raw in sent(project).items()}
    unsubscribe = str(message_from_bytes(sent(project)["leaving@example.org"])
                      ["List-Unsubscribe"]).split("subject=unsubscribe%20")[1].rstrip(">")
    local, _, domain = paths["fine@example.org"].partition("@")
    forged = f"{local[:-4]}{'bbbb' if local.endswith('aaaa') else 'aaaa'}@{domain}"
    maildir = deliver_notices(project, [
        dsn(paths["gone@example.org"], "gone@example.org", "5.1.1",
            "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown", "h1"),
        dsn(paths["full@example.net"], "full@example.net", "5.2.2",
            "552 5.2.2 Mailbox full", "s1"),
        dsn(paths["blocked@example.com"], "blocked@example.com", "5.7.1",
            "550 5.7.1 Message rejected due to sender reputation", "p1"),
        arf(paths["angry@example.org"], "angry@example.org", "c1"),
        plain("bounces@news.example.org", f"unsubscribe {unsubscribe}", "u1"),
        plain(paths["away@example.org"], "Out of office", "o1",
              "Auto-Submitted: auto-replied\r\n"),
        dsn(forged, "fine@example.org", "5.1.1", "550 5.1.1 user unknown", "f1"),
        dsn("digest@news.example.org", "stranger@example.net", "5.1.1",
            "550 5.1.1 no such user", "n1"),
        b"this is not mail at all",
    ])
    dry = json.loads(run(project, "bounces", "--dry-run", "--json"))
    assert dry["dry_run"] is True and dry["total"] == 9
    assert statuses(project)["gone@example.org"][0] == "active"  # a dry run changes nothing
    assert len(list((maildir / "new").iterdir())) == 9
    assert not (maildir / ".processed").exists()  # not even the folder is made

    report = json.loads(run(project, "bounces", "--json"))
    lines = {(m["address"], m["kind"], m["action"]) for m in report["messages"]}
    assert lines == {
        ("gone@example.org", "hard", "bounced"),
        ("full@example.net", "soft", "counted"),
        ("blocked@example.com", "policy", "counted"),
        ("angry@example.org", "complaint", "unsubscribed"),
        ("leaving@example.org", "unsubscribe", "unsubscribed"),
        ("away@example.org", "auto_reply", "ignored"),
        (None, "unknown", "left"),  # the forged tag: it names nobody
        # untagged while return_path is set: it proves nothing, so it stays unhandled
        ("stranger@example.net", "hard", "left"),
    } | {(None, "unknown", "left")}
    assert report["forged"] == 1 and report["total"] == 9
    assert report["counts"]["hard"] == 2 and report["actions"]["left"] == 3
    assert set(report) == {"mailbox", "dry_run", "messages", "counts", "actions", "forged",
                           "total", "left_earlier", "warnings"}
    assert report["left_earlier"] == 0
    assert report["warnings"] == []  # signed: nothing to warn about
    gone = next(m for m in report["messages"] if m["address"] == "gone@example.org")
    assert gone["status"] == "5.1.1" and gone["tag"] == "valid" and gone["edition"]
    assert "User unknown" in gone["diagnostic"]

    now = statuses(project)
    assert now["gone@example.org"][0] == "bounced" and "5.1.1" in (now["gone@example.org"][1]
                                                                   or "")
    assert now["full@example.net"][0] == "active"  # one soft bounce of soft_limit = 2
    assert now["blocked@example.com"][0] == "active"
    assert now["angry@example.org"] == ("unsubscribed", "complaint (feedback report)")
    assert now["leaving@example.org"] == ("unsubscribed", "unsubscribed by mail")
    assert now["away@example.org"][0] == "active"
    assert now["fine@example.org"][0] == "active"  # the forged notice did nothing

    # Handled ones moved to .processed; the unrecognised stay where they were, for a
    # person to read, and later runs count them without reading them again.
    assert len(list((maildir / "new").iterdir())) == 3
    assert len(list((maildir / ".processed" / "cur").iterdir())) == 6
    again = json.loads(run(project, "bounces", "--json"))
    assert (again["total"], again["messages"], again["left_earlier"]) == (0, [], 3)
    assert "3 left by earlier runs, not read again (`digest bounces --again`" in run(
        project, "bounces")
    # `digest send` reads the mailbox first, and says the same.
    assert "3 left by earlier runs" in run(project, "send")
    reread = json.loads(run(project, "bounces", "--again", "--json"))
    assert reread["total"] == 3 and reread["actions"]["left"] == 3
    assert len(list((maildir / "new").iterdir())) == 3
    # One taken out of the mailbox by a person is forgotten; a new one is read.
    next((maildir / "new").iterdir()).unlink()
    deliver_notices(project, [b"From: a@example.org\r\nSubject: hi\r\n"
                              b"Message-ID: <new-junk@example.org>\r\n\r\nhello\r\n"])
    later = json.loads(run(project, "bounces", "--json"))
    assert (later["total"], later["left_earlier"]) == (1, 2)
    with sqlite3.connect(project.parent / "state" / "digest.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM left_messages").fetchone() == (3,)

    status = first_json(run(project, "status", "--json"))
    # bounced: the copies that came back (gone's hard bounce, full's soft one)
    assert status["bounces"]["bounced"] == 2 and status["bounces"]["complained"] == 1
    assert status["bounces"]["blocked"] == 1
    assert status["bounces"]["policy_blocks"] == [{"domain": "example.com", "blocks": 1}]
    [edition] = status["editions"]
    assert (edition["bounced"], edition["complained"], edition["blocked"]) == (2, 1, 1)
    text = run(project, "status")
    assert "example.com" in text and "policy" in text
    listed = run(project, "subscribers", "list", "--status", "bounced")
    assert "gone@example.org" in listed and "5.1.1" in listed and "since" in listed
    failures = run(project, "editions", "show", "latest", "--failures")
    assert "gone@example.org" in failures and "User unknown" in failures
    assert "blocked@example.com" in failures and "reputation" in failures
    assert "fine@example.org" not in failures


def test_a_soft_bounce_counts_and_the_same_edition_twice_counts_once(project: Path):
    run(project, "send", "--quiet")
    first = return_path(sent(project)["full@example.net"])
    deliver_notices(project, [dsn(first, "full@example.net", "4.2.2", "452 4.2.2 full",
                                  "a1")])
    run(project, "bounces")
    assert statuses(project)["full@example.net"][0] == "active"
    # the same edition bouncing again is still one edition
    deliver_notices(project, [dsn(first, "full@example.net", "4.2.2", "452 4.2.2 full",
                                  "a2")])
    out = run(project, "bounces")
    assert "counted" in out and statuses(project)["full@example.net"][0] == "active"


def test_a_delay_warning_counts_nothing_and_is_put_away(project: Path):
    """RFC 3464 `Action: delayed`: the server still tries, and the copy may yet arrive.
    Counted as a soft bounce, a reader behind a slow server would be dropped though
    every edition reached them."""
    run(project, "send", "--quiet")
    path = return_path(sent(project)["full@example.net"])
    maildir = deliver_notices(project, [
        dsn(path, "full@example.net", "4.4.7", "451 4.4.7 delivery time expired soon",
            f"d{n}", action="delayed") for n in range(3)])
    report = json.loads(run(project, "bounces", "--json"))
    assert {(m["address"], m["kind"], m["action"], m["status"])
            for m in report["messages"]} == {
        ("full@example.net", "delayed", "ignored", "4.4.7")}
    assert report["counts"]["delayed"] == 3 and report["counts"]["soft"] == 0
    assert statuses(project)["full@example.net"] == ("active", None)
    status = first_json(run(project, "status", "--json"))["bounces"]
    assert status["bounced"] == 0
    # Kept all the same: the domains whose servers delay are shown to the editor.
    assert status["delays"] == [{"domain": "example.net", "delays": 3}]
    assert "Delayed in the last 30 days" in run(project, "status")
    assert "example.net 3" in run(project, "status")
    assert list((maildir / "new").iterdir()) == []  # handled: moved away
    assert len(list((maildir / ".processed" / "cur").iterdir())) == 3
    # The failure that may follow is what counts, once.
    deliver_notices(project, [dsn(path, "full@example.net", "4.4.7",
                                  "451 4.4.7 delivery time expired", "f1")])
    [line] = json.loads(run(project, "bounces", "--json"))["messages"]
    assert (line["kind"], line["action"]) == ("soft", "counted")
    assert first_json(run(project, "status", "--json"))["bounces"]["bounced"] == 1


def test_a_bounce_about_a_copy_sent_months_ago_acts_on_nobody(project: Path):
    """Mail servers give up within days: a bounce naming a copy sent 40 days ago is a
    VERP tag copied from a kept newsletter, replayed. It is left for a person to read."""
    run(project, "send", "--quiet")
    state = project.parent / "state" / "digest.sqlite3"
    gone_path = return_path(sent(project)["gone@example.org"])
    with sqlite3.connect(state) as db:  # the copies went out 40 days ago
        db.execute("UPDATE deliveries SET updated_at = ?", (
            (dt.datetime.now(dt.UTC) - dt.timedelta(days=40)).isoformat(),))
    db.close()
    deliver_notices(project, [dsn(gone_path, "gone@example.org", "5.1.1",
                                  "550 5.1.1 user unknown", "late1")])
    [line] = json.loads(run(project, "bounces", "--json"))["messages"]
    assert (line["address"], line["kind"], line["action"], line["tag"]) == (
        "gone@example.org", "hard", "left", "stale")
    assert statuses(project)["gone@example.org"][0] == "active"
    assert "no mail server reports that late" in run(project, "bounces", "--again")
    # Sent 29 days ago: a late bounce, but a server's.
    with sqlite3.connect(state) as db:
        db.execute("UPDATE deliveries SET updated_at = ?", (
            (dt.datetime.now(dt.UTC) - dt.timedelta(days=29)).isoformat(),))
    db.close()
    [line] = json.loads(run(project, "bounces", "--again", "--json"))["messages"]
    assert (line["action"], line["tag"]) == ("bounced", "valid")


def test_an_mbox_is_read_and_not_changed_and_remembered(project: Path, tmp_path: Path):
    run(project, "send", "--quiet")
    paths = {address: return_path(raw) for address, raw in sent(project).items()}
    mbox_path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(mbox_path, create=True)
    box.add(dsn(paths["gone@example.org"], "gone@example.org", "5.1.1", "550 5.1.1 gone",
                "m1"))
    box.add(b"From: x@example.org\r\nTo: y@example.org\r\nSubject: hi\r\n\r\nno id\r\n")
    box.close()
    before = mbox_path.read_bytes()
    text = project.read_text().replace(f'mailbox = "maildir:{tmp_path / "bounces"}"',
                                       f'mailbox = "mbox:{mbox_path}"')
    project.write_text(text)
    first = json.loads(run(project, "bounces", "--json"))
    assert [(m["address"], m["action"]) for m in first["messages"]] == [
        ("gone@example.org", "bounced"), (None, "left")]
    assert mbox_path.read_bytes() == before
    second = json.loads(run(project, "bounces", "--json"))
    assert second["messages"] == [] and second["left_earlier"] == 1


def test_a_missing_mailbox_is_an_error_that_says_where(project: Path, tmp_path: Path):
    text = project.read_text().replace(f'"maildir:{tmp_path / "bounces"}"',
                                       f'"maildir:{tmp_path / "nowhere"}"')
    project.write_text(text)
    run(project, "send", "--quiet")  # the state file exists
    out = run(project, "bounces", code=1)
    assert "nowhere" in out and "Maildir" in out


def test_send_reads_bounces_first_and_goes_on_when_it_cannot(project: Path, tmp_path: Path):
    run(project, "send", "--quiet")
    paths = {address: return_path(raw) for address, raw in sent(project).items()}
    deliver_notices(project, [dsn(paths["gone@example.org"], "gone@example.org", "5.1.1",
                                  "550 5.1.1 gone", "x1")])
    out = first_json(run(project, "send", "--json"))
    assert out["bounces"]["actions"]["bounced"] == 1
    assert statuses(project)["gone@example.org"][0] == "bounced"
    project.write_text(project.read_text().replace(
        f'"maildir:{tmp_path / "bounces"}"', f'"maildir:{tmp_path / "gone"}"'))
    result = CliRunner().invoke(cli, ["--config", str(project), "send"])
    assert result.exit_code == 0, result.output
    assert "bounces not read" in result.output and "gone" in result.output


def test_a_five_megabyte_notice_does_not_stop_the_run(project: Path):
    run(project, "send", "--quiet")
    paths = {address: return_path(raw) for address, raw in sent(project).items()}
    big = dsn(paths["gone@example.org"], "gone@example.org", "5.1.1", "550 5.1.1 gone",
              "big").replace(b"--b--", b"--b\r\nContent-Type: application/octet-stream\r\n"
                             b"\r\n" + b"x" * (5 * 1024 * 1024) + b"\r\n--b--")
    deliver_notices(project, [big, (SAMPLES / "koi8r_mailbox_full.eml").read_bytes(),
                              (SAMPLES / "truncated_report.eml").read_bytes()])
    report = json.loads(run(project, "bounces", "--json"))
    assert report["total"] == 3
    assert ("gone@example.org", "bounced") in {(m["address"], m["action"])
                                               for m in report["messages"]}
    assert {s for s, _ in statuses(project).values()} <= {"active", "bounced"}


def test_soft_bounces_in_editions_in_a_row_bounce_and_a_clean_edition_breaks_the_row(
        tmp_path: Path):
    from digest.app.bounces import process_bounces
    from digest.config import load_config
    from digest.deliver.tokens import make_return_tag
    from digest.models import Article, Edition, Section
    from digest.store import Store

    maildir = tmp_path / "box"
    mailbox.Maildir(maildir, create=True).close()
    path = write_config(tmp_path, [("news", "News", ["https://news.example.org/feed/"])],
                        transport="file", email_extra='return_path = "b@news.example.org"',
                        extra=f'\n[bounces]\nmailbox = "{maildir}"\nsoft_limit = 2\n')
    config = load_config(path)
    dates = [dt.date(2026, 11, day) for day in (1, 2, 3, 4, 5)]
    editions = []
    with Store(config.state) as store:
        secret = store.secret()
        one, _ = store.upsert_subscriber("one@example.org", "", [])
        two, _ = store.upsert_subscriber("two@example.org", "", [])
        for n, date in enumerate(dates):
            store.add_articles([Article(
                key=f"k{n}", link=f"https://news.example.org/{n}/", title=f"Story {n}",
                summary_html="<p>x</p>", excerpt="x", author=None, published=NOW,
                image=None, reading_minutes=1, feed_url="https://news.example.org/feed/")],
                "news", NOW)
            [stored] = [a for a in store.candidate_articles(NOW - dt.timedelta(days=1), NOW,
                                                            date.isoformat())
                        if a.key == f"k{n}"]
            edition = store.save_edition(Edition(date, (Section("news", "News",
                                                                (stored,)),), NOW))
            assert edition.id is not None
            editions.append(edition.id)
            for subscriber in (one, two):
                if n < 4:  # the fifth goes out later
                    store.record_delivery(edition.id, subscriber.id, "sent")

        def soft(subscriber_id: int, date: dt.date, n: int) -> None:
            verp = f"b+{make_return_tag(secret, date, subscriber_id)}@news.example.org"
            deliver_to(maildir, dsn(verp, "x@example.org", "4.2.2", "452 4.2.2 full",
                                    f"s{subscriber_id}-{n}"))
            process_bounces(config, store)

        soft(one.id, dates[0], 1)  # editions 1 and 3 bounce, 2 did not: no row of 2
        soft(one.id, dates[2], 2)
        assert store.subscriber("one@example.org").status == "active"  # type: ignore[union-attr]
        soft(one.id, dates[3], 3)  # 3 and 4 in a row
        found = store.subscriber("one@example.org")
        assert found is not None and found.status == "bounced"
        assert found.status_reason and "soft" in found.status_reason
        soft(two.id, dates[3], 1)
        soft(two.id, dates[3], 2)  # the same edition twice is one edition
        assert store.subscriber("two@example.org").status == "active"  # type: ignore[union-attr]

        # Back on the list (`subscribers add`, or a confirmed sign-up), an hour later: the
        # bounces before are history, so one soft bounce is one of soft_limit = 2 again.
        store.record_delivery(editions[3], one.id, "failed")  # and refused at send time
        assert store.hard_failures_in_a_row(one.id) == 1
        later = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
        store.clock = lambda: later
        store.upsert_subscriber("one@example.org", "", [])
        back = store.subscriber("one@example.org")
        assert back is not None and back.status == "active"
        assert back.status_reason is None and back.status_changed_at == later
        assert store.hard_failures_in_a_row(one.id) == 0
        store.record_delivery(editions[4], one.id, "sent")
        soft(one.id, dates[4], 4)
        assert store.subscriber("one@example.org").status == "active"  # type: ignore[union-attr]
        # A late hard bounce of a copy sent before it came back is kept, and changes nothing.
        verp = f"b+{make_return_tag(secret, dates[2], one.id)}@news.example.org"
        deliver_to(maildir, dsn(verp, "x@example.org", "5.1.1", "550 5.1.1 no such user",
                                "late"))
        process_bounces(config, store)
        assert store.subscriber("one@example.org").status == "active"  # type: ignore[union-attr]


def deliver_to(maildir: Path, raw: bytes) -> None:
    box = mailbox.Maildir(maildir, create=False)
    box.add(raw)
    box.close()


def test_with_a_return_path_a_notice_without_a_valid_tag_acts_on_nobody(project: Path):
    """Anyone can mail the plain bounce address: a DSN or a complaint naming a subscriber
    there, with no VERP tag (or a forged one inside) and no unsubscribe token, proves
    nothing and changes no one (every real notice of a newsletter comes back tagged)."""
    run(project, "send", "--quiet")
    paths = {address: return_path(raw) for address, raw in sent(project).items()}
    local, _, domain = paths["angry@example.org"].partition("@")
    forged_inner = f"{local[:-4]}{'bbbb' if local.endswith('aaaa') else 'aaaa'}@{domain}"
    deliver_notices(project, [
        dsn("bounces@news.example.org", "fine@example.org", "5.1.1",
            "550 5.1.1 <fine@example.org>: User unknown", "x1"),
        dsn("bounces@news.example.org", "full@example.net", "4.2.2", "452 4.2.2 full",
            "x2"),
        arf("bounces@news.example.org", "leaving@example.org", "x3"),
        arf(forged_inner, "angry@example.org", "x4"),
    ])
    report = json.loads(run(project, "bounces", "--json"))
    assert {m["action"] for m in report["messages"]} == {"left"}
    now = statuses(project)
    assert now["fine@example.org"][0] == "active"
    assert now["leaving@example.org"][0] == "active"
    assert now["angry@example.org"][0] == "active"
    with sqlite3.connect(project.parent / "state" / "digest.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM bounce_events").fetchone()[0] == 0


def test_without_a_return_path_bounces_warns_that_notices_can_be_forged(project: Path):
    # Notices are then matched by the address they name: say so on every run.
    text = project.read_text(encoding="utf-8")
    unsigned = project.with_name("unsigned.toml")
    unsigned.write_text(text.replace('return_path = "bounces@news.example.org"\n', ""),
                        encoding="utf-8")
    assert "return_path =" not in unsigned.read_text(encoding="utf-8")
    said = CliRunner().invoke(cli, ["--config", str(unsigned), "bounces"])
    assert said.exit_code == 0, said.output
    assert "[email] return_path is not set" in said.stderr
    as_json = CliRunner().invoke(cli, ["--config", str(unsigned), "bounces", "--json"])
    assert any("return_path" in w for w in first_json(as_json.stdout)["warnings"])
    signed = CliRunner().invoke(cli, ["--config", str(project), "bounces", "--json"])
    assert "return_path is not set" not in signed.stderr
    assert first_json(signed.stdout)["warnings"] == []


def test_a_message_that_cannot_be_read_or_moved_is_told_and_the_rest_go_on(
        project: Path, tmp_path: Path):
    run(project, "send", "--quiet")
    paths = {address: return_path(raw) for address, raw in sent(project).items()}
    deliver_notices(project, [
        dsn(paths["gone@example.org"], "gone@example.org", "5.1.1", "550 5.1.1 gone",
            "first-of-two"),
        dsn(paths["full@example.net"], "full@example.net", "5.1.1", "550 5.1.1 gone",
            "stuck-one")])
    box = tmp_path / "bounces"
    # One entry cannot be read (a folder where a message should be: root reads any file)
    (box / "new" / "0000.unreadable").mkdir()
    # and one handled message cannot be moved (its place in .processed is taken).
    [stuck] = [p for p in (box / "new").iterdir() if p.is_file()
               and b"stuck-one" in p.read_bytes()]
    blocker = box / ".processed" / "cur" / (stuck.name + ":2,S")
    blocker.mkdir(parents=True)
    (blocker / "keep").write_text("x")
    result = CliRunner().invoke(cli, ["--config", str(project), "bounces"])
    assert result.exit_code == 0, result.output
    assert "cannot read" in result.stderr and "0000.unreadable" in result.stderr
    assert "cannot move" in result.stderr and stuck.name in result.stderr
    assert statuses(project)["gone@example.org"][0] == "bounced"  # the rest went on
    assert statuses(project)["full@example.net"][0] == "bounced"
    assert stuck.exists()  # left where it was
    rerun = CliRunner().invoke(cli, ["--config", str(project), "bounces", "--json"])
    assert rerun.exit_code == 0, rerun.output
    again = first_json(rerun.stdout)
    assert again["actions"]["bounced"] == 0  # read again, it changes nothing
    assert any("cannot move" in w for w in again["warnings"])
