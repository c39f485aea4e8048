"""Peak memory of `digest fetch` against the number of feeds: 200 and 2,000 (by default).

Feeds (WordPress-like, --items entries each, as bench/ingest.py builds them) are served
from loopback addresses by a server process of its own, each document made when asked
for, so the server holds none of them. Each `digest fetch` runs as a fresh process; its
peak resident memory (the largest of it and its parsing processes) is shown per count
of feeds, beside the smallest count's measured in the same run, and their ratio. The
target is at most 1.2x from 200 to 2,000 feeds.

Run: .venv/bin/python bench/fetch_memory.py [--feeds 200 2000] [--items 50]
"""

from __future__ import annotations

import argparse
import http.server
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import feed_document, write_config

HOSTS = 50  # loopback addresses: one news site each, so the per-host limit plays its part


def serve(control: Connection, items: int) -> None:
    """The server process: /feed/N/ on every address, made on request."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            if len(parts) != 2 or parts[0] != "feed" or not parts[1].isdigit():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            document = feed_document(int(parts[1]), items)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=UTF-8")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    servers = []
    for h in range(HOSTS):
        httpd = http.server.ThreadingHTTPServer((f"127.0.0.{2 + h}", 0), Handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
    control.send([s.server_address[1] for s in servers])
    control.recv()  # "stop"
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def fetch(config: Path) -> tuple[float, int]:
    """`digest fetch` in a fresh process: (seconds, peak RSS in KiB)."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "digest", "--config", str(config), "-q",
                                "fetch"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    err = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"digest fetch failed:\n{err}")
    return time.perf_counter() - start, int(usage.ru_maxrss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8, help="[fetch] concurrency")
    args = parser.parse_args()
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve,
                                                          args=(theirs, args.items))
    server.start()
    ports: list[int] = ours.recv()
    found: dict[int, tuple[float, int]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for count in sorted(args.feeds):
                folder = Path(tmp) / f"f{count}"
                folder.mkdir()
                urls = [f"http://127.0.0.{2 + n % HOSTS}:{ports[n % HOSTS]}/feed/{n}/"
                        for n in range(count)]
                config = write_config(folder, urls, args.concurrency, 2)
                found[count] = fetch(config)
                print(f"  {count} feeds fetched", flush=True)
    finally:
        ours.send("stop")
        server.join()
    base = found[min(found)][1]
    print(f"`digest fetch`, {args.items} items a feed, [fetch] concurrency "
          f"{args.concurrency}; peak memory against {min(found)} feeds in the same run")
    for count, (seconds, peak) in sorted(found.items()):
        print(f"  {count:>5} feeds: {seconds:6.1f} s, peak {peak / 1024:6.1f} MiB, "
              f"{peak / base:.2f}x the peak at {min(found)} (target <= 1.2x)")


if __name__ == "__main__":
    main()
