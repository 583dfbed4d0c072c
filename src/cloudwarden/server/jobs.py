"""A durable job queue in the state database, so a restart never loses queued work.

Jobs move queued -> running -> done | failed. A worker claims one job with a conditional UPDATE (only the
worker whose UPDATE changed the row owns it), which is safe on SQLite and PostgreSQL alike. On start the
server puts jobs left `running` by a crash back to `queued`. `dedupe` keeps a periodic job from piling up
while an identical one is still waiting.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from cloudwarden.server.auth_store import now
from cloudwarden.store.state import Base, StateStore

MAX_ATTEMPTS = 3


class JobRow(Base):
    __tablename__ = "cw_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[str] = mapped_column(Text, default="{}")
    dedupe: Mapped[str] = mapped_column(String(255), default="", index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    result: Mapped[str] = mapped_column(Text, default="")


class ScheduleRow(Base):
    """When each periodic task last ran, so a restart does not re-run everything at once."""

    __tablename__ = "cw_schedule"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_run: Mapped[datetime] = mapped_column(DateTime)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


class JobQueue:
    def __init__(self, state: StateStore) -> None:
        self.state = state

    def enqueue(self, kind: str, payload: dict[str, Any] | None = None, *, dedupe: str = "", delay_s: float = 0) -> int | None:
        """Queue a job; returns its id, or None when `dedupe` matches a job still queued."""
        with self.state.session() as s:
            if dedupe:
                existing = s.scalar(select(JobRow.id).where(JobRow.dedupe == dedupe, JobRow.status == "queued"))
                if existing is not None:
                    return None
            row = JobRow(kind=kind, payload=json.dumps(payload or {}), dedupe=dedupe, status="queued", attempts=0,
                         not_before=now() + timedelta(seconds=delay_s), created_at=now(), result="")
            s.add(row)
            s.flush()
            return row.id

    def claim(self) -> Job | None:
        for _ in range(5):  # another worker may win the race for the same row; try the next one
            with self.state.session() as s:
                row = s.scalar(select(JobRow).where(JobRow.status == "queued", JobRow.not_before <= now()).order_by(JobRow.id).limit(1))
                if row is None:
                    return None
                res = s.execute(update(JobRow).where(JobRow.id == row.id, JobRow.status == "queued")
                                .values(status="running", started_at=now(), attempts=JobRow.attempts + 1))
                if getattr(res, "rowcount", 0) == 1:
                    return Job(row.id, row.kind, json.loads(row.payload or "{}"), row.attempts + 1)
        return None

    def finish(self, job_id: int, result: str = "") -> None:
        with self.state.session() as s:
            s.execute(update(JobRow).where(JobRow.id == job_id).values(status="done", finished_at=now(), result=result[:4000]))

    def fail(self, job: Job, error: str) -> None:
        """Retry with backoff up to MAX_ATTEMPTS, then mark failed with the error."""
        with self.state.session() as s:
            if job.attempts < MAX_ATTEMPTS:
                s.execute(update(JobRow).where(JobRow.id == job.id).values(
                    status="queued", result=error[:4000], not_before=now() + timedelta(seconds=5 * 2 ** job.attempts)))
            else:
                s.execute(update(JobRow).where(JobRow.id == job.id).values(status="failed", finished_at=now(), result=error[:4000]))

    def requeue_interrupted(self) -> int:
        with self.state.session() as s:
            res = s.execute(update(JobRow).where(JobRow.status == "running").values(status="queued"))
            return int(getattr(res, "rowcount", 0) or 0)

    def depth(self) -> dict[str, int]:
        with self.state.session() as s:
            return {status: int(n) for status, n in s.execute(select(JobRow.status, func.count()).group_by(JobRow.status))}

    def list(self, limit: int = 50, offset: int = 0, status: str | None = None) -> list[dict[str, Any]]:
        with self.state.session() as s:
            q = select(JobRow).order_by(JobRow.id.desc()).limit(limit).offset(offset)
            if status:
                q = q.where(JobRow.status == status)
            return [{"id": r.id, "kind": r.kind, "payload": json.loads(r.payload or "{}"), "status": r.status,
                     "attempts": r.attempts, "created_at": r.created_at.isoformat(),
                     "finished_at": r.finished_at.isoformat() if r.finished_at else None, "result": r.result}
                    for r in s.scalars(q)]

    def due(self, name: str, interval_s: int) -> bool:
        """True (and records the run) when the periodic task `name` has not run within interval_s."""
        if interval_s <= 0:
            return False
        with self.state.session() as s:
            row = s.get(ScheduleRow, name)
            if row is not None and row.last_run > now() - timedelta(seconds=interval_s):
                return False
            if row is None:
                s.add(ScheduleRow(name=name, last_run=now()))
            else:
                row.last_run = now()
            return True

    def schedule(self) -> builtins.list[dict[str, Any]]:
        with self.state.session() as s:
            return [{"name": r.name, "last_run": r.last_run.isoformat()} for r in s.scalars(select(ScheduleRow).order_by(ScheduleRow.name))]
