"""Current compliance posture per (account, check, resource), what changed and when, and score history.

Full scans replace the posture of every check they ran; live re-evaluations after a CloudTrail change
replace only the checks they ran in the regions they covered. Every status change is recorded with its
cause (the scan, or the CloudTrail call and who made it), which the Posture page shows as "changes".
Scores are recomputed after each update and kept as a time series per framework and section.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, Index, Integer, String, Text, UniqueConstraint, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from cloudwarden.server.auth_store import now
from cloudwarden.store.state import Base, StateStore
from cloudwarden.store.text_match import LIKE_ESCAPE, contains_pattern

GLOBAL = "global"


class PostureRow(Base):
    __tablename__ = "cw_posture"
    __table_args__ = (UniqueConstraint("account", "check_id", "resource_arn", name="uq_cw_posture"),
                      Index("ix_cw_posture_status", "status", "severity"),
                      # the posture page lists the first failing resources of each failing control
                      Index("ix_cw_posture_check_status", "check_id", "status", "resource_arn"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(32), index=True)
    check_id: Mapped[str] = mapped_column(String(128), index=True)
    resource_arn: Mapped[str] = mapped_column(String(1024))
    region: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16), default="medium")
    service: Mapped[str] = mapped_column(String(64), default="")
    title: Mapped[str] = mapped_column(String(512), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    remediation: Mapped[str] = mapped_column(Text, default="")
    controls: Mapped[str] = mapped_column(Text, default="")  # "cis-7.0:2.1.4 cis-5.0:..." for section scores
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    changed_at: Mapped[datetime] = mapped_column(DateTime)
    cause: Mapped[str] = mapped_column(Text, default="")


class PostureChangeRow(Base):
    __tablename__ = "cw_posture_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime, index=True)
    account: Mapped[str] = mapped_column(String(32))
    check_id: Mapped[str] = mapped_column(String(128))
    resource_arn: Mapped[str] = mapped_column(String(1024))
    old_status: Mapped[str] = mapped_column(String(16))
    new_status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16), default="medium")
    title: Mapped[str] = mapped_column(String(512), default="")
    cause: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="scan")  # scan | live


class ScoreRow(Base):
    __tablename__ = "cw_score_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime, index=True)
    framework: Mapped[str] = mapped_column(String(64))
    section: Mapped[str] = mapped_column(String(64))  # "" = the framework as a whole
    passed: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class Result:
    """One check result as the posture store needs it (built from CheckResult + CheckMeta)."""

    account: str
    check_id: str
    resource_arn: str
    region: str
    status: str
    reason: str
    severity: str = "medium"
    service: str = ""
    title: str = ""
    remediation: str = ""
    controls: str = ""


@dataclass(frozen=True)
class Change:
    account: str
    check_id: str
    resource_arn: str
    old_status: str  # "" when the resource is new
    new_status: str  # "REMOVED" when the resource is gone
    severity: str
    title: str
    reason: str
    cause: str
    region: str = GLOBAL

    @property
    def new_failure(self) -> bool:
        return self.new_status == "FAIL" and self.old_status != "FAIL"


@functools.lru_cache(maxsize=1)
def _frameworks() -> tuple[Any, ...]:
    try:
        from cloudwarden.compliance.frameworks import load_all

        return tuple(load_all().values())
    except Exception:  # noqa: BLE001 - without framework files, scores fall back to the checks' CIS ids
        return ()


def controls_of(meta: Any) -> str:
    """Space-separated "framework|section|control" tokens for every framework control this check evaluates."""
    cis: dict[str, list[str]] = getattr(meta, "cis", {}) or {}
    tokens: list[str] = []
    fws = _frameworks()
    for fw in fws:
        mine = set(cis.get(fw.cis_version, []))
        if not mine:
            continue
        for c in fw.controls:
            targets = c.cis_7_0 if fw.kind == "mapping" else (c.id,)
            if mine.intersection(targets):
                tokens.append(f"{fw.id}|{c.section}|{c.id}".replace(" ", "_"))
    if not fws:
        tokens = [f"cis-{ver}|{cid.split('.')[0]}|{cid}" for ver, ids in sorted(cis.items()) for cid in ids]
    return " ".join(tokens)


def _parse_token(token: str) -> tuple[str, str]:
    """(framework, section) of a controls token; "fw:control" is accepted too (section = first number)."""
    if "|" in token:
        fw, section, _cid = [*token.split("|"), "", ""][:3]
        return fw, section
    fw, _, cid = token.partition(":")
    return fw, cid.split(".")[0]


def result_from(check_result: Any, meta: Any) -> Result:
    status = getattr(check_result.status, "value", str(check_result.status))
    return Result(
        account=check_result.account_id, check_id=check_result.check_id, resource_arn=check_result.resource_arn,
        region=check_result.region or GLOBAL, status=str(status), reason=check_result.reason,
        severity=getattr(meta, "severity", "medium"), service=getattr(meta, "service", ""),
        title=getattr(meta, "title", check_result.check_id), remediation=getattr(meta, "remediation", ""),
        controls=controls_of(meta),
    )


class PostureStore:
    """Scores and counts are cached briefly (and dropped on every update): the posture page reads them on
    every view, and grouping 10,000+ results each time is wasted work."""

    CACHE_TTL_S = 15.0

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self._cache: dict[str, tuple[float, Any]] = {}

    def _cached(self, name: str, compute: Any) -> Any:
        hit = self._cache.get(name)
        if hit is not None and time.monotonic() - hit[0] < self.CACHE_TTL_S:
            return hit[1]
        value = compute()
        self._cache[name] = (time.monotonic(), value)
        return value

    def apply(self, results: Iterable[Result], *, account: str, checks: Iterable[str], cause: str, kind: str = "scan",
              regions: Iterable[str] | None = None) -> list[Change]:
        """Replace the posture of `checks` in `account` (limited to `regions` when given) with `results`."""
        results = list(results)
        check_set = set(checks) | {r.check_id for r in results}
        region_set = set(regions) if regions is not None else None
        changes: list[Change] = []
        t = now()
        with self.state.session() as s:
            existing: dict[tuple[str, str], PostureRow] = {}
            for chunk in _chunks(sorted(check_set), 500):
                for prow in s.scalars(select(PostureRow).where(PostureRow.account == account, PostureRow.check_id.in_(chunk))):
                    if region_set is None or prow.region in region_set:
                        existing[(prow.check_id, prow.resource_arn)] = prow
            seen: set[tuple[str, str]] = set()
            for r in results:
                key = (r.check_id, r.resource_arn)
                if key in seen:
                    continue
                seen.add(key)
                row = existing.get(key)
                if row is None:
                    row = s.scalar(select(PostureRow).where(PostureRow.account == account, PostureRow.check_id == r.check_id,
                                                            PostureRow.resource_arn == r.resource_arn))
                if row is None:
                    s.add(PostureRow(account=account, check_id=r.check_id, resource_arn=r.resource_arn, region=r.region,
                                     status=r.status, severity=r.severity, service=r.service, title=r.title, reason=r.reason,
                                     remediation=r.remediation, controls=r.controls, updated_at=t, changed_at=t, cause=cause))
                    changes.append(Change(account, r.check_id, r.resource_arn, "", r.status, r.severity, r.title, r.reason, cause, r.region))
                    continue
                if row.status != r.status:
                    changes.append(Change(account, r.check_id, r.resource_arn, row.status, r.status, r.severity, r.title, r.reason, cause, r.region))
                    row.changed_at = t
                    row.cause = cause
                row.status, row.reason, row.region, row.updated_at = r.status, r.reason, r.region, t
                row.severity, row.title, row.service = r.severity, r.title, r.service
                row.remediation, row.controls = r.remediation, r.controls
            for key, row in existing.items():
                if key not in seen and row.check_id in check_set:
                    changes.append(Change(account, row.check_id, row.resource_arn, row.status, "REMOVED", row.severity, row.title,
                                          "resource no longer present", cause, row.region))
                    s.delete(row)
            for c in changes:
                # a first scan adds every row: recording each as a "change" would bury real changes
                if c.old_status == "" and kind == "scan":
                    continue
                s.add(PostureChangeRow(time=t, account=c.account, check_id=c.check_id, resource_arn=c.resource_arn,
                                       old_status=c.old_status, new_status=c.new_status, severity=c.severity, title=c.title,
                                       cause=cause, kind=kind))
        self._cache.clear()
        self.snapshot_scores()
        return changes

    # reading ----------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        def compute() -> dict[str, int]:
            with self.state.session() as s:
                return {st: int(n) for st, n in s.execute(select(PostureRow.status, func.count()).group_by(PostureRow.status))}

        return dict(self._cached("counts", compute))

    def scores(self) -> list[dict[str, Any]]:
        """Per framework and section: passed/failed counts and the score (passed share, percent)."""
        return list(self._cached("scores", self._scores))

    def _scores(self) -> list[dict[str, Any]]:
        agg: dict[tuple[str, str], list[int]] = {}
        with self.state.session() as s:
            q = select(PostureRow.controls, PostureRow.status, func.count()).where(PostureRow.status.in_(("PASS", "FAIL"))) \
                .group_by(PostureRow.controls, PostureRow.status)
            for controls, status, n in s.execute(q):
                for token in (controls or "").split():
                    fw, sec = _parse_token(token)
                    for section in ("", sec):
                        slot = agg.setdefault((fw, section), [0, 0])
                        slot[0 if status == "PASS" else 1] += int(n)
        out = []
        for (fw, section), (p, f) in sorted(agg.items()):
            out.append({"framework": fw, "section": section, "passed": p, "failed": f,
                        "score": round(100.0 * p / (p + f), 1) if p + f else 100.0})
        return out

    def snapshot_scores(self) -> None:
        t = now()
        rows = self._scores()
        with self.state.session() as s:
            for r in rows:
                s.add(ScoreRow(time=t, framework=r["framework"], section=r["section"], passed=r["passed"], failed=r["failed"], score=r["score"]))

    def score_history(self, framework: str, section: str = "", limit: int = 200) -> list[dict[str, Any]]:
        with self.state.session() as s:
            q = select(ScoreRow).where(ScoreRow.framework == framework, ScoreRow.section == section).order_by(ScoreRow.id.desc()).limit(limit)
            rows = list(s.scalars(q))
        return [{"time": r.time.isoformat(), "score": r.score, "passed": r.passed, "failed": r.failed} for r in reversed(rows)]

    def frameworks(self) -> list[str]:
        return sorted({r["framework"] for r in self.scores()})

    def findings(self, *, status: str | None = None, severity: str | None = None, account: str | None = None,
                 check_id: str | None = None, service: str | None = None, region: str | None = None, q: str | None = None,
                 limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        sev_rank = {"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}
        with self.state.session() as s:
            stmt = select(PostureRow)
            conds = []
            if status:
                conds.append(PostureRow.status == status)
            if severity:
                conds.append(PostureRow.severity == severity)
            if account:
                conds.append(PostureRow.account == account)
            if check_id:
                conds.append(PostureRow.check_id == check_id)
            if service:
                conds.append(PostureRow.service == service)
            if region:
                conds.append(PostureRow.region == region)
            if q:
                like = contains_pattern(q)
                conds.append(PostureRow.resource_arn.like(like, escape=LIKE_ESCAPE)
                             | PostureRow.title.like(like, escape=LIKE_ESCAPE)
                             | PostureRow.check_id.like(like, escape=LIKE_ESCAPE))
            for c in conds:
                stmt = stmt.where(c)
            total = int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
            from sqlalchemy import case

            rank = case(sev_rank, value=PostureRow.severity, else_=5)
            rows = s.scalars(stmt.order_by(rank, PostureRow.check_id, PostureRow.resource_arn, PostureRow.id).limit(limit).offset(offset))
            return [_row_dict(r) for r in rows], total

    def failing_controls(self, limit: int = 50) -> list[dict[str, Any]]:
        """Failing checks with their failing resource count, worst first."""
        sev_rank = {"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}
        with self.state.session() as s:
            q = select(PostureRow.check_id, PostureRow.title, PostureRow.severity, PostureRow.remediation, func.count(),
                       func.max(PostureRow.changed_at)).where(PostureRow.status == "FAIL") \
                .group_by(PostureRow.check_id, PostureRow.title, PostureRow.severity, PostureRow.remediation)
            rows: list[dict[str, Any]] = [
                {"check_id": c, "title": t, "severity": sv, "remediation": rem, "resources": int(n), "changed_at": ch.isoformat() if ch else ""}
                for c, t, sv, rem, n, ch in s.execute(q)]
        rows.sort(key=lambda r: (sev_rank.get(str(r["severity"]), 5), -int(r["resources"]), str(r["check_id"])))
        return rows[:limit]

    def failing_resources(self, check_id: str, limit: int = 20) -> list[dict[str, Any]]:
        with self.state.session() as s:
            q = select(PostureRow).where(PostureRow.check_id == check_id, PostureRow.status == "FAIL").order_by(PostureRow.resource_arn).limit(limit)
            return [_row_dict(r) for r in s.scalars(q)]

    def changes(self, limit: int = 50, offset: int = 0, since: datetime | None = None) -> list[dict[str, Any]]:
        with self.state.session() as s:
            q = select(PostureChangeRow).order_by(PostureChangeRow.id.desc()).limit(limit).offset(offset)
            if since is not None:
                q = q.where(PostureChangeRow.time >= since)
            return [{"id": r.id, "time": r.time.isoformat(), "account": r.account, "check_id": r.check_id,
                     "resource_arn": r.resource_arn, "old_status": r.old_status, "new_status": r.new_status,
                     "severity": r.severity, "title": r.title, "cause": r.cause, "kind": r.kind}
                    for r in s.scalars(q)]

    def get(self, account: str, check_id: str, resource_arn: str) -> dict[str, Any] | None:
        with self.state.session() as s:
            row = s.scalar(select(PostureRow).where(PostureRow.account == account, PostureRow.check_id == check_id,
                                                    PostureRow.resource_arn == resource_arn))
            return _row_dict(row) if row else None

    def clear(self) -> None:
        with self.state.session() as s:
            s.execute(delete(PostureRow))


def _row_dict(r: PostureRow) -> dict[str, Any]:
    return {"account": r.account, "check_id": r.check_id, "resource_arn": r.resource_arn, "region": r.region,
            "status": r.status, "severity": r.severity, "service": r.service, "title": r.title, "reason": r.reason,
            "remediation": r.remediation, "controls": r.controls.split(), "updated_at": r.updated_at.isoformat(),
            "changed_at": r.changed_at.isoformat(), "cause": r.cause}


def _chunks(items: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def summary(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[str(r["status"])] = out.get(str(r["status"]), 0) + 1
    return out
