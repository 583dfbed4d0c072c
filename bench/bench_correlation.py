"""Correlation rules: Detector throughput per correlation type, and the cost of saving/restoring windows.

    .venv/bin/python bench/bench_correlation.py [--events 100000] [--principals 2000] [--repeats 3]

Every event matches the base rule, so every event goes through the correlation (the worst case; in a
real trail ~1% of events feed one). Baseline, same run and events: the base rule alone alerting on each
event with no correlation. Then the snapshot written with each ingest batch: its size, the time to take
it and to restore it, with one window per principal. Medians of the repeats, one core.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from cloudwarden.detect.engine import Detector, load_rules_text

BASE = {"title": "read", "name": "read", "id": "6f2a3c10-0000-4000-8000-000000000001",
        "logsource": {"product": "aws", "service": "cloudtrail"},
        "detection": {"sel": {"eventName": "GetObject"}, "condition": "sel"}, "level": "low"}
BASE2 = {**BASE, "title": "write", "name": "write", "id": "6f2a3c10-0000-4000-8000-000000000002",
         "detection": {"sel": {"eventName": "PutObject"}, "condition": "sel"}}


def corr(ctype: str, condition: Any, rules: list[str] | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"type": ctype, "timespan": "10m", "group-by": ["userIdentity.arn"], "condition": condition}
    if rules is not None:
        c["rules"] = rules
    return {"title": ctype, "id": "6f2a3c10-0000-4000-8000-0000000000c1", "correlation": c, "level": "high"}


CASES: dict[str, list[dict[str, Any]]] = {
    "baseline: base rule alone (no correlation)": [BASE],
    "event_count gte 5 (on arrival)": [BASE, corr("event_count", {"gte": 5}, ["read"])],
    "event_count lt 7 (at window close)": [BASE, corr("event_count", {"lt": 7}, ["read"])],
    "event_count gte 3 + lte 6 (range, at close)": [BASE, corr("event_count", {"gte": 3, "lte": 6}, ["read"])],
    "value_sum gt 200000 (on arrival)": [BASE, corr("value_sum", {"gt": 200_000, "field": "bytes"}, ["read"])],
    "value_median gt 60000 (on arrival)": [BASE, corr("value_median", {"gt": 60_000, "field": "bytes"}, ["read"])],
    "temporal 'read and not write' (at close)": [BASE, BASE2, corr("temporal", "read and not write")],
}
WINDOWS = [BASE, corr("event_count", {"gte": 1000}, ["read"])]  # never fires: every window stays open


def events(n: int, principals: int) -> list[tuple[dict[str, Any], datetime]]:
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    out = []
    for i in range(n):
        ev = {"eventName": "PutObject" if i % 13 == 5 else "GetObject", "eventID": f"e{i}", "bytes": (i * 7919) % 100_000,
              "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::1:user/u{i % principals}"},
              "recipientAccountId": "111122223333"}
        out.append((ev, t0 + timedelta(milliseconds=50 * i)))
    return out


def run(docs: list[dict[str, Any]], stream: list[tuple[dict[str, Any], datetime]], repeats: int) -> tuple[float, int, Detector]:
    rs = load_rules_text("\n---\n".join(yaml.safe_dump(d) for d in docs))
    assert not rs.unsupported, rs.unsupported
    rates = []
    alerts = 0
    det = Detector(rs)
    for _ in range(repeats):
        det = Detector(rs)
        started = time.perf_counter()
        alerts = 0
        for ev, when in stream:
            alerts += len(det.process(ev, when))
        alerts += len(det.flush(stream[-1][1]))
        rates.append(len(stream) / (time.perf_counter() - started))
    return statistics.median(rates), alerts, det


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--principals", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    stream = events(args.events, args.principals)
    print(f"events: {args.events}, all matching a base rule, {args.principals} principals, 10m windows, "
          f"median of {args.repeats}, one core")
    base_rate = 0.0
    for name, docs in CASES.items():
        rate, alerts, _det = run(docs, stream, args.repeats)
        base_rate = base_rate or rate
        print(f"   {name:48s} {rate:>10,.0f} events/s  ({rate / base_rate:4.2f}x baseline, {alerts} alerts)")

    # windows across a restart: one open window per principal, 10 evidence bodies each at most
    rs = load_rules_text("\n---\n".join(yaml.safe_dump(d) for d in WINDOWS))
    for principals in (1_000, 10_000):
        det = Detector(rs)
        for ev, when in events(principals * 5, principals):
            det.process(ev, when)
        takes, restores = [], []
        data = b""
        for _ in range(args.repeats):
            started = time.perf_counter()
            data = det.snapshot()
            takes.append(time.perf_counter() - started)
            again = Detector(rs)
            started = time.perf_counter()
            result = again.restore(data)
            restores.append(time.perf_counter() - started)
            assert result.groups == det.stats["groups"]
        print(f"   snapshot of {det.stats['groups']:>6,} windows ({principals * 5:,} entries): {len(data):>10,} bytes, "
              f"take {statistics.median(takes) * 1000:7.1f} ms, restore {statistics.median(restores) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
