"""A finished scan as reports and the scan store see it: metadata, per-(check, resource) results and the
metadata of every check that ran. Built from the runner's `ScanRun` (`from_run`) or from the store."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cloudwarden.compliance.checks.base import SEVERITIES, CheckMeta, CheckResult, Status

if TYPE_CHECKING:
    from cloudwarden.compliance.runner import ScanRun


def finding_uid(check_id: str, account_id: str, region: str, resource_arn: str) -> str:
    """Stable id of one (check, resource) finding: the same in every scan, so drift and Security Hub updates line up."""
    raw = f"{check_id}|{account_id}|{region}|{resource_arn}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def result_uid(r: CheckResult) -> str:
    return finding_uid(r.check_id, r.account_id, r.region, r.resource_arn)


def severity_rank(severity: str) -> int:
    """0 (informational) .. 4 (critical); unknown severities rank lowest."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def scope_key(accounts: Iterable[str], regions: Iterable[str], frameworks: Iterable[str]) -> str:
    """Scans are compared (drift) only with earlier scans of the same scope."""
    regs = sorted(set(regions)) or ["*"]
    return f"accounts={','.join(sorted(set(accounts)))};regions={','.join(regs)};frameworks={','.join(sorted(set(frameworks)))}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ScanRecord:
    results: list[CheckResult]
    checks: dict[str, CheckMeta]
    accounts: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    frameworks: list[str] = field(default_factory=lambda: ["cis-7.0"])
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime = field(default_factory=utcnow)
    scan_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    errors: list[str] = field(default_factory=list)  # account- or scan-level problems (e.g. AssumeRole denied)
    api_requests: int = 0
    scope: str = ""  # explicit scope key; derived from accounts/regions/frameworks when empty
    stored_id: int | None = None
    failure_counts: dict[str, int] = field(default_factory=dict)  # collection failures by code (not stored)

    @property
    def scope_key(self) -> str:
        return self.scope or scope_key(self.accounts, self.regions, self.frameworks)

    def meta(self, check_id: str) -> CheckMeta | None:
        return self.checks.get(check_id)

    def counts(self) -> dict[Status, int]:
        out = dict.fromkeys(Status, 0)
        for r in self.results:
            out[r.status] += 1
        return out


def from_run(run: ScanRun, frameworks: list[str], regions_requested: list[str] | None = None) -> ScanRecord:
    """Adapt the runner's ScanRun to a ScanRecord. The scope key uses the regions the user asked for
    ("*" = every enabled region) so a later scan with the same options is compared with this one."""
    errors = [f"account {a.account_id}: {a.error}" for a in run.accounts if a.status != "scanned" and a.error]
    accounts = [a.account_id for a in run.accounts] or ([run.scope_id] if run.scope_id else [])
    scope_accounts = [f"org:{run.scope_id}"] if run.scope == "organization" else accounts
    failure_counts: dict[str, int] = {}
    for f in run.failures:
        failure_counts[f.failure.code] = failure_counts.get(f.failure.code, 0) + 1
    return ScanRecord(
        results=list(run.results),
        checks=dict(run.checks),
        accounts=accounts,
        regions=list(run.regions),
        frameworks=list(frameworks),
        started_at=run.started_at,
        finished_at=run.finished_at or utcnow(),
        scan_id=run.scan_id.replace("-", ""),
        errors=errors,
        api_requests=run.api_requests,
        scope=scope_key(scope_accounts, regions_requested or [], frameworks),
        failure_counts=failure_counts,
    )
