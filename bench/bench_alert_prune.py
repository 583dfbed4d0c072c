"""Alert evidence retention: how long `AlertStore.prune` takes, and how long it makes other writers wait.

Builds a SQLite state DB with ALERTS alerts x PER_ALERT evidence ids (half of the alerts idle past the
horizon), copies it, then on each copy runs, while a concurrent writer adds a comment every 5 ms:
  - batched:  AlertStore.prune (500 alerts per step, 5,000 evidence rows per transaction, then a pause as
              long as the transaction so waiting writers get the lock)
  - baseline: one unbounded DELETE of the same rows in one transaction (what a naive prune would do)
and prints rows deleted, seconds, rows/s, and the writer's median / p99 / max wait per insert.

    .venv/bin/python bench/bench_alert_prune.py [--alerts 20000] [--per-alert 50]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.store.state import open_store

OLD = datetime(2026, 1, 1)
RECENT = datetime(2026, 6, 1)
CUT = datetime(2026, 3, 1)


def build(path: Path, alerts: int, per_alert: int) -> None:
    open_store(f"sqlite:///{path}").dispose()  # the schema
    con = sqlite3.connect(path)
    rows = []
    for i in range(1, alerts + 1):
        when = (OLD if i % 2 else RECENT).isoformat(sep=" ")
        rows.append((i, f"k{i}", "r-1", "t", "high", 3, "cloudtrail", "why", f"e{i}", "1", "", "", "[]", "[]", None, "[]",
                     per_alert, when, when, "resolved" if i % 4 == 1 else "new", "", None, "", "", when, when))
    con.executemany("INSERT INTO alerts (id, key, rule_id, title, severity, severity_rank, source, explanation, entity, "
                    "account, region, host, attack_ids, members, anomaly, evidence, count, first_seen, last_seen, status, "
                    "status_by, status_at, status_comment, assignee, created_at, updated_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.executemany("INSERT INTO alert_evidence (alert_id, key, event_id) VALUES (?,?,?)",
                    ((i, f"k{i}", f"{i}-{j:08d}-0000-4000-8000-000000000000")
                     for i in range(1, alerts + 1) for j in range(per_alert)))
    con.commit()
    con.close()


class Writer(threading.Thread):
    """Another process's view: a small write transaction every 5 ms; records how long each one waited."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.waits: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        con = sqlite3.connect(self.path, timeout=120)
        con.execute("PRAGMA busy_timeout=120000")
        while not self.stop.is_set():
            t0 = time.perf_counter()
            con.execute("INSERT INTO alert_comments (alert_id, author, text, at) VALUES (2, 'bench', 'x', '2026-06-01')")
            con.commit()
            self.waits.append(time.perf_counter() - t0)
            time.sleep(0.005)
        con.close()


def measure(label: str, path: Path, work: object) -> None:
    writer = Writer(path)
    writer.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    deleted = work()  # type: ignore[operator]
    seconds = time.perf_counter() - t0
    writer.stop.set()
    writer.join()
    w = sorted(writer.waits)
    p99 = w[min(len(w) - 1, int(len(w) * 0.99))]
    print(f"{label:<9} deleted {deleted:>9,} evidence rows in {seconds:6.2f} s ({deleted / seconds:>10,.0f} rows/s); "
          f"concurrent writer: {len(w)} inserts, median wait {statistics.median(w) * 1000:6.2f} ms, "
          f"p99 {p99 * 1000:7.2f} ms, max {w[-1] * 1000:8.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=20_000)
    ap.add_argument("--per-alert", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.db"
        t0 = time.perf_counter()
        build(base, args.alerts, args.per_alert)
        print(f"built {args.alerts:,} alerts x {args.per_alert} evidence ids = {args.alerts * args.per_alert:,} rows "
              f"in {time.perf_counter() - t0:.1f} s (half of the alerts idle past the horizon)")
        batched, naive = Path(tmp) / "batched.db", Path(tmp) / "naive.db"
        shutil.copy(base, batched)
        shutil.copy(base, naive)

        stats: dict[str, float] = {}

        def run_batched() -> int:
            store = open_store(f"sqlite:///{batched}")
            r = AlertStore(store).prune(CUT)
            store.dispose()
            stats.update(batches=r.batches, seconds=r.seconds)
            return r.evidence_deleted

        def run_naive() -> int:
            con = sqlite3.connect(naive, timeout=120)
            cur = con.execute("DELETE FROM alert_evidence WHERE alert_id IN (SELECT id FROM alerts "
                              "WHERE last_seen < ? AND updated_at < ?)", (CUT.isoformat(sep=" "),) * 2)
            con.commit()
            n = cur.rowcount
            con.close()
            return n

        measure("baseline", naive, run_naive)
        measure("batched", batched, run_batched)
        print(f"batched: {stats['batches']:.0f} delete transactions, {stats['seconds'] / stats['batches'] * 1000:.1f} ms "
              "per transaction incl. the equal pause after it (wall / transactions; the writer's waits above also "
              "include SQLite's busy-handler back-off sleeps of 1, 2, 5, 10, 15, 20, 25... ms)")
        dry = open_store(f"sqlite:///{batched}")
        t0 = time.perf_counter()
        r = AlertStore(dry).prune(CUT, dry_run=True)
        print(f"re-run after the prune (nothing left): {r.alerts_examined:,} idle alerts examined in "
              f"{time.perf_counter() - t0:.2f} s")
        dry.dispose()


if __name__ == "__main__":
    main()
