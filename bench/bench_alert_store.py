#!/usr/bin/env python3
"""Storing many alerts: merge_alerts + AlertStore.add, as `trail ingest` flushes them. Prints figures; asserts nothing.

    PYTHONPATH=src .venv/bin/python bench/bench_alert_store.py [--firings 200000] [--batch 20000] [--url URL]

A synthetic stream shaped like the issue-3 corpus with SigmaHQ rules: one rule fires on most events over a
few hundred principals (the "AssumeRole misuse" pattern), other rules fire rarely over many; each firing
carries a ~1 KB CloudTrail event as evidence; event times span three days, in order. Batches of `--batch`
firings go through merge_alerts (fold + explain) then AlertStore.add (one transaction each), as
Ingest._flush does. Same-run baselines: the one-by-one reference path (`_add_one_by_one`, several
statements per alert) on a sample of the same folded alerts, and a replay of the first batch (every event
already recorded: the idempotent path). Medians over --repeat runs, each on an empty database.
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cloudwarden.cloudtrail.ingest import merge_alerts  # noqa: E402
from cloudwarden.detect.alert_store import AlertStore  # noqa: E402
from cloudwarden.models.alert import Alert  # noqa: E402
from cloudwarden.store.state import SQLITE_PAGE_SIZE, open_store  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _event(rnd: random.Random, eid: str, when: datetime, principal: str, name: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.08", "eventID": eid, "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "sts.amazonaws.com", "eventName": name, "awsRegion": rnd.choice(["us-east-1", "eu-west-1"]),
        "sourceIPAddress": f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.ubuntu.22 prompt/off command/sts.assume-role",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:session", "arn": principal,
                         "accountId": "111122223333", "sessionContext": {"attributes": {"mfaAuthenticated": "false"}}},
        "requestParameters": {"roleArn": "arn:aws:iam::111122223333:role/deploy", "roleSessionName": "s",
                              "durationSeconds": 3600},
        "responseElements": {"credentials": {"accessKeyId": "ASIAEXAMPLE", "expiration": "Jan 1, 2026 1:00:00 AM"}},
        "requestID": eid[::-1], "readOnly": False, "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
    }


def stream(n: int, seed: int = 7) -> list[Alert]:
    rnd = random.Random(seed)
    span = timedelta(days=3).total_seconds()
    out = []
    for i in range(n):
        when = T0 + timedelta(seconds=span * i / n)
        if rnd.random() < 0.72:  # the noisy rule, few principals
            rule, principal, level = "noisy-assume-role", f"arn:aws:sts::111122223333:assumed-role/app/{rnd.randrange(300)}", "low"
        else:
            rule = f"rule-{rnd.randrange(40)}"
            principal, level = f"arn:aws:iam::111122223333:user/u{rnd.randrange(5000)}", rnd.choice(["medium", "high"])
        eid = f"{seed:04d}-{i:012d}"
        ev = _event(rnd, eid, when, principal, "AssumeRole")
        out.append(Alert(rule_id=rule, title=rule, severity=level, source="cloudtrail", explanation="",
                         first_seen=when, last_seen=when, entity=principal, account="111122223333",
                         region=ev["awsRegion"], attack_ids=["T1078.004"], evidence=[ev], evidence_ids=[eid]))
    return out


def _explain(alert: Alert, event: Any) -> str:
    return f"Rule '{alert.title}' matched on eventName={event.get('eventName')!r}."


def _sqlite_file(path: Path, page_size: int | None) -> str:
    """A SQLite URL; with `page_size`, the file is made first with that page size (the store's own setting
    applies only to a new, empty file), for the same-run comparison with SQLite's default."""
    if page_size:
        con = sqlite3.connect(path)
        con.execute(f"PRAGMA page_size={int(page_size)}")
        con.execute("CREATE TABLE _made (x)")
        con.execute("DROP TABLE _made")
        con.commit()
        con.close()
    return f"sqlite:///{path}"


def run(alerts: list[Alert], batch: int, url: str | None, sample: int, page_size: int | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = AlertStore(open_store(url or _sqlite_file(Path(tmp) / "bench.db", page_size)))
        merge_s = add_s = 0.0
        stored = 0
        first: list[Alert] = []
        for start in range(0, len(alerts), batch):
            part = alerts[start:start + batch]
            t0 = time.perf_counter()
            merged = merge_alerts(part, store.window, store.evidence_limit, _explain)
            t1 = time.perf_counter()
            stored += len(store.add(merged))
            add_s += time.perf_counter() - t1
            merge_s += t1 - t0
            if not first:
                first = merged
        t0 = time.perf_counter()
        store.add(first)
        replay_s = time.perf_counter() - t0
        if not sample:
            store.state.dispose()
            return {"add": add_s}
        ref = AlertStore(open_store(f"sqlite:///{Path(tmp) / 'ref.db'}"))
        some = first[:sample]
        t0 = time.perf_counter()
        ref._add_one_by_one(some, datetime.now(UTC).replace(tzinfo=None))
        ref_s = time.perf_counter() - t0
        store.state.dispose()
        ref.state.dispose()
    return {"merge": merge_s, "add": add_s, "replay": replay_s, "replayed": len(first), "stored": stored,
            "ref": ref_s, "ref_alerts": len(some), "ref_firings": sum(len(a.evidence_ids) for a in some),
            "first_firings": sum(len(a.evidence_ids) for a in first)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firings", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=20_000, help="firings per flush (IngestOptions.batch_alerts)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sample", type=int, default=2_000, help="folded alerts given to the one-by-one reference")
    ap.add_argument("--url", default=None, help="state database URL (default: a fresh SQLite file per run)")
    args = ap.parse_args()
    alerts = stream(args.firings)
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)  # as `trail ingest` runs
    runs = []
    default_pages: list[float] = []
    for _ in range(args.repeat):  # interleaved, so a slow spell of the machine hits both alike
        runs.append(run(alerts, args.batch, args.url, args.sample))
        if not args.url:
            default_pages.append(run(alerts, args.batch, None, 0, page_size=4096)["add"])
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    n = args.firings
    print(f"alert store: {n} firings in batches of {args.batch} -> {int(med['stored'])} stored alerts "
          f"(median of {args.repeat}; {'SQLite file' if not args.url else 'given URL'})")
    print(f"  merge_alerts      {med['merge']:.2f}s  {med['merge'] / n * 1e6:.1f} us/firing")
    print(f"  AlertStore.add    {med['add']:.2f}s  {med['add'] / n * 1e6:.1f} us/firing  {n / med['add']:,.0f} firings/s")
    if default_pages:
        base = statistics.median(default_pages)
        print(f"  same, 4 KB pages  {base:.2f}s  (SQLite's default page size; ours is {SQLITE_PAGE_SIZE // 1024} KB: "
              f"{base / med['add']:.2f}x)")
    print(f"  replay batch 1    {med['replay']:.2f}s  {med['replay'] / med['first_firings'] * 1e6:.1f} us/firing "
          f"({int(med['replayed'])} alerts already recorded)")
    ref_per = med["ref"] / med["ref_firings"]
    print(f"  one-by-one ref    {med['ref']:.2f}s for {int(med['ref_alerts'])} folded alerts "
          f"({int(med['ref_firings'])} firings): {ref_per * 1e6:.1f} us/firing; bulk is {ref_per / (med['add'] / n):.1f}x faster per firing")


if __name__ == "__main__":
    main()
