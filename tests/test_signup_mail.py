"""The sign-up form's mail leaves the request: POST /subscribe answers once it has
stored its decision and queued the message in the state file; `digest serve`'s mailer
thread sends it, and what a stopped server left goes with the daily `digest send`."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from mailservers import Sink, running
from newsroom import SAMPLE_DATE, run, sample_config
from support.servers import free_port
from test_subscribe import ACTIVE, confirm_link, mails, post, row, served, signup_site
from web import settle


@dataclass
class HeldSink(Sink):
    """A relay that holds every DATA until the test releases it."""

    reached: Event = field(default_factory=Event)
    release: Event = field(default_factory=Event)

    async def handle_DATA(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        self.reached.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
        return await super().handle_DATA(server, session, envelope)


def queued(config: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(config.parent / "state" / "digest.sqlite3")) as db:
        return db.execute("""SELECT s.email, m.kind FROM signup_mail m
                             JOIN subscribers s ON s.id = m.subscriber_id
                             ORDER BY m.id""").fetchall()


def test_the_answer_comes_before_the_mail_server_has_the_message(tmp_path: Path):
    sink = HeldSink()
    with signup_site(tmp_path, sink, name="") as (config, _, base):
        try:
            answer = post(base, "/subscribe", {"email": "new@example.org"})
            assert answer.status == 200 and "Check your inbox" in answer.body
            # answered: the decision is stored and the message queued ...
            assert row(config, "new@example.org")["status"] == "pending"  # type: ignore[index]
            assert queued(config) == [("new@example.org", "confirm")]
            # ... and the mailer is sending it, held by the server
            assert sink.reached.wait(10)
            assert sink.received == []
            again = post(base, "/subscribe", {"email": ACTIVE})
            assert (again.status, again.body) == (answer.status, answer.body)
        finally:
            sink.release.set()
        settle()
        [message] = mails(sink, "new@example.org")
        confirm_link(message)
        [reminder] = mails(sink, ACTIVE)
        assert "manage?token=" in str(reminder.get_body(preferencelist=("plain",)))
    assert queued(config) == []


def test_what_a_stopped_server_could_not_send_goes_with_the_daily_send(tmp_path: Path):
    port = free_port()  # no mail server there yet: the mailer can send nothing
    config = sample_config(tmp_path, port)
    run(config, "subscribers", "add", ACTIVE)
    with served(config) as base:
        assert post(base, "/subscribe", {"email": "later@example.org"}).status == 200
        post(base, "/subscribe", {"email": "robot@example.org", "website": "http://x.example"})
        settle()
    assert queued(config) == [("later@example.org", "confirm")]  # kept, in the state file

    # `digest status` tells the editor what waits, and why; waiting an hour, it warns.
    shown = run(config, "status")
    assert "Sign-up form: 1 mail(s) waiting to be sent, the oldest since " in shown
    assert "refused without a word: 1 honeypot" in shown
    assert "not sent, the oldest asked for" not in shown
    with closing(sqlite3.connect(config.parent / "state" / "digest.sqlite3")) as db:
        db.execute("UPDATE signup_mail SET created_at = '2026-01-01T00:00:00+00:00'")
        db.commit()
    shown = run(config, "status")
    assert "1 sign-up mail(s) not sent, the oldest asked for at 2026-01-01 00:00 UTC " \
           "(last problem: " in shown
    assert "`digest send` also sends what is left" in shown

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # put off by the failed attempt: due again within minutes; make it due now
        with closing(sqlite3.connect(config.parent / "state" / "digest.sqlite3")) as db:
            db.execute("UPDATE signup_mail SET next_try = '2000-01-01T00:00:00+00:00'")
            db.commit()
        out = run(config, "send", "--date", SAMPLE_DATE)
    finally:
        controller.stop()
    assert "sign-up mail left by `digest serve`: 1 sent" in out
    [message] = [m for m in sink_messages(sink) if m["To"] == "later@example.org"]
    assert "Confirm" in str(message["Subject"])
    assert queued(config) == []


def sink_messages(sink: Sink) -> list:  # type: ignore[type-arg]
    from email import policy
    from email.parser import BytesParser

    return [BytesParser(policy=policy.default).parsebytes(raw) for _, _, raw in sink.received]


def test_a_message_no_longer_owed_is_dropped_unsent(tmp_path: Path):
    sink = HeldSink()
    with running(sink) as port:
        config = sample_config(tmp_path, port)
        run(config, "subscribers", "add", ACTIVE)
        with served(config) as base:
            try:
                post(base, "/subscribe", {"email": "first@example.org"})
                assert sink.reached.wait(10)  # the mailer is held on this one
                post(base, "/subscribe", {"email": "gone@example.org"})
                run(config, "subscribers", "forget", "gone@example.org")
            finally:
                sink.release.set()
            settle()
            assert len(mails(sink, "first@example.org")) == 1
            assert mails(sink, "gone@example.org") == []
    assert queued(config) == []
