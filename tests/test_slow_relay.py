"""A relay slow to answer the end of a message, a send stopped by SIGTERM, an unsubscribe
made while the send runs: nobody is mailed twice, nothing in flight is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from mailservers import running
from newsroom import SAMPLE_DATE, add_subscribers, numbered, run, sample_config


class SlowRelay:
    """Takes the whole message, then waits `delay` seconds before answering its final dot.

    What it took is counted at once: a client that gives up waiting may still have had
    its message delivered, which is the case the digest must not double.
    """

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received: list[str] = []
        self.lock = threading.Lock()
        self.on_message: Callable[[int], None] | None = None  # hears the count so far

    async def handle_DATA(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        with self.lock:
            self.received.extend(envelope.rcpt_tos)
        if self.on_message is not None:
            self.on_message(len(self.received))
        await asyncio.sleep(self.delay)  # only this session waits
        return "250 2.0.0 queued"


def deliveries(config: Path) -> Counter[str]:
    state = config.parent / "state" / "digest.sqlite3"
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT s.email, d.status FROM deliveries d "
                          "JOIN subscribers s ON s.id = d.subscriber_id").fetchall()
    return Counter(status for _, status in rows)


def test_a_relay_answering_after_the_command_timeout_gets_one_copy_per_recipient(
        tmp_path: Path):
    relay = SlowRelay(delay=2.5)  # longer than timeout = 1, well within data_timeout
    with running(relay) as port:
        config = sample_config(tmp_path, port, smtp_extra="timeout = 1\nretries = 1")
        add_subscribers(config, numbered(3))
        run(config, "fetch")
        first = run(config, "send", "--no-fetch", "--date", SAMPLE_DATE)
        second = run(config, "send", "--no-fetch", "--date", SAMPLE_DATE)
    assert "sent 3, deferred 0, failed 0" in first
    assert "sent 3" not in second
    assert Counter(relay.received) == {address: 1 for address, _, _ in numbered(3)}


def test_a_reply_that_never_comes_is_unknown_and_sent_again_only_when_asked(tmp_path: Path):
    relay = SlowRelay(delay=4)  # longer than data_timeout = 1
    with running(relay) as port:
        config = sample_config(tmp_path, port,
                               smtp_extra="timeout = 1\ndata_timeout = 1\nretries = 2")
        add_subscribers(config, numbered(3))
        run(config, "fetch")
        first = run(config, "send", "--no-fetch", "--date", SAMPLE_DATE, code=1)
        assert "unknown 3" in first
        assert "never confirmed 3 message(s)" in first and "--retry-unknown" in first
        assert "run `digest send` again" not in first  # a plain rerun sends nothing
        second = run(config, "send", "--no-fetch", "--date", SAMPLE_DATE)
        assert Counter(relay.received) == {address: 1 for address, _, _ in numbered(3)}
        assert deliveries(config) == {"unknown": 3}

        status = run(config, "status")
        assert "UNKNOWN" in status and "--retry-unknown" in status
        for address, _, _ in numbered(3):
            assert f"{SAMPLE_DATE}  {address}" in status

        relay.delay = 0  # the relay is fixed; the editor checked its log and asks again
        again = run(config, "send", "--no-fetch", "--date", SAMPLE_DATE, "--retry-unknown")
        assert "sent 3, deferred 0, failed 0" in again
        assert deliveries(config) == {"sent": 3}
        assert "Unknown deliveries" not in run(config, "status")
    assert "sent 0" in second or "nothing to send" in second
    assert Counter(relay.received) == {address: 2 for address, _, _ in numbered(3)}


def test_an_unsubscribe_made_during_the_send_is_honoured(tmp_path: Path):
    relay = SlowRelay(delay=0.2)
    with running(relay) as port:
        config = sample_config(tmp_path, port, smtp_extra="connections = 1")
        people = numbered(6)
        add_subscribers(config, people)
        run(config, "fetch")
        leaving = people[4][0]
        state = config.parent / "state" / "digest.sqlite3"

        def unsubscribe(count: int) -> None:  # the confirmed one-click, mid-send
            if count == 1:
                with sqlite3.connect(state) as db:
                    db.execute("UPDATE subscribers SET status = 'unsubscribed' "
                               "WHERE email = ?", (leaving,))

        relay.on_message = unsubscribe
        out = run(config, "send", "--no-fetch", "--date", SAMPLE_DATE)
    assert leaving not in relay.received
    assert sorted(relay.received) == sorted(a for a, _, _ in people if a != leaving)
    assert "1 left the list during the send" in out


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_finishes_and_records_the_messages_in_flight(
        tmp_path: Path, signum: signal.Signals, code: int):
    relay = SlowRelay(delay=1.0)
    with running(relay) as port:
        config = sample_config(tmp_path, port, smtp_extra="connections = 2")
        people = numbered(20)
        add_subscribers(config, people)
        run(config, "fetch")
        process = subprocess.Popen(
            [sys.executable, "-m", "digest", "--config", str(config), "send", "--no-fetch",
             "--date", SAMPLE_DATE], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(relay.received) < 3 and process.poll() is None:
            assert time.monotonic() < deadline, "the send never started"
            time.sleep(0.01)
        os.kill(process.pid, signum)  # SIGTERM: what `systemctl stop` sends; SIGINT: Ctrl-C
        _, err = process.communicate(timeout=60)
        stopped_at = len(relay.received)
        assert process.returncode == code, err.decode()
        assert f"stopped by {signum.name}" in err.decode()
        assert "probably a bug" not in err.decode()
        # Every message the relay took (those in flight included) is recorded as sent.
        assert deliveries(config) == {"sent": stopped_at}
        assert stopped_at < len(people)
        run(config, "send", "--no-fetch", "--date", SAMPLE_DATE)
    assert Counter(relay.received) == {address: 1 for address, _, _ in people}
