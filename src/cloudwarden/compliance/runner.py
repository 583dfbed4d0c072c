"""The scan runner: credentials -> accounts -> regions -> collectors -> Inventory -> checks -> results.

    run = scan(ScanOptions(endpoint_url=..., regions=["us-east-1"], framework="cis-7.0"), progress=cb)

One account (the default credential chain or `profile`) or a whole AWS Organization (`org_role`: list
member accounts, assume that role in each). Collection is concurrent across services x regions on ONE
bounded thread pool shared by every account (`max_workers` API calls in flight at most), and accounts
run in parallel up to `account_workers`. Memory stays bounded for large Organizations because an
account's Inventory lives only until its checks have run; only the small CheckResult records are kept
(or streamed to `on_account` and dropped with `keep_results=False`).

Nothing here raises for a partial failure: a collector that fails becomes CollectionFailures and the
checks that needed it become NOT_EVALUATED; an account that cannot be assumed is reported on the run.
Only unusable credentials for the starting identity raise (CredentialsError) because then nothing can run.
"""

from __future__ import annotations

import threading
import traceback
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions

from cloudwarden.aws.organizations import OrgAccount, assume_into, list_accounts
from cloudwarden.aws.regions import RegionSet, discover_regions
from cloudwarden.aws.session import AwsSession
from cloudwarden.compliance.checks.base import Check, CheckMeta, CheckResult, Status, all_checks
from cloudwarden.compliance.collectors.base import (
    CollectContext,
    CollectorSpec,
    RequestCounter,
    all_collectors,
    failure_from_exception,
)
from cloudwarden.compliance.inventory import GLOBAL, CollectionFailure, Inventory
from cloudwarden.errors import AwsError


@dataclass(frozen=True)
class ProgressEvent:
    """What the CLI needs to draw progress bars. Kinds:
    accounts (total = number of accounts), account_start, collect (done/total collector tasks of one
    account, label = "service@region"), checks (done/total checks of one account), account_done,
    account_failed (label = reason)."""

    kind: str
    account_id: str = ""
    done: int = 0
    total: int = 0
    label: str = ""


ProgressFn = Callable[[ProgressEvent], None]


@dataclass
class ScanOptions:
    profile: str | None = None
    endpoint_url: str | None = None
    regions: list[str] = field(default_factory=list)  # empty: every enabled region
    org_role: str | None = None  # set: scan every member account of the Organization through this role
    max_workers: int = 16  # API calls in flight at once, across all accounts
    account_workers: int = 4  # accounts scanned at once (each holds one Inventory in memory)
    framework: str | None = None  # "cis-7.0" / "cis-5.0" / "cis-3.0" keeps only checks mapped to it
    check_ids: set[str] | None = None  # explicit check selection (after the framework filter)
    services: set[str] | None = None  # restrict collectors (tests, benchmarks); None = all
    keep_results: bool = True  # False: results only go to on_account (bounded memory for huge scans)


@dataclass(frozen=True)
class AccountFailure:
    """A collection failure with the account it happened in."""

    account_id: str
    failure: CollectionFailure

    @property
    def reason(self) -> str:
        return f"{self.account_id}: {self.failure.reason}"


@dataclass
class AccountSummary:
    account_id: str
    name: str = ""
    status: str = "scanned"  # scanned | failed
    error: str = ""
    regions: list[str] = field(default_factory=list)
    results: int = 0
    failed_checks: int = 0


@dataclass
class ScanRun:
    scan_id: str
    started_at: datetime
    finished_at: datetime | None = None
    scope: str = "account"  # account | organization
    scope_id: str = ""  # the account id, or the Organization's management account id
    caller_arn: str = ""
    framework: str | None = None
    accounts: list[AccountSummary] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    results: list[CheckResult] = field(default_factory=list)
    failures: list[AccountFailure] = field(default_factory=list)
    checks: dict[str, CheckMeta] = field(default_factory=dict)  # metadata of every check that ran
    api_requests: int = 0
    api_calls: dict[str, int] = field(default_factory=dict)  # "service:Operation" -> count

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for r in self.results:
            out[r.status.value] += 1
        return out

    @property
    def has_failures(self) -> bool:
        """True when any control failed: the CLI's exit code for CI jobs."""
        return any(r.status is Status.FAIL for r in self.results)


