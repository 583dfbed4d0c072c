"""What the CloudTrail ingest has already done, in the state DB, so a restart neither loses nor repeats work.

- `ct_objects`: one row per processed file / S3 object (source, key) with the version processed (ETag,
  or size:mtime for a local file) and, for append-only text files (JSON Lines), the byte offset reached.
  A row is written only after the object's events are in the lake and its alerts are stored.
- `ct_set_aside`: files and records that could not be ingested, with where (file:line / record index)
  and why, so a person can look at them after the summary has scrolled away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from cloudwarden.store.state import Base, StateStore

MAX_SET_ASIDE_PER_OBJECT = 1000  # bound what one hostile file can write into the state DB


class ProcessedObject(Base):
    __tablename__ = "ct_objects"
    __table_args__ = (UniqueConstraint("source", "key", name="uq_ct_objects_source_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(1024), index=True)
    key: Mapped[str] = mapped_column(String(2048))
    etag: Mapped[str] = mapped_column(String(256), default="")
    offset: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes consumed (append-only text files)
    events: Mapped[int] = mapped_column(Integer, default=0)
    set_aside: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SetAside(Base):
    __tablename__ = "ct_set_aside"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(1024), index=True)
    key: Mapped[str] = mapped_column(String(2048))
    location: Mapped[str] = mapped_column(String(256))  # "file", "record 17", "line 42"
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass
class Mark:
    key: str
    etag: str
    offset: int = 0
    events: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Done:
    etag: str
    offset: int


class Checkpoint:
    """Reads and records processed objects of one source (a folder, or s3://bucket/prefix)."""

    def __init__(self, state: StateStore, source: str) -> None:
        self.state = state
        self.source = source

    def done(self, keys: Sequence[str]) -> dict[str, Done]:
        """The processed version of each of these keys that has one (queried in chunks)."""
        out: dict[str, Done] = {}
        with self.state.session() as session:
            for i in range(0, len(keys), 500):
                chunk = list(keys[i : i + 500])
                rows = session.execute(
                    select(ProcessedObject.key, ProcessedObject.etag, ProcessedObject.offset).where(
                        ProcessedObject.source == self.source, ProcessedObject.key.in_(chunk)
                    )
                )
                for key, etag, offset in rows:
                    out[key] = Done(etag, offset)
        return out

    def is_done(self, key: str, etag: str, size: int | None = None) -> bool:
        """True when this exact version was fully processed (for appendable files: up to `size`)."""
        got = self.done([key]).get(key)
        if got is None or got.etag != etag:
            return False
        return size is None or got.offset >= size

    def mark(
        self,
        key: str,
        etag: str,
        *,
        offset: int = 0,
        events: int = 0,
        problems: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Record an object as processed (upsert), with what was set aside, in one transaction."""
        self.mark_many([Mark(key, etag, offset, events, list(problems))])

    def mark_many(self, marks: Sequence[Mark], *, also: Callable[[Session], None] | None = None) -> None:
        """Record several objects as processed in one transaction (all or none). `also` writes more rows in
        that same transaction (the ingest's correlation windows, which must match the checkpoint exactly)."""
        if not marks:
            return
        now = datetime.now(UTC)
        with self.state.session() as session:
            if also is not None:
                also(session)
            existing: dict[str, ProcessedObject] = {}
            keys = list({m.key for m in marks})
            for i in range(0, len(keys), 500):
                for found in session.execute(
                    select(ProcessedObject).where(
                        ProcessedObject.source == self.source, ProcessedObject.key.in_(keys[i : i + 500])
                    )
                ).scalars():
                    existing[found.key] = found
            for m in marks:
                row = existing.get(m.key)  # type: ignore[assignment]
                if row is None:
                    row = ProcessedObject(source=self.source, key=m.key, events=0, set_aside=0)
                    session.add(row)
                    existing[m.key] = row
                row.etag = m.etag
                row.offset = m.offset
                row.events = (row.events or 0) + m.events
                row.set_aside = (row.set_aside or 0) + len(m.problems)
                row.processed_at = now
                for location, reason in m.problems[:MAX_SET_ASIDE_PER_OBJECT]:
                    session.add(
                        SetAside(source=self.source, key=m.key[:2048], location=location[:256], reason=reason[:2000], at=now)
                    )

    def set_aside(self, limit: int = 100) -> list[dict[str, str]]:
        with self.state.session() as session:
            rows = session.execute(
                select(SetAside).where(SetAside.source == self.source).order_by(SetAside.id.desc()).limit(limit)
            ).scalars()
            return [{"key": r.key, "location": r.location, "reason": r.reason} for r in rows]

    def count(self) -> int:
        with self.state.session() as session:
            return len(session.execute(select(ProcessedObject.id).where(ProcessedObject.source == self.source)).all())
