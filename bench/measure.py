"""Run a command and measure it: wall time, peak memory and CPU time; or start a
server in its own process for a benchmark that times its answers.

Shared by the benchmarks that time whole `digest` processes or servers. The environment
drops PYTHONDONTWRITEBYTECODE (set on this machine): an installed digest has its
bytecode compiled, so each start would otherwise pay for compiling it again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.servers import free_port, wait_listening

__all__ = ["ENV", "Measured", "free_port", "measured", "serving"]

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass(frozen=True)
class Measured:
    seconds: float  # wall time
    peak_kib: int  # peak resident memory
    cpu: float  # user + system seconds


def measured(command: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run `command` (stdout to /dev/null); stop the benchmark if it fails."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=ENV if env is None else env)
    assert process.stderr is not None
    err = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{err}")
    return Measured(seconds, int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime)


@contextmanager
def serving(command: list[str], port: int, cwd: Path) -> Iterator[int]:
    """`command`, a server listening on 127.0.0.1:`port`, running until the block ends;
    stop the benchmark if it does not listen within 20 seconds."""
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=ENV)
    try:
        if not wait_listening(port, process):
            raise SystemExit(f"{' '.join(command[:4])} did not start")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
