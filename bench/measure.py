"""Run a command and measure it: wall time, peak memory and CPU time.

Shared by the benchmarks that time whole `digest` processes. The environment
drops PYTHONDONTWRITEBYTECODE (set on this machine): an installed digest has its
bytecode compiled, so each start would otherwise pay for compiling it again.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

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
