"""Correlation windows saved in the state DB, one row per ingest source, so a restart resumes them.

The row holds `Detector.snapshot()` bytes. The CloudTrail ingest writes it in the same transaction as the
checkpoint rows of a batch (`save_in`), so the saved windows are exactly those after the checkpointed
files: files re-read after a crash add their events again, and nothing is counted twice or lost.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, LargeBinary, String, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from cloudwarden.detect.engine import Detector, RestoreResult
from cloudwarden.store.state import Base, StateStore

log = logging.getLogger("cloudwarden.detect")


class CorrelationSnapshot(Base):
    __tablename__ = "correlation_state"

    source: Mapped[str] = mapped_column(String(1024), primary_key=True)  # the ingest source id
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer, default=0)
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CorrelationStore:
    def __init__(self, state: StateStore) -> None:
        self.state = state

    def load(self, source: str) -> bytes | None:
        with self.state.session() as session:
            row = session.execute(select(CorrelationSnapshot.data).where(CorrelationSnapshot.source == source)).first()
            return bytes(row[0]) if row is not None else None

    def save(self, source: str, data: bytes) -> None:
        with self.state.session() as session:
            self.save_in(session, source, data)

    @staticmethod
    def save_in(session: Session, source: str, data: bytes) -> None:
        """Upsert within the caller's transaction (the checkpoint's)."""
        row = session.get(CorrelationSnapshot, source)
        if row is None:
            row = CorrelationSnapshot(source=source)
            session.add(row)
        row.data = data
        row.size = len(data)
        row.saved_at = datetime.now(UTC)

    def delete(self, source: str) -> None:
        with self.state.session() as session:
            session.execute(delete(CorrelationSnapshot).where(CorrelationSnapshot.source == source))

    def restore_into(self, detector: Detector, source: str) -> RestoreResult | None:
        """Restore the source's saved windows into the detector; None when nothing was saved."""
        data = self.load(source)
        return detector.restore(data) if data is not None else None


class SavedWindows:
    """One long-running detector's windows under one key (a server's pipelines): restored once, saved only
    when they changed. Database errors are logged, never raised: the events and alerts are stored either way,
    only the windows would miss a restart."""

    def __init__(self, state: StateStore, key: str, what: str) -> None:
        self.store = CorrelationStore(state)
        self.key = key
        self.what = what  # names the pipeline in log lines
        self._saved = -1  # the detector's change count last saved (or restored)

    def restore(self, detector: Detector) -> None:
        try:
            self.store.restore_into(detector, self.key)  # unreadable data: logged, windows start empty
        except SQLAlchemyError as exc:
            log.warning("%s correlation windows not restored: %s", self.what, exc)
        self._saved = detector.changes

    def save(self, detector: Detector) -> None:
        if detector.changes == self._saved:
            return
        changes = detector.changes
        try:
            self.store.save(self.key, detector.snapshot())
        except SQLAlchemyError as exc:
            log.warning("%s correlation windows not saved: %s", self.what, exc)
            return
        self._saved = changes
