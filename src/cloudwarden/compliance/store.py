"""Stored compliance scans: every scan with its results, so reports can be regenerated and drift shown.

Tables (on the shared `store.state.Base`):
- compliance_scans: one row per scan; `scope_key` (accounts + regions + frameworks) groups comparable scans;
  the metadata of every check that ran is kept with the scan so an old report renders the same after
  the checks evolve.
- compliance_results: one row per (check, resource) result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, delete, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from cloudwarden.compliance.checks.base import CheckMeta, CheckResult, Status
from cloudwarden.compliance.results import ScanRecord, result_uid
from cloudwarden.errors import StoreError
from cloudwarden.store.state import Base, StateStore

_INSERT_CHUNK = 2000


class ComplianceScanRow(Base):
    __tablename__ = "compliance_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scan_uid: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    scope_key: Mapped[str] = mapped_column(String(2000), index=True)
    accounts: Mapped[str] = mapped_column(Text)  # JSON list
    regions: Mapped[str] = mapped_column(Text)  # JSON list
    frameworks: Mapped[str] = mapped_column(Text)  # JSON list
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    passed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    not_evaluated: Mapped[int] = mapped_column(Integer, default=0)
    api_requests: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    checks: Mapped[str] = mapped_column(Text, default="{}")  # JSON: check id -> CheckMeta fields


class ComplianceResultRow(Base):
    __tablename__ = "compliance_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("compliance_scans.id", ondelete="CASCADE"), index=True)
    uid: Mapped[str] = mapped_column(String(64), index=True)
    check_id: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(64))
    resource_arn: Mapped[str] = mapped_column(Text)
    resource_type: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="{}")


@dataclass(frozen=True)
class ScanSummary:
    id: int
    scan_uid: str
    scope_key: str
    accounts: list[str]
    regions: list[str]
    frameworks: list[str]
    started_at: datetime
    finished_at: datetime
    passed: int
    failed: int
    not_evaluated: int


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _meta_to_dict(m: CheckMeta) -> dict[str, Any]:
    d = dataclasses.asdict(m)
    d["references"] = list(m.references)
    return d


def _meta_from_dict(d: dict[str, Any]) -> CheckMeta:
    known = {f.name for f in dataclasses.fields(CheckMeta)}
    kw = {k: v for k, v in d.items() if k in known}
    kw["references"] = tuple(kw.get("references", ()))
    return CheckMeta(**kw)


def _aware(dt: datetime) -> datetime:
    # SQLite drops the timezone; everything we store is UTC.
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _summary(row: ComplianceScanRow) -> ScanSummary:
    return ScanSummary(
        id=row.id,
        scan_uid=row.scan_uid,
        scope_key=row.scope_key,
        accounts=orjson.loads(row.accounts),
        regions=orjson.loads(row.regions),
        frameworks=orjson.loads(row.frameworks),
        started_at=_aware(row.started_at),
        finished_at=_aware(row.finished_at),
        passed=row.passed,
        failed=row.failed,
        not_evaluated=row.not_evaluated,
    )


class ScanStore:
    def __init__(self, state: StateStore) -> None:
        self.state = state

    def save(self, scan: ScanRecord) -> int:
        """Store a scan and its results; returns its id (also set on `scan.stored_id`)."""
        counts = scan.counts()
        with self.state.session() as s:
            if s.scalar(select(ComplianceScanRow.id).where(ComplianceScanRow.scan_uid == scan.scan_id)) is not None:
                raise StoreError(f"scan {scan.scan_id} is already stored", source="compliance_scans")
            row = ComplianceScanRow(
                scan_uid=scan.scan_id,
                scope_key=scan.scope_key,
                accounts=_json(scan.accounts),
                regions=_json(scan.regions),
                frameworks=_json(scan.frameworks),
                started_at=scan.started_at,
                finished_at=scan.finished_at,
                passed=counts[Status.PASS],
                failed=counts[Status.FAIL],
                not_evaluated=counts[Status.NOT_EVALUATED],
                api_requests=scan.api_requests,
                errors=_json(scan.errors),
                checks=_json({k: _meta_to_dict(m) for k, m in scan.checks.items()}),
            )
            s.add(row)
            s.flush()
            scan_pk = row.id
            batch: list[dict[str, Any]] = []
            for r in scan.results:
                batch.append(
                    {
                        "scan_id": scan_pk,
                        "uid": result_uid(r),
                        "check_id": r.check_id,
                        "account_id": r.account_id,
                        "region": r.region,
                        "resource_arn": r.resource_arn,
                        "resource_type": r.resource_type,
                        "status": r.status.value,
                        "reason": r.reason,
                        "details": _json(r.details),
                    }
                )
                if len(batch) >= _INSERT_CHUNK:
                    s.execute(insert(ComplianceResultRow), batch)
                    batch = []
            if batch:
                s.execute(insert(ComplianceResultRow), batch)
        scan.stored_id = scan_pk
        return scan_pk

    def list(self, scope_key: str | None = None, limit: int = 50) -> list[ScanSummary]:
        """Newest first."""
        q = select(ComplianceScanRow).order_by(ComplianceScanRow.id.desc()).limit(limit)
        if scope_key is not None:
            q = q.where(ComplianceScanRow.scope_key == scope_key)
        with self.state.session() as s:
            return [_summary(r) for r in s.scalars(q)]

    def _row(self, ref: int | str) -> ComplianceScanRow | None:
        with self.state.session() as s:
            if isinstance(ref, int) or (ref.isdigit() and len(ref) < 12):
                found = s.get(ComplianceScanRow, int(ref))
                if found is not None or isinstance(ref, int):
                    return found
            rows = list(s.scalars(select(ComplianceScanRow).where(ComplianceScanRow.scan_uid.startswith(ref)).limit(2)))
            if len(rows) > 1:
                raise StoreError(f"scan id prefix {ref!r} is ambiguous", source="compliance_scans")
            return rows[0] if rows else None

    def get(self, ref: int | str) -> ScanRecord:
        """A stored scan by numeric id, scan uid, or a unique uid prefix."""
        row = self._row(ref)
        if row is None:
            raise StoreError(f"no stored scan {ref!r}", source="compliance_scans")
        return self._load(row)

    def _load(self, row: ComplianceScanRow) -> ScanRecord:
        with self.state.session() as s:
            results = [
                CheckResult(
                    status=Status(r.status),
                    resource_arn=r.resource_arn,
                    reason=r.reason,
                    region=r.region,
                    resource_type=r.resource_type,
                    details=orjson.loads(r.details) if r.details else {},
                    check_id=r.check_id,
                    account_id=r.account_id,
                )
                for r in s.scalars(
                    select(ComplianceResultRow).where(ComplianceResultRow.scan_id == row.id).order_by(ComplianceResultRow.id)
                )
            ]
        checks = {k: _meta_from_dict(v) for k, v in orjson.loads(row.checks).items()}
        return ScanRecord(
            results=results,
            checks=checks,
            accounts=orjson.loads(row.accounts),
            regions=orjson.loads(row.regions),
            frameworks=orjson.loads(row.frameworks),
            started_at=_aware(row.started_at),
            finished_at=_aware(row.finished_at),
            scan_id=row.scan_uid,
            errors=orjson.loads(row.errors),
            api_requests=row.api_requests,
            scope=row.scope_key,
            stored_id=row.id,
        )

    def latest(self, scope_key: str | None = None) -> ScanRecord | None:
        rows = self.list(scope_key, limit=1)
        return self.get(rows[0].id) if rows else None

    def previous(self, scan: ScanRecord) -> ScanRecord | None:
        """The newest stored scan of the same scope made before `scan` (excluding `scan` itself)."""
        q = select(ComplianceScanRow).where(ComplianceScanRow.scope_key == scan.scope_key)
        if scan.stored_id is not None:
            q = q.where(ComplianceScanRow.id < scan.stored_id)
        q = q.where(ComplianceScanRow.scan_uid != scan.scan_id).order_by(ComplianceScanRow.id.desc()).limit(1)
        with self.state.session() as s:
            row = s.scalars(q).first()
        return self._load(row) if row is not None else None

    def delete(self, ref: int | str) -> None:
        row = self._row(ref)
        if row is None:
            raise StoreError(f"no stored scan {ref!r}", source="compliance_scans")
        with self.state.session() as s:
            s.execute(delete(ComplianceResultRow).where(ComplianceResultRow.scan_id == row.id))
            s.execute(delete(ComplianceScanRow).where(ComplianceScanRow.id == row.id))

    def iter_summaries(self) -> Iterator[ScanSummary]:
        yield from self.list(limit=1_000_000)

    def prune(self, keep: int) -> int:
        """Keep the newest `keep` scans of every scope (at least 1, so drift always has a base);
        returns how many scans were deleted."""
        keep = max(1, keep)
        with self.state.session() as s:
            rows = s.execute(select(ComplianceScanRow.id, ComplianceScanRow.scope_key).order_by(ComplianceScanRow.id.desc())).all()
        seen: dict[str, int] = {}
        doomed: list[int] = []
        for scan_id, scope in rows:
            seen[scope] = seen.get(scope, 0) + 1
            if seen[scope] > keep:
                doomed.append(scan_id)
        with self.state.session() as s:
            for i in range(0, len(doomed), 500):
                chunk = doomed[i : i + 500]
                s.execute(delete(ComplianceResultRow).where(ComplianceResultRow.scan_id.in_(chunk)))
                s.execute(delete(ComplianceScanRow).where(ComplianceScanRow.id.in_(chunk)))
        return len(doomed)
