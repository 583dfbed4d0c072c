"""Benchmark: a full compliance scan of the seeded demo account on moto_server, one region, CIS v7.0.

Prints wall time (cold first scan, then the median of 3 warm scans), API requests made, peak RSS of the
scanning process, and a same-run baseline: the wall time of making the same number of trivial
sequential boto3 calls (sts:GetCallerIdentity) against the same server, so the ratio says how much
of the scan is parallelism versus raw request cost on this machine.

The issue's reference point for the open-source peer (Prowler 5.46 on the same kind of machine, same
kind of account on moto_server) is 42-58 s for about 1,450 requests; it is not re-measured here
(Prowler is not a dependency), so the "vs peer" figure divides that stated number by our median.

    .venv/bin/python bench/bench_scan.py                      # the single-account benchmark
    .venv/bin/python bench/bench_scan.py --accounts 30 --regions 4   # synthetic Organization, memory

The Organization mode creates N member accounts in moto's Organizations, scans them all through
sts:AssumeRole across R regions with results streamed (keep_results=False), and prints wall time,
requests and peak RSS, with RSS sampled as accounts finish to show memory does not grow with N.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.helpers.moto_server import MotoServer, aws_test_env  # noqa: E402

REGIONS_17 = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-southeast-1", "ap-southeast-2", "sa-east-1",
]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def current_rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / (1024 * 1024)


def seed(url: str) -> str:
    try:
        from cloudwarden.demo.aws_account import seed_company
    except ImportError:
        seed_company = None
    if seed_company is not None:
        seed_company(url, "us-east-1")
        return "cloudwarden.demo.aws_account.seed_company"
    import boto3

    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1")
    for i in range(8):
        iam.create_user(UserName=f"user{i}")
        iam.create_login_profile(UserName=f"user{i}", Password="Sup3r-Secret-Passw0rd!")
        iam.create_access_key(UserName=f"user{i}")
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    for i in range(5):
        s3.create_bucket(Bucket=f"bench-bucket-{i}")
    return "bench minimal seed"


def baseline(url: str, n: int) -> float:
    import boto3

    sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1")
    sts.get_caller_identity()
    t = time.perf_counter()
    for _ in range(n):
        sts.get_caller_identity()
    return time.perf_counter() - t


def single_account(url: str, runs: int) -> None:
    from cloudwarden.compliance.runner import ScanOptions, scan

    source = seed(url)
    opts = ScanOptions(endpoint_url=url, regions=["us-east-1"], framework="cis-7.0")
    t = time.perf_counter()
    first = scan(opts)
    cold = time.perf_counter() - t
    walls = []
    for _ in range(runs):
        t = time.perf_counter()
        run = scan(opts)
        walls.append(time.perf_counter() - t)
    median = statistics.median(walls)
    base = baseline(url, run.api_requests)
    counts = run.counts()
    print(f"account seeded by: {source}")
    print(f"results: {len(run.results)} ({counts['PASS']} pass, {counts['FAIL']} fail, "
          f"{counts['NOT_EVALUATED']} not evaluated) from {len(run.checks)} checks; collection failures: {len(run.failures)}")
    print(f"scan wall, cold first run:        {cold:7.2f} s  ({first.api_requests} API requests)")
    print(f"scan wall, median of {runs} warm runs:  {median:7.2f} s  (runs: {', '.join(f'{w:.2f}' for w in walls)})")
    print(f"API requests per scan:            {run.api_requests}")
    print(f"baseline: {run.api_requests} sequential sts:GetCallerIdentity calls: {base:.2f} s "
          f"-> scan/baseline ratio {median / base:.2f}")
    print(f"peak RSS of the scanning process: {peak_rss_mb():.0f} MiB")
    print(f"vs peer (Prowler 5.46, 42-58 s stated in the issue, not re-measured): "
          f"{42 / median:.0f}x-{58 / median:.0f}x faster (warm), {42 / cold:.0f}x-{58 / cold:.0f}x (cold)")


def organization(url: str, accounts: int, regions: int) -> None:
    import boto3

    from cloudwarden.compliance.checks.base import CheckResult
    from cloudwarden.compliance.runner import AccountSummary, ScanOptions, scan

    org = boto3.client("organizations", endpoint_url=url, region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    for i in range(accounts - 1):
        org.create_account(AccountName=f"member-{i}", Email=f"member-{i}@example.com")
    chosen = REGIONS_17[:regions]
    samples: list[tuple[int, float]] = []
    totals = {"results": 0}
    lock = threading.Lock()

    def on_account(summary: AccountSummary, results: list[CheckResult]) -> None:
        with lock:
            totals["results"] += len(results)
            samples.append((len(samples) + 1, current_rss_mb()))

    t = time.perf_counter()
    run = scan(ScanOptions(endpoint_url=url, regions=chosen, org_role="OrganizationAccountAccessRole",
                           framework="cis-7.0", keep_results=False, max_workers=16, account_workers=4),
               on_account=on_account)
    wall = time.perf_counter() - t
    failed = [a for a in run.accounts if a.status != "scanned"]
    print(f"organization: {len(run.accounts)} accounts x {len(chosen)} regions, CIS v7.0, results streamed")
    print(f"wall: {wall:.1f} s ({wall / max(1, len(run.accounts)):.2f} s/account), API requests: {run.api_requests}, "
          f"results: {totals['results']}, accounts failed: {len(failed)}, collection failures: {len(run.failures)}")
    step = max(1, len(samples) // 5)
    print("RSS as accounts finish: " + ", ".join(f"after {n}: {rss:.0f} MiB" for n, rss in samples[::step]))
    print(f"peak RSS of the scanning process: {peak_rss_mb():.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--accounts", type=int, default=0, help="synthetic Organization mode: number of accounts")
    ap.add_argument("--regions", type=int, default=3, help="Organization mode: regions per account (max 17)")
    args = ap.parse_args()
    os.environ.update(aws_test_env())
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # AdministratorAccess etc. as in a real account
    server = MotoServer().start()
    try:
        if args.accounts:
            organization(server.url, args.accounts, min(17, max(1, args.regions)))
        else:
            single_account(server.url, args.runs)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
