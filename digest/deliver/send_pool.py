"""A pool of transports: one worker thread per SMTP connection, fed from a bounded queue.

The thread that streams subscribers builds each message and hands it over;
each worker sends on its own connection and records the outcome before it
takes the next message. So a crash at any moment leaves at most one accepted
but unrecorded message per connection: that is the bound on duplicates.
The queue holds at most a few messages per worker, so memory stays flat
however long the list.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from digest.deliver.transport import Outcome, Transport
from digest.errors import DeliveryError
from digest.models import Subscriber

QUEUE_PER_WORKER = 4


@dataclass(frozen=True)
class Job:
    subscriber: Subscriber
    message: bytes | Callable[[], bytes]  # or what makes them in the worker (DKIM signing)
    sender: str | None = None  # its envelope sender (a VERP return path); None: the pool's


class Pacer:
    """Spaces sends evenly to at most `rate` per second over all workers (None: no limit)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next)
            self.next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class SendPool:
    """Workers, each with its own transport from `open_transport`, sending submitted jobs.

    `record(job, outcome)` runs in the worker right after the server answers;
    it must be thread-safe. A worker whose transport cannot be opened stops
    (its job stays unrecorded, so it is still owed); when every worker has
    stopped, `stopped` holds the reason and `submit` refuses more work.
    """

    def __init__(self, open_transport: Callable[[], Transport], size: int, sender: str,
                 record: Callable[[Job, Outcome], None], *, rate: float | None = None,
                 close_transports: bool = True,
                 claim: Callable[[Job], bool] | None = None) -> None:
        self.open_transport = open_transport
        self.sender = sender
        self.record = record
        self.claim = claim
        self.pacer = Pacer(rate)
        self.close_transports = close_transports
        self.jobs: queue.Queue[Job | None] = queue.Queue(maxsize=size * QUEUE_PER_WORKER)
        self.lock = threading.Lock()
        self.alive = size
        self.stopped: str | None = None
        self.errors: list[str] = []  # why workers stopped (connections that failed)
        self.crashed: BaseException | None = None
        self.workers = [threading.Thread(target=self._work, name=f"smtp-{n}", daemon=True)
                        for n in range(size)]
        for worker in self.workers:
            worker.start()

    def submit(self, job: Job) -> bool:
        """Queue a job (waiting while the queue is full); False once the pool has stopped."""
        while self.stopped is None:
            try:
                self.jobs.put(job, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def drain(self) -> None:
        """Wait until every queued job has been sent or given up."""
        while True:
            with self.jobs.all_tasks_done:
                if not self.jobs.unfinished_tasks:
                    break
                self.jobs.all_tasks_done.wait(0.2)
            if self.stopped is not None:
                self._discard_queued()
        if self.crashed is not None:
            raise self.crashed

    def abandon(self, reason: str = "interrupted") -> None:
        """Send nothing more: queued jobs stay owed; the ones in flight finish and are
        recorded by their workers."""
        with self.lock:
            if self.stopped is None:
                self.stopped = reason
        self._discard_queued()

    def close(self) -> None:
        """Stop the workers after the queued jobs and close their connections."""
        for _ in self.workers:
            self._put_stop()
        for worker in self.workers:
            worker.join()

    def _put_stop(self) -> None:
        while True:
            try:
                self.jobs.put(None, timeout=0.2)
                return
            except queue.Full:
                if not any(w.is_alive() for w in self.workers):
                    return

    def _work(self) -> None:
        transport: Transport | None = None
        # At most one job taken ahead of the current one, so the transport can write
        # its envelope behind the current message (its body waits for this record).
        upcoming: list[Job | None] = []
        try:
            while True:
                job = upcoming.pop() if upcoming else self.jobs.get()
                try:
                    if job is None:
                        return
                    if self.stopped is not None:
                        continue  # nobody left to send: the job stays owed
                    if self.claim is not None and not self.claim(job):
                        continue  # no longer subscribed: not sent, nothing owed
                    if not upcoming:
                        with contextlib.suppress(queue.Empty):
                            upcoming.append(self.jobs.get_nowait())
                    ahead = upcoming[0] if upcoming else None
                    message = job.message if isinstance(job.message, bytes) else job.message()
                    self.pacer.wait()
                    try:
                        if transport is None:
                            transport = self.open_transport()
                        outcome = transport.send(
                            job.sender or self.sender, job.subscriber.email, message,
                            following=ahead.subscriber.email if ahead else None,
                            following_sender=(ahead.sender or self.sender) if ahead else None)
                    except DeliveryError:
                        self._hand_back(job)  # the transport is unusable, not the job
                        raise
                    self.record(job, outcome)
                finally:
                    self.jobs.task_done()
        except DeliveryError as exc:
            self._give_up(str(exc))
        except BaseException as exc:  # a bug: surface it in the main thread, stop the pool
            self.crashed = exc
            self._give_up(f"internal error in {threading.current_thread().name}: {exc!r}")
        finally:
            for left in upcoming:  # taken ahead but never sent: back for another worker
                if left is not None:
                    self._hand_back(left, others=0)
                self.jobs.task_done()
            if transport is not None and self.close_transports:
                transport.close()

    def _hand_back(self, job: Job, *, others: int = 1) -> None:
        """Requeue a job this worker cannot send, while `others` more workers are alive.

        Waits for room (the producer keeps the queue full); gives up only when
        nobody is left to send it, and then the job simply stays owed.
        """
        while self.stopped is None:
            with self.lock:
                if self.alive <= others:
                    return
            try:
                self.jobs.put(job, timeout=0.1)
                return
            except queue.Full:
                continue

    def _give_up(self, reason: str) -> None:
        """This worker is done for; the last one to go stops the pool."""
        with self.lock:
            self.alive -= 1
            self.errors.append(reason)
            if self.alive == 0:
                self.stopped = reason
        if self.stopped is not None:
            self._discard_queued()

    def _discard_queued(self) -> None:
        """Empty the queue once nobody can send: those jobs stay owed in the store."""
        while True:
            try:
                self.jobs.get_nowait()
            except queue.Empty:
                return
            self.jobs.task_done()
