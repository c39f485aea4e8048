"""Real `digest send` processes: killed with SIGKILL mid-send, and two at once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from mailservers import Sink, running
from newsroom import SAMPLE_DATE, add_subscribers, numbered, run, sample_config

SUBSCRIBERS = 240
CONNECTIONS = 4


def start_send(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config), "send", "--no-fetch",
         "--date", SAMPLE_DATE],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(condition, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def prepared(tmp_path: Path, port: int) -> Path:
    config = sample_config(tmp_path, port, smtp_extra=f"connections = {CONNECTIONS}")
    add_subscribers(config, numbered(SUBSCRIBERS))
    run(config, "fetch")
    return config


def test_a_send_killed_at_any_moment_then_run_again_loses_nobody_and_doubles_little(
        tmp_path: Path):
    sink = Sink(delay=0.004)  # a relay slow enough to kill the send half way
    with running(sink) as port:
        config = prepared(tmp_path, port)
        kills = 0
        for stop_at in (40, 130):
            process = start_send(config)
            wait_for(lambda n=stop_at, p=process: len(sink.received) >= n or p.poll() is not None,
                     f"{stop_at} messages")
            assert process.poll() is None, process.communicate()
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            kills += 1
            assert len(sink.received) < SUBSCRIBERS  # killed mid-send, not after it
        process = start_send(config)
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        assert "deferred 0, failed 0" in err.decode()
    copies = Counter(sink.recipients())
    everyone = {address for address, _, _ in numbered(SUBSCRIBERS)}
    assert set(copies) == everyone  # every active subscriber has at least one copy
    duplicates = sum(copies.values()) - len(everyone)
    # At most the messages in flight on each connection when the process died.
    assert duplicates <= CONNECTIONS * kills, copies.most_common(10)
    # Once finished, the edition sends nothing more.
    again = run(config, "send", "--no-fetch", "--date", SAMPLE_DATE)
    assert "sent 0" in again or "nothing to send" in again


@dataclass
class HeldSink(Sink):
    """A relay that, after `hold_after` messages, answers no more DATA until released."""

    hold_after: int = 5
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        if len(self.received) >= self.hold_after:
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 120)
        return await super().handle_DATA(server, session, envelope)


def test_a_second_send_while_one_runs_says_so_and_sends_nothing(tmp_path: Path):
    sink = HeldSink()  # the first send is still running, however slow the machine
    with running(sink) as port:
        config = prepared(tmp_path, port)
        first = start_send(config)
        try:
            wait_for(lambda: len(sink.received) >= 5 or first.poll() is not None,
                     "the first send")
            assert first.poll() is None
            second = start_send(config)
            _, second_err = second.communicate(timeout=60)
        finally:
            sink.release.set()
        _, first_err = first.communicate(timeout=120)
    assert second.returncode == 3, second_err.decode()
    assert "another digest run" in second_err.decode()
    assert f"pid {first.pid}" in second_err.decode()
    assert first.returncode == 0, first_err.decode()
    copies = Counter(sink.recipients())
    assert len(copies) == SUBSCRIBERS and set(copies.values()) == {1}
