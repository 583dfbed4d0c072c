"""Ctrl-C and SIGTERM for long-running commands: the first asks for a clean stop, the second aborts.

Raising KeyboardInterrupt wherever a signal lands can leave a lock held (a logging handler's, a worker's)
and hang the exit while other threads wait on it; a long-running loop instead checks `requested` at its
safe points (between scans, between batches) and finishes what it has in hand.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


class TwoStepStop:
    """A signal handler: the first signal sets `requested` (and calls `on_request`), the next raises
    KeyboardInterrupt."""

    def __init__(self, on_request: Callable[[], None] | None = None) -> None:
        self.requested = False
        self._on_request = on_request

    def __call__(self, _sig: int, _frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self._on_request is not None:
            self._on_request()

    def sleep(self, seconds: float) -> None:
        """Sleep, ending early once a stop is requested."""
        end = time.monotonic() + seconds
        while not self.requested and time.monotonic() < end:
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))


@contextmanager
def stop_on_signals(stop: TwoStepStop, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[TwoStepStop]:
    """Install `stop` for `signals` while the block runs (main thread only: elsewhere signals cannot be
    handled and the block runs with the handlers it has)."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, stop) for sig in signals}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
