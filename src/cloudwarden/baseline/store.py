"""Baseline persistence in the state database.

`baseline_state`: one row per baseline ("cloud", "host") holding its compact state (zlib-compressed JSON),
the lake watermark `cloudwarden baseline update` resumes from, and sizes for `baseline status`.
`baseline_findings`: every alert a baseline raised, with the behaviour items behind it, so `explain`
can show the evidence and `feedback` can teach exactly those items back.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, Float, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from cloudwarden.errors import StoreError
from cloudwarden.store.state import Base, StateStore


class BaselineStateRow(Base):
    __tablename__ = "baseline_state"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    raw_bytes: Mapped[int] = mapped_column(Integer, default=0)
    watermark: Mapped[float] = mapped_column(Float, default=0.0)  # largest event time read from the lake
    edge_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # ids read at exactly `watermark`
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class BaselineFindingRow(Base):
    __tablename__ = "baseline_findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)  # AlertStore id
    group_key: Mapped[str] = mapped_column(String(1024), index=True)
    source: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(1024), index=True)
    title: Mapped[str] = mapped_column(String(512))
    severity: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    explanation: Mapped[str] = mapped_column(Text)
    items: Mapped[list[list[str]]] = mapped_column(JSON)  # [[entity, item key], ...]
    members: Mapped[list[str]] = mapped_column(JSON)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    anomaly: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    feedback: Mapped[str | None] = mapped_column(String(32), nullable=True)  # expected-entity | expected-group
    feedback_by: Mapped[str | None] = mapped_column(String(256), nullable=True)
    feedback_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


@dataclass
class SavedState:
    name: str
    state: dict[str, Any]
    watermark: float
    edge_ids: list[str]
    stored_bytes: int
    raw_bytes: int
    updated_at: datetime


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


class BaselineStore:
    def __init__(self, state: StateStore) -> None:
        self.state = state

    def save(self, name: str, data: dict[str, Any], watermark: float, edge_ids: list[str]) -> int:
        raw = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
        packed = zlib.compress(raw, 6)
        with self.state.session() as s:
            row = s.get(BaselineStateRow, name)
            if row is None:
                row = BaselineStateRow(name=name)
                s.add(row)
            row.data, row.raw_bytes, row.watermark = packed, len(raw), watermark
            row.edge_ids, row.updated_at = list(edge_ids)[:10000], _now()
        return len(packed)

    def load(self, name: str) -> SavedState | None:
        with self.state.session() as s:
            row = s.get(BaselineStateRow, name)
            if row is None:
                return None
            try:
                state = orjson.loads(zlib.decompress(row.data))
            except (zlib.error, orjson.JSONDecodeError) as exc:
                raise StoreError(f"baseline state {name!r} is unreadable: {exc}", source="baseline_state") from exc
            return SavedState(name, state, row.watermark, list(row.edge_ids or []), len(row.data), row.raw_bytes,
                              row.updated_at)

    def add_finding(self, *, alert_id: int | None, alert: Any, score: float, items: list[list[str]]) -> int:
        with self.state.session() as s:
            row = BaselineFindingRow(
                alert_id=alert_id, group_key=alert.key(), source=alert.source, entity=alert.entity, title=alert.title,
                severity=alert.severity, score=score, explanation=alert.explanation, items=items,
                members=list(alert.members), evidence=list(alert.evidence), anomaly=alert.anomaly or {},
                first_seen=_naive(alert.first_seen), last_seen=_naive(alert.last_seen), created_at=_now(),
            )
            s.add(row)
            s.flush()
            return int(row.id)

    def findings_for(self, alert_id: int) -> list[BaselineFindingRow]:
        """Findings behind an AlertStore alert id; falls back to a finding id when no alert store was used."""
        with self.state.session() as s:
            rows = list(s.scalars(select(BaselineFindingRow).where(BaselineFindingRow.alert_id == alert_id)))
            if not rows:
                row = s.get(BaselineFindingRow, alert_id)
                rows = [row] if row is not None and row.alert_id is None else []
            for r in rows:
                s.expunge(r)
            return rows

    def mark_feedback(self, finding_ids: list[int], feedback: str, by: str) -> None:
        with self.state.session() as s:
            for fid in finding_ids:
                row = s.get(BaselineFindingRow, fid)
                if row is not None:
                    row.feedback, row.feedback_by, row.feedback_at = feedback, by, _now()

    def counts(self) -> dict[str, int]:
        with self.state.session() as s:
            rows = list(s.execute(select(BaselineFindingRow.source, BaselineFindingRow.feedback)))
        out: dict[str, int] = {"findings": len(rows), "taught": sum(1 for _, f in rows if f)}
        for src, _ in rows:
            out[src] = out.get(src, 0) + 1
        return out
