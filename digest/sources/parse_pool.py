"""Parsing in worker processes when there are many feeds.

Parsing and sanitising are CPU work done largely in Python, which threads cannot
spread over cores; the fetching threads hand documents to a few processes instead.
Below MIN_FEEDS (a daily digest of a few category feeds) starting the processes
would cost more than it saves, and everything stays in this process. The processes
start with the first document to parse, so a run answered by 304s starts none.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from digest.sources.parse import ParsedFeed, parse_feed

MIN_FEEDS = 40


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class ParsePool:
    """parse_feed, in worker processes when that pays; usable from many threads."""

    def __init__(self, feeds: int) -> None:
        self._cores = usable_cores()
        self._wanted = (feeds >= MIN_FEEDS and self._cores > 1
                        and "forkserver" in multiprocessing.get_all_start_methods())
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._started: ProcessPoolExecutor | None = None  # to shut down, broken or not

    @property
    def processes(self) -> bool:
        """Whether documents go to worker processes (until one breaks)."""
        return self._wanted and (self._started is None or self._pool is not None)

    def _executor(self) -> ProcessPoolExecutor | None:
        if not self._wanted:
            return None
        with self._lock:
            if self._started is None:
                # forkserver: workers are forked from a clean single-threaded server that
                # imported the parsers once, never from this process with its threads.
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(["digest.sources.parse"])
                self._pool = self._started = ProcessPoolExecutor(
                    max_workers=self._cores, mp_context=context)
            return self._pool

    def parse(self, body: bytes, url: str, content_type: str | None,
              now: dt.datetime) -> ParsedFeed:
        pool = self._executor()
        if pool is not None:
            try:
                return pool.submit(parse_feed, body, url, content_type=content_type,
                                   now=now).result()
            except BrokenProcessPool:
                self._pool = None  # a worker died (killed, out of memory): go on here
        return parse_feed(body, url, content_type=content_type, now=now)

    def close(self) -> None:
        self._wanted = False
        self._pool = None
        if self._started is not None:
            self._started.shutdown(wait=True, cancel_futures=True)
            self._started = None
