"""Edges of signing up and leaving: `forget` leaves the address in no byte of the state
file, its log or the outbox; a confirmation link confirms only the request it was made
for; a pause ends with its status; the manage and confirm links follow where `digest
serve` is mounted (beside its unsubscribe endpoint)."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

from mailservers import Sink, running
from newsroom import SAMPLE_DATE, add_subscribers, numbered, run, sample_config
from test_subscribe import ACTIVE, confirm_link, mails, post, row, served, signup_site
from web import request

from digest.store import Store

GONE, KEPT = "reader00001@example.org", "reader00000@example.org"


def state_of(config: Path) -> Path:
    return config.parent / "state" / "digest.sqlite3"


def holding(folder: Path, *needles: str) -> list[Path]:
    """Every file under `folder` whose bytes hold any of `needles` (any case)."""
    wanted = [n.lower().encode() for n in needles]
    return [p for p in sorted(folder.rglob("*")) if p.is_file()
            and any(w in p.read_bytes().lower() for w in wanted)]


def test_forget_leaves_the_address_in_no_byte_of_the_state_file_or_outbox(tmp_path: Path):
    config = sample_config(tmp_path, 2525)
    config.write_text(config.read_text(encoding="utf-8").replace(
        'transport = "smtp"', 'transport = "file"'), encoding="utf-8")
    add_subscribers(config, numbered(3))
    run(config, "send", "--date", SAMPLE_DATE)  # one .eml each in outbox/<date>/
    with served(config) as base:  # and a reminder of their links, from the form
        post(base, "/subscribe", {"email": GONE})
        mails(Sink(), GONE)  # (waits for the mailer: the file transport has it)
    state, outbox = config.parent / "state", config.parent / "outbox"
    assert holding(state, GONE, "Reader 1")  # there before
    assert len(holding(outbox, GONE)) == 2 and holding(outbox, KEPT)

    assert "forgotten" in run(config, "subscribers", "forget", GONE)
    assert holding(state, GONE, "Reader 1") == []  # database, WAL and all
    assert not (state / "digest.sqlite3-wal").exists() or \
        (state / "digest.sqlite3-wal").stat().st_size == 0
    assert holding(outbox, GONE) == []
    assert holding(outbox, KEPT)  # the others' messages stay
    assert KEPT in run(config, "subscribers", "list")


def test_a_confirmation_link_confirms_only_the_request_it_was_made_for(tmp_path: Path):
    with signup_site(tmp_path, name="") as (config, sink, base):
        post(base, "/subscribe", {"email": "twice@example.org"})
        old = confirm_link(mails(sink, "twice@example.org")[0])
        run(config, "subscribers", "remove", "twice@example.org")
        with closing(sqlite3.connect(state_of(config))) as db:  # an hour has passed
            db.execute("UPDATE subscribers SET confirm_sent_at = '2000-01-01T00:00:00+00:00'")
            db.commit()
        post(base, "/subscribe", {"email": "twice@example.org"})  # signed up again
        _, second = mails(sink, "twice@example.org")
        new = confirm_link(second)
        assert new != old
        token = urlsplit(old).query.removeprefix("token=")
        for reply in (request(base, "GET", old), post(base, "/confirm", {"token": token})):
            assert reply.status == 400 and "not valid" in reply.body
        assert row(config, "twice@example.org")["status"] == "pending"  # type: ignore[index]
        done = post(base, "/confirm", {"token": urlsplit(new).query.removeprefix("token=")})
        assert done.status == 200
        assert row(config, "twice@example.org")["status"] == "active"  # type: ignore[index]
        assert post(base, "/confirm", {"token": token}).status == 400  # still refused


def test_no_one_else_can_change_what_a_pending_link_confirms(tmp_path: Path):
    with signup_site(tmp_path, name="") as (config, sink, base):
        post(base, "/subscribe", {"email": "owner@example.org", "name": "Owner",
                                  "category": "news"})
        [first] = mails(sink, "owner@example.org")
        link = confirm_link(first)
        # Someone else types the same address, with other choices, within the hour:
        # no new mail, and the pending request stays as its owner asked.
        post(base, "/subscribe", {"email": "owner@example.org", "name": "Mallory",
                                  "category": "economy"})
        assert len(mails(sink, "owner@example.org")) == 1
        found = row(config, "owner@example.org")
        assert found is not None
        assert (found["name"], found["categories"]) == ("Owner", "news")
        # An hour later a new request replaces it, with a new link to its owner; the
        # first link then confirms nothing (it would confirm other choices).
        with closing(sqlite3.connect(state_of(config))) as db:
            db.execute("UPDATE subscribers SET confirm_sent_at = '2000-01-01T00:00:00+00:00'")
            db.commit()
        post(base, "/subscribe", {"email": "owner@example.org", "name": "Mallory",
                                  "category": "economy"})
        _, second = mails(sink, "owner@example.org")
        old = urlsplit(link).query.removeprefix("token=")
        assert post(base, "/confirm", {"token": old}).status == 400
        assert row(config, "owner@example.org")["status"] == "pending"  # type: ignore[index]
        new = urlsplit(confirm_link(second)).query.removeprefix("token=")
        assert post(base, "/confirm", {"token": new}).status == 200
        found = row(config, "owner@example.org")
        assert found is not None
        assert (found["status"], found["categories"]) == ("active", "economy")


def pause(config: Path, email: str, days: int = 30) -> str:
    until = dt.date.today() + dt.timedelta(days=days)
    with Store(state_of(config)) as store:
        found = store.subscriber(email)
        assert found is not None
        assert store.manage_subscriber(found.id, found.categories, until) is not None
    return until.isoformat()


def test_an_editors_add_ends_a_pause_an_import_keeps_it(tmp_path: Path):
    config = sample_config(tmp_path, 2525)
    add_subscribers(config, [("p@example.org", "P", ""), ("q@example.org", "Q", "")])
    until = pause(config, "p@example.org")
    pause(config, "q@example.org")
    run(config, "subscribers", "add", "p@example.org", "--name", "P")
    found = row(config, "p@example.org")
    assert found is not None and (found["status"], found["paused_until"]) == ("active", None)

    csv = config.parent / "again.csv"
    csv.write_text("email,name\nq@example.org,Q again\n", encoding="utf-8")
    run(config, "subscribers", "import", str(csv))
    found = row(config, "q@example.org")
    assert found is not None and (found["status"], found["name"]) == ("paused", "Q again")
    assert found["paused_until"] == until  # the reader's own pause: an import keeps it


def test_a_pause_does_not_outlive_leaving_and_signing_up_again(tmp_path: Path):
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        add_subscribers(config, [(ACTIVE, "", "")])
        pause(config, ACTIVE)
        with served(config) as base:
            # a paused reader signing up again is mailed their links; the pause stays
            # (anyone may type an address into the form)
            post(base, "/subscribe", {"email": ACTIVE})
            [reminder] = mails(sink, ACTIVE)
            assert "/manage?token=" in str(reminder.get_body(preferencelist=("plain",)))
            assert row(config, ACTIVE)["status"] == "paused"  # type: ignore[index]
            run(config, "subscribers", "remove", ACTIVE)
            found = row(config, ACTIVE)
            assert found is not None and found["paused_until"] is None
            with closing(sqlite3.connect(state_of(config))) as db:
                db.execute("UPDATE subscribers SET confirm_sent_at = NULL")
                db.commit()
            post(base, "/subscribe", {"email": ACTIVE})
            _, confirmation = mails(sink, ACTIVE)
            link = confirm_link(confirmation)
            post(base, "/confirm", {"token": urlsplit(link).query.removeprefix("token=")})
    found = row(config, ACTIVE)
    assert found is not None and (found["status"], found["paused_until"]) == ("active", None)


def test_links_follow_serve_where_it_is_mounted_beside_unsubscribe(tmp_path: Path):
    sink = Sink()
    mounted = "https://mail.example.org/news/"
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        config.write_text(config.read_text(encoding="utf-8").replace(
            'unsubscribe_url = "https://news.example.org/digest/unsubscribe"',
            f'unsubscribe_url = "{mounted}unsubscribe"'), encoding="utf-8")
        add_subscribers(config, [(ACTIVE, "", "")])
        run(config, "send", "--date", SAMPLE_DATE)
        [newsletter] = mails(sink, ACTIVE)
        text = str(newsletter.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
        manage = re.findall(rf"{re.escape(mounted)}manage\?token=[\w.%-]+", text)
        assert manage, "the newsletter's manage link is beside its unsubscribe link"
        assert "https://news.example.org/digest/manage" not in text
        with served(config) as base:
            page = request(base, "GET", "/news/" + manage[0].removeprefix(mounted))
            assert page.status == 200 and ACTIVE in page.body
            form = request(base, "GET", "/news/subscribe")
            assert form.status == 200 and "<form" in form.body
            post(base, "/news/subscribe", {"email": "new@example.org"})
            [message] = mails(sink, "new@example.org")
            body = str(message.get_body(preferencelist=("plain",)))
            assert f"{mounted}confirm?token=" in body
