"""Ctrl-C for a real CLI process: start it, wait until it has done something, interrupt it, collect what it said."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass
class Interrupted:
    ready: bool  # whether `ready` held before the interrupt (else the wait ran out)
    returncode: int
    out: bytes
    err: bytes


def interrupt_when(argv: Sequence[str], ready: Callable[[subprocess.Popen[bytes]], bool], *, wait: float,
                   hang_guard: float, settle: float = 0.0) -> Interrupted:
    """Run `argv` (this environment); once `ready(proc)` holds (checked every 0.2 s for at most `wait` s, the
    process still running), wait `settle` s, send SIGINT and collect its output; a process still alive
    `hang_guard` s later fails the test and is killed."""
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        deadline = time.monotonic() + wait
        held = False
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            if ready(proc):
                held = True
                break
            time.sleep(0.2)
        time.sleep(settle)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=hang_guard)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Interrupted(held, proc.returncode, out, err)
