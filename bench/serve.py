"""Requests per second for a feed from `digest serve`, beside `python -m http.server`
serving the same folder, each in its own process, measured in the same run.

Publishes the demo (config.toml over sample/feeds) into a temporary folder, starts
both servers on loopback, then fetches /rss.xml over one keep-alive connection (a
client that reconnects when the server closes, as http.server's HTTP/1.0 does) for
--seconds each, in --rounds interleaved rounds, and prints the median rate of each
and their ratio. The target is at least 1x http.server's rate.

Run: .venv/bin/python bench/serve.py [--seconds 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from measure import free_port, serving  # noqa: E402

DATE = "2026-11-25"  # the sample feeds' edition
TARGET = "/rss.xml"


def publish(folder: Path) -> Path:
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    shutil.copytree(ROOT / "sample", folder / "sample")
    for args in (["fetch"], ["build", "--date", DATE]):
        subprocess.run([sys.executable, "-m", "digest", "--config",
                        str(folder / "config.toml"), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder)
    return folder / "public"


def rate(port: int, seconds: float) -> float:
    """Requests per second over one keep-alive connection (reopened when closed)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    count = 0
    end = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        conn.request("GET", TARGET)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200 or not body:
            raise SystemExit(f"port {port}: {response.status} for {TARGET}")
        count += 1
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        public = publish(folder)
        ours, theirs = free_port(), free_port()
        digest = [sys.executable, "-m", "digest", "--config", str(folder / "config.toml"),
                  "serve", "--port", str(ours)]
        baseline = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                    "--directory", str(public), str(theirs)]
        samples: dict[str, list[float]] = {"digest serve": [], "python -m http.server": []}
        with serving(digest, ours, folder), serving(baseline, theirs, folder):
            rate(ours, 0.3)  # warm up: the file is read and held once
            rate(theirs, 0.3)
            for _ in range(args.rounds):  # interleaved: a busy moment weighs on both
                samples["digest serve"].append(rate(ours, args.seconds))
                samples["python -m http.server"].append(rate(theirs, args.seconds))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"GET {TARGET}, one keep-alive client, median of {args.rounds} x {args.seconds:g} s")
    for name, value in medians.items():
        print(f"  {name:<24} {value:8.0f} requests/s")
    ratio = medians["digest serve"] / medians["python -m http.server"]
    print(f"  ratio                    {ratio:8.2f}x (target: at least 1x)")


if __name__ == "__main__":
    main()
