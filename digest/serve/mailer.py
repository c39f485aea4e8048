"""`digest serve`'s mailer: the thread that sends the sign-up form's queued mail.

A POST of the form only stores its decision and queues the message (so every answer
takes the same time, whatever the address's state), then wakes this thread, which
sends what is due through the configured transport. It also wakes every `interval`
seconds, for what a deferring or unreachable server left waiting; the queue is in the
state file, so what a stopped or killed server did not send goes on its next start,
or with the daily `digest send`.
"""

from __future__ import annotations

import sys
import threading

from digest.app import Digest
from digest.config import Config
from digest.errors import DigestError


class Mailer:
    """One thread sending queued sign-up mail; `wake` after queueing, `stop` at the end."""

    def __init__(self, config: Config, interval: float = 60.0, settle: float = 0.05) -> None:
        self.config = config
        self.interval = interval
        self.settle = settle  # seconds to let the woken request's answer leave first
        self.wanted = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.done = threading.Condition()
        self.started_passes = 0
        self.finished_passes = 0

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="digest-mailer", daemon=True)
        self.thread.start()
        self.wake()  # what a stopped server left

    def wake(self) -> None:
        self.wanted.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the message being sent (what is left stays queued)."""
        self.stopping.set()
        self.wanted.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until a pass that began after this call has finished (everything queued
        before it that was due has then been sent or put off); False on timeout."""
        with self.done:
            wanted = self.started_passes + 1
            self.wake()
            return self.done.wait_for(lambda: self.finished_passes >= wanted
                                      or self.stopping.is_set(), timeout)

    def run(self) -> None:
        while not self.stopping.is_set():
            if self.wanted.wait(self.interval) and not self.stopping.is_set():
                # The answer that woke us is still on its way out, in this process:
                # let it go first, so that what it owes costs it no time.
                self.stopping.wait(self.settle)
            if self.stopping.is_set():
                break
            with self.done:
                self.wanted.clear()
                self.started_passes += 1
            try:
                self.send()
            finally:
                with self.done:
                    self.finished_passes += 1
                    self.done.notify_all()

    def send(self) -> None:
        try:
            with Digest(self.config, create=False) as digest:
                run = digest.send_signup_mail()
        except DigestError as exc:  # the state file cannot be read now: next pass
            print(f"digest serve: sign-up mail waits: {exc}", file=sys.stderr, flush=True)
            return
        except Exception as exc:  # never lose the thread: say what and go on
            print(f"digest serve: sign-up mail waits: {type(exc).__name__}: {exc}",
                  file=sys.stderr, flush=True)
            return
        if run.problem:
            print(f"digest serve: sign-up mail waits ({run.later} messages): {run.problem}",
                  file=sys.stderr, flush=True)