AccountCallback = Callable[[AccountSummary, list[CheckResult]], None]


def select_checks(checks: dict[str, Check], framework: str | None = None, check_ids: set[str] | None = None) -> list[Check]:
    """Checks to run. A CIS framework keeps the checks mapped to that version; other frameworks map
    onto the same checks in frameworks/, so they run them all and the report layer picks."""
    out = list(checks.values())
    if framework:
        fw = framework.lower().replace("_", "-")
        if fw.startswith("cis-"):
            version = fw.removeprefix("cis-").removeprefix("v")
            if version.count(".") > 1:  # "7.0.0" -> "7.0"
                version = ".".join(version.split(".")[:2])
            out = [c for c in out if c.meta.cis.get(version)]
    if check_ids is not None:
        out = [c for c in out if c.meta.id in check_ids]
    return sorted(out, key=lambda c: c.meta.id)


def _collector_tasks(collectors: Sequence[CollectorSpec], regions: Sequence[str]) -> list[tuple[CollectorSpec, str]]:
    tasks: list[tuple[CollectorSpec, str]] = []
    for spec in collectors:
        if spec.regional:
            tasks.extend((spec, r) for r in regions)
        else:
            tasks.append((spec, GLOBAL))
    return tasks


def _run_collector(spec: CollectorSpec, region: str, inv: Inventory, session: AwsSession) -> None:
    clients: dict[tuple[str, str], Any] = {}

    def client_for(service: str, where: str) -> Any:
        found = clients.get((service, where))
        if found is None:
            found = clients[(service, where)] = session.new_client(service, where)
        return found

    ctx = CollectContext(inventory=inv, region=region, client_factory=client_for, service=spec.service)
    try:
        spec.fn(ctx)
    except Exception as exc:  # noqa: BLE001 - one collector's bug or outage must not stop the scan
        # Recorded under "*" so every key this collector owns in this region reports why it is missing.
        failure = failure_from_exception(spec.service, region, f"collector:{spec.service}", exc)
        if failure.code == "Error":
            tb = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            where = f" at {tb[0].filename.rsplit('/', 1)[-1]}:{tb[0].lineno}" if tb else ""
            failure = CollectionFailure(failure.service, region, failure.operation, "Error",
                                        f"{type(exc).__name__}: {exc}{where}")
        inv.failures[(spec.service, region, "*")] = failure
    finally:
        clients.clear()  # this task's clients (and their connection pools) go with it


def _evaluate(check: Check, inv: Inventory) -> list[CheckResult]:
    try:
        return check.evaluate(inv)
    except Exception as exc:  # noqa: BLE001 - a check bug or malformed data is NOT_EVALUATED, never a crash or pass
        return [
            CheckResult(
                Status.NOT_EVALUATED,
                f"arn:{inv.partition}:{check.meta.service}::{inv.account_id}:",
                f"check could not evaluate the collected data: {type(exc).__name__}: {exc}",
                GLOBAL,
                check.meta.resource_type,
                check_id=check.meta.id,
                account_id=inv.account_id,
            )
        ]


def _regional_services(collectors: Sequence[CollectorSpec]) -> set[str]:
    return {c.service for c in collectors if c.regional}


def collect_inventory(
    session: AwsSession,
    account_id: str,
    regions: Sequence[str],
    *,
    collectors: Sequence[CollectorSpec],
    pool: ThreadPoolExecutor,
    partition: str = "aws",
    progress: ProgressFn | None = None,
) -> Inventory:
    """Run every collector once per (service, region) on `pool` and return the filled Inventory."""
    inv = Inventory(account_id=account_id, partition=partition, regions=list(regions))
    tasks = _collector_tasks(collectors, regions)
    futures: list[Future[None]] = [pool.submit(_run_collector, spec, region, inv, session) for spec, region in tasks]
    done = 0
    if progress:
        progress(ProgressEvent("collect", account_id, 0, len(futures)))
    pending = set(futures)
    while pending:
        finished, pending = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED")
        done += len(finished)
        if progress and finished:
            progress(ProgressEvent("collect", account_id, done, len(futures)))
    return inv


