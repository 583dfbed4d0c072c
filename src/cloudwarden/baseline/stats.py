"""Compact per-item statistics: first/last seen, active days in a rolling window, robust rates.

An item record is a 4-list [first_ts, last_ts, day_ring, count]. `day_ring` is an int whose bit (day % 64)
marks an active day; bits older than the last update are cleared when time moves on, so the last 64 days
can be read back and the 28-day active-day count costs no list per item.
"""

from __future__ import annotations

import statistics
from collections import deque
from typing import Any

from cloudwarden.baseline.features import epoch_day

RING = 64
_FULL = (1 << RING) - 1


def new_record(ts: float) -> list[Any]:
    return [ts, ts, 1 << (epoch_day(ts) % RING), 1]


def touch(rec: list[Any], ts: float) -> None:
    """Record one more occurrence at `ts` (events arrive roughly in time order)."""
    last = rec[1]
    day = int(ts // 86400.0)
    if last <= ts and day == int(last // 86400.0):  # the common case: again on the same day
        rec[1] = ts
        rec[3] += 1
        return
    last_day = int(last // 86400.0)
    ring: int = rec[2]
    if day > last_day:
        gap = day - last_day
        if gap >= RING:
            ring = 0
        else:
            for d in range(last_day + 1, day + 1):  # clear the slots those days reuse
                ring &= _FULL ^ (1 << (d % RING))
        rec[1] = ts
    elif ts > rec[1]:
        rec[1] = ts
    if day > last_day - RING:
        ring |= 1 << (day % RING)
    rec[2] = ring
    rec[3] += 1
    if ts < rec[0]:
        rec[0] = ts


def active_days(rec: list[Any], now: float, window: int = 28) -> int:
    """Distinct days with activity in the `window` days ending on `now`'s day."""
    last_day = epoch_day(rec[1])
    today = epoch_day(now)
    lo = max(today - window + 1, last_day - RING + 1)
    hi = min(today, last_day)
    ring: int = rec[2]
    return sum(1 for d in range(lo, hi + 1) if ring >> (d % RING) & 1)


class RateStat:
    """Calls and errors per hour for one key, with a history of the last active hours (Insights-like)."""

    __slots__ = ("bucket", "count", "err_threshold", "errors", "fired", "history", "rolls", "threshold")

    def __init__(self, history: int = 168) -> None:
        self.bucket = -1
        self.count = 0
        self.errors = 0
        self.fired = 0  # bit 1: rate fired this bucket, bit 2: error rate fired
        self.history: deque[tuple[int, int]] = deque(maxlen=history)
        self.rolls = 0
        self.threshold: float | None = None
        self.err_threshold: float | None = None

    def add(self, bucket: int, error: bool) -> None:
        if bucket != self.bucket:
            if self.bucket >= 0 and self.count:
                self.history.append((self.count, self.errors))
                self.rolls += 1
                if self.threshold is None or self.rolls % 6 == 0:  # thresholds move slowly: refresh every 6 active hours
                    self._recompute()
            self.bucket, self.count, self.errors, self.fired = bucket, 0, 0, 0
        self.count += 1
        if error:
            self.errors += 1

    def _recompute(self) -> None:
        if len(self.history) < 24:
            self.threshold = self.err_threshold = None
            return
        counts = [c for c, _ in self.history]
        errs = [e for _, e in self.history]
        self.threshold = robust_threshold(counts, floor=60)
        self.err_threshold = robust_threshold(errs, floor=20)

    def zscore(self, value: float, errors: bool = False) -> float:
        values = [e if errors else c for c, e in self.history]
        if not values:
            return 0.0
        med = statistics.median(values)
        mad = statistics.median(abs(v - med) for v in values)
        return (value - med) / (1.4826 * mad + 1.0)


def robust_threshold(values: list[int], k: float = 8.0, floor: float = 50) -> float:
    """median + k × 1.4826·MAD (+1 so a flat history still needs a real jump), never below `floor`."""
    ordered = sorted(values)
    med = ordered[len(ordered) // 2]
    dev = sorted(abs(v - med) for v in ordered)
    mad = dev[len(dev) // 2]
    return max(floor, med + k * (1.4826 * mad + 1.0), 1.5 * ordered[-1])
