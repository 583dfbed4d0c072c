"""Benchmark: report rendering, framework evaluation, scan storage and drift for a large scan.

A synthetic Organization-sized scan (N results over the real framework files and 80 synthetic checks
spread over the CIS v7.0 controls) is rendered in every format. Baseline (same run): the stdlib
`json.dumps` of the bare result dicts, i.e. the least any serialisation of these results must cost.
Prints medians of 3 runs, ratio to the baseline, output sizes and peak RSS.

    .venv/bin/python bench/bench_reports.py [N]
"""

from __future__ import annotations

import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from cloudwarden.compliance.checks.base import SEVERITIES, CheckMeta, CheckResult, Status
from cloudwarden.compliance.drift import diff
from cloudwarden.compliance.frameworks import load_framework
from cloudwarden.compliance.frameworks.evaluate import evaluate_all
from cloudwarden.compliance.report import build_report, write_reports
from cloudwarden.compliance.results import ScanRecord
from cloudwarden.compliance.store import ScanStore
from cloudwarden.store.state import open_store

FRAMEWORKS = ["cis-7.0", "soc2", "pci-4.0", "hipaa"]


def synthetic_scan(n: int, seed: int, scan_id: str) -> ScanRecord:
    rnd = random.Random(seed)
    controls = [c.id for c in load_framework("cis-7.0").controls]
    checks = {
        f"check_{i:02d}": CheckMeta(
            id=f"check_{i:02d}", title=f"Synthetic check {i}", service="svc", severity=SEVERITIES[i % 5],
            resource_type="AwsS3Bucket", remediation="Do the right thing " * 5, cis={"7.0": [controls[i % len(controls)]]},
        )
        for i in range(80)
    }  # fmt: skip
    accounts = [f"{100000000000 + a}" for a in range(10)]
    regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
    statuses = [Status.PASS] * 6 + [Status.FAIL] * 3 + [Status.NOT_EVALUATED]
    results = []
    for i in range(n):
        cid = f"check_{i % 80:02d}"
        acct, reg = accounts[i % 10], regions[(i // 10) % 4]
        results.append(
            CheckResult(rnd.choice(statuses), f"arn:aws:s3:::bucket-{i // 80}-{acct}", f"reason <{i}> & detail",
                        reg, "AwsS3Bucket", {"n": i}, cid, acct)
        )
    return ScanRecord(results=results, checks=checks, accounts=accounts, regions=regions, frameworks=FRAMEWORKS, scan_id=scan_id)


def median_time(fn: Callable[[], object], runs: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    scan = synthetic_scan(n, 1, "a" * 32)
    later = synthetic_scan(n, 2, "b" * 32)
    print(f"synthetic scan: {n} results, {len(scan.checks)} checks, {len(scan.accounts)} accounts, "
          f"{len(scan.regions)} regions, frameworks {', '.join(FRAMEWORKS)}")  # fmt: skip

    base, base_out = median_time(lambda: json.dumps([asdict(r) for r in scan.results], default=str))
    rows: list[tuple[str, float, int]] = [("baseline: stdlib json.dumps of results", base, len(str(base_out)))]
    t, _ = median_time(lambda: evaluate_all(FRAMEWORKS, scan.results, scan.checks))
    rows.append(("evaluate 4 frameworks", t, 0))
    data = build_report(scan)
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("ocsf", "csv", "html", "asff", "json"):
            path = Path(tmp) / f"report.{fmt}"
            t, _ = median_time(lambda fmt=fmt, path=path: write_reports(data, {fmt: path}))  # type: ignore[misc]
            rows.append((f"write {fmt} (streamed to file)", t, path.stat().st_size))
    t, _ = median_time(lambda: diff(scan.results, later.results))
    rows.append(("drift diff (two scans)", t, 0))
    with tempfile.TemporaryDirectory() as tmp:
        store = ScanStore(open_store(f"sqlite:///{Path(tmp) / 'state.db'}"))
        i = 0

        def save() -> int:
            nonlocal i
            i += 1
            scan.scan_id = f"{i:032d}"
            return store.save(scan)

        t, sid = median_time(save)
        rows.append(("store save (SQLite)", t, 0))
        t, _ = median_time(lambda: store.get(int(str(sid))))
        rows.append(("store load (SQLite)", t, 0))
    print(f"{'step':42} {'median s':>9} {'x baseline':>10} {'results/s':>11} {'output':>10}")
    for name, secs, size in rows:
        print(f"{name:42} {secs:9.3f} {secs / base:10.1f} {n / secs:11.0f} {(f'{size / 1e6:.1f} MB' if size else '-'):>10}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