def scan_account(
    session: AwsSession,
    account_id: str,
    regions: RegionSet,
    *,
    collectors: Sequence[CollectorSpec],
    checks: Sequence[Check],
    pool: ThreadPoolExecutor,
    partition: str = "aws",
    progress: ProgressFn | None = None,
) -> tuple[list[CheckResult], list[CollectionFailure]]:
    """Collect one account's inventory concurrently on `pool`, run every check, return (results,
    failures). The inventory is local to this call and freed when it returns."""
    inv = collect_inventory(session, account_id, regions.enabled, collectors=collectors, pool=pool,
                            partition=partition, progress=progress)
    results: list[CheckResult] = []
    regional_services = _regional_services(collectors)
    for i, chk in enumerate(checks, 1):
        results.extend(_evaluate(chk, inv))
        # A region the user asked for but that is not enabled cannot pass a regional check.
        if chk.meta.service in regional_services:
            for region in regions.disabled_requested:
                results.append(
                    CheckResult(
                        Status.NOT_EVALUATED,
                        inv.arn(chk.meta.service, region, ""),
                        f"region {region} is disabled (opt-in required) or unknown for account {account_id}",
                        region,
                        chk.meta.resource_type,
                        check_id=chk.meta.id,
                        account_id=account_id,
                    )
                )
        if progress and (i % 10 == 0 or i == len(checks)):
            progress(ProgressEvent("checks", account_id, i, len(checks)))
    failures = list(inv.failures.values())
    for region in regions.disabled_requested:
        failures.append(CollectionFailure("ec2", region, "DescribeRegions", "RegionDisabled",
                                          f"region {region} is not enabled for this account"))
    return results, failures


def _unreachable_results(account_id: str, partition: str, checks: Sequence[Check], error: str) -> list[CheckResult]:
    """An account that could not be scanned shows every check NOT_EVALUATED with why, in every report."""
    return [
        CheckResult(Status.NOT_EVALUATED, f"arn:{partition}:iam::{account_id}:root", f"account not scanned: {error}",
                    GLOBAL, c.meta.resource_type, check_id=c.meta.id, account_id=account_id)
        for c in checks
    ]


