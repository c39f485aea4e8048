"""Start-up time of the CLI: `digest --help`, `--version`, a subcommand's help and shell
completion, beside `python -c pass` measured in the same run.

Each command runs --runs times as a fresh process (after --warmup unmeasured runs, as
hyperfine does); the median wall time is shown with its ratio to `python -c pass`.
The target is at most 8× `python -c pass`.

Run: .venv/bin/python bench/startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIGEST = [sys.executable, "-m", "digest"]
COMPLETION = {"_DIGEST_COMPLETE": "bash_complete", "COMP_WORDS": "digest subscribers i",
              "COMP_CWORD": "2"}

COMMANDS: list[tuple[str, list[str], dict[str, str]]] = [
    ("python -c pass", [sys.executable, "-c", "pass"], {}),
    ("digest --help", [*DIGEST, "--help"], {}),
    ("digest --version", [*DIGEST, "--version"], {}),
    ("digest send --help", [*DIGEST, "send", "--help"], {}),
    ("tab completion (subscribers i<TAB>)", DIGEST, COMPLETION),
]


# As installed: pip compiles the bytecode, so the runs may write and reuse it (an
# environment that forbids writing it would time the compiler, not the start-up).
BASE_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env={**BASE_ENV, **env}, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    medians: dict[str, float] = {}
    # Interleaved, so that a busy moment on the machine weighs on every command alike.
    samples: dict[str, list[float]] = {name: [] for name, _, _ in COMMANDS}
    for _ in range(args.warmup):
        for _, command, env in COMMANDS:
            timed(command, env)
    for _ in range(args.runs):
        for name, command, env in COMMANDS:
            samples[name].append(timed(command, env))
    medians = {name: statistics.median(times) for name, times in samples.items()}
    base = medians["python -c pass"]
    print(f"median of {args.runs} runs each (after {args.warmup} warm-up runs); target ≤ 8×")
    for name, seconds in medians.items():
        print(f"  {name:<38} {seconds * 1000:7.1f} ms  {seconds / base:5.1f}× python -c pass")


if __name__ == "__main__":
    main()
