"""Child processes that never outlive their parent, and stopping them."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Sequence

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """`preexec_fn` for Popen: the kernel sends the child SIGTERM when its parent dies, even by
    SIGKILL (Linux prctl), so no Envoy or Prometheus outlives the test or tool that started it."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except Exception:
        pass


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; always reaped. Only this process, by its pid."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait(timeout=timeout)


def pinned(cpu: int | None, argv: Sequence[str]) -> list[str]:
    """`argv` under `taskset -c cpu` when a CPU is asked for and taskset and 2+ CPUs exist
    (taskset execs the command, so the child's pid is the command's)."""
    if cpu is not None and shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu), *argv]
    return list(argv)


class Process:
    """A child with its output in `log`, dying with its parent; `stop()` ends it (by its pid)."""

    def __init__(self, args: Sequence[str], log: Path | str, *, cwd: Path | str | None = None):
        self.log_path = Path(log)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(a) for a in args], stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL, cwd=cwd,
            preexec_fn=die_with_parent,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.proc, timeout)
        if not self.log.closed:
            self.log.close()

    def __enter__(self) -> "Process":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