def _partition_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def scan(
    options: ScanOptions,
    progress: ProgressFn | None = None,
    on_account: AccountCallback | None = None,
) -> ScanRun:
    """Scan one account or a whole Organization. Raises CredentialsError when the starting credentials
    do not work; every other failure is recorded on the returned ScanRun."""
    counter = RequestCounter()
    root = AwsSession(profile=options.profile, endpoint_url=options.endpoint_url,
                      max_workers=options.max_workers, counter=counter)
    ident = root.caller_identity()
    partition = _partition_of(ident.arn)
    run = ScanRun(
        scan_id=str(uuid.uuid4()),
        started_at=datetime.now(UTC),
        scope="organization" if options.org_role else "account",
        scope_id=ident.account_id,
        caller_arn=ident.arn,
        framework=options.framework,
    )
    collectors = [c for name, c in sorted(all_collectors().items()) if options.services is None or name in options.services]
    checks = select_checks(all_checks(), options.framework, options.check_ids)
    run.checks = {c.meta.id: c.meta for c in checks}

    if options.org_role:
        try:
            org_accounts = list_accounts(root)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise AwsError(f"cannot list the Organization's accounts: {exc}", source="organizations:ListAccounts") from exc
    else:
        org_accounts = [OrgAccount(ident.account_id, "", "ACTIVE")]
    if progress:
        progress(ProgressEvent("accounts", total=len(org_accounts)))

    lock = threading.Lock()
    all_regions: set[str] = set()

    def guarded(acct: OrgAccount, pool: ThreadPoolExecutor) -> None:
        try:
            one_account(acct, pool)
        except Exception as exc:  # noqa: BLE001 - one account's unexpected error must not end an Organization scan
            error = f"scan of this account stopped: {type(exc).__name__}: {exc}"
            summary = AccountSummary(acct.account_id, acct.name, "failed", error)
            results = _unreachable_results(acct.account_id, partition, checks, error)
            with lock:
                run.accounts.append(summary)
                if options.keep_results:
                    run.results.extend(results)
            if progress:
                progress(ProgressEvent("account_failed", acct.account_id, label=error))
            if on_account is not None:
                on_account(summary, results)

    def one_account(acct: OrgAccount, pool: ThreadPoolExecutor) -> None:
        summary = AccountSummary(acct.account_id, acct.name)
        if progress:
            progress(ProgressEvent("account_start", acct.account_id, label=acct.name))
        if options.org_role:
            access = assume_into(root, acct, options.org_role, own_account=ident.account_id, partition=partition)
            session, error = access.session, access.error
        else:
            session, error = root, ""
        results: list[CheckResult] = []
        failures: list[CollectionFailure] = []
        if session is not None:
            try:
                regions = discover_regions(session.client("ec2"), options.regions)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                if options.regions:
                    # Cannot list regions (e.g. AccessDenied on ec2:DescribeRegions): trust the user's list.
                    regions = RegionSet(list(options.regions))
                    failures.append(failure_from_exception("ec2", GLOBAL, "DescribeRegions", exc))
                else:
                    session, error = None, f"cannot discover enabled regions (ec2:DescribeRegions): {exc}"
        if session is None:
            summary.status, summary.error = "failed", error
            results = _unreachable_results(acct.account_id, partition, checks, error)
            summary.results = len(results)
            if progress:
                progress(ProgressEvent("account_failed", acct.account_id, label=error))
        else:
            summary.regions = list(regions.enabled)
            results, more = scan_account(session, acct.account_id, regions, collectors=collectors, checks=checks,
                                         pool=pool, partition=partition, progress=progress)
            failures.extend(more)
            summary.results = len(results)
            summary.failed_checks = sum(1 for r in results if r.status is Status.FAIL)
            if progress:
                progress(ProgressEvent("account_done", acct.account_id, summary.results, summary.results))
        with lock:
            run.accounts.append(summary)
            all_regions.update(summary.regions)
            run.failures.extend(AccountFailure(acct.account_id, f) for f in failures)
            if options.keep_results:
                run.results.extend(results)
        if on_account is not None:
            on_account(summary, results)

    with ThreadPoolExecutor(max_workers=max(1, options.max_workers), thread_name_prefix="cw-collect") as pool:
        if len(org_accounts) == 1:
            guarded(org_accounts[0], pool)
        else:
            with ThreadPoolExecutor(max_workers=max(1, options.account_workers), thread_name_prefix="cw-account") as accts:
                for fut in [accts.submit(guarded, a, pool) for a in org_accounts]:
                    fut.result()

    run.accounts.sort(key=lambda a: a.account_id)
    run.regions = sorted(all_regions)
    run.finished_at = datetime.now(UTC)
    run.api_calls = dict(counter.calls)
    run.api_requests = counter.total
    return run


def scan_summary_line(run: ScanRun) -> str:
    c = run.counts()
    return (f"{len(run.accounts)} account(s), {len(run.regions)} region(s), {len(run.results)} results: "
            f"{c['PASS']} pass, {c['FAIL']} fail, {c['NOT_EVALUATED']} not evaluated; {run.api_requests} API requests")


__all__ = [
    "AccountFailure",
    "AccountSummary",
    "ProgressEvent",
    "ScanOptions",
    "ScanRun",
    "scan",
    "scan_account",
    "select_checks",
]

