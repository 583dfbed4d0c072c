"""The committer thread that stores batches while worker processes keep going (ingest with --workers > 1)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from cloudwarden.cloudtrail.ingest import IngestOptions, _CommitJob, _Committer, ingest
from cloudwarden.store.lake import Lake
from cloudwarden.store.state import open_store
from tests.cloudtrail import factory as f


def _job(n: int) -> _CommitJob:
    return _CommitJob(alerts=[], marks=[], saver=None, saved_changes=n)


def test_batches_are_stored_in_order_and_close_waits_for_them() -> None:
    stored: list[int] = []
    gate = threading.Event()

    def store(job: _CommitJob) -> None:
        gate.wait(5)
        stored.append(job.saved_changes or 0)

    c = _Committer(store)
    c.submit(_job(1))
    c.submit(_job(2))  # one stored, one waiting: the queue holds one
    assert stored == []
    gate.set()
    c.submit(_job(3))
    c.close()
    assert stored == [1, 2, 3]


def test_a_failed_batch_stops_later_ones_and_the_error_reaches_the_caller() -> None:
    stored: list[int] = []

    def store(job: _CommitJob) -> None:
        if job.saved_changes == 2:
            raise RuntimeError("database is gone")
        stored.append(job.saved_changes or 0)

    c = _Committer(store)
    c.submit(_job(1))
    c.submit(_job(2))
    with pytest.raises(RuntimeError, match="database is gone"):
        for n in (3, 4, 5):  # the error shows at a later submit, or at close
            c.submit(_job(n))
        c.close()
    assert stored == [1]  # nothing after the failed batch was stored (those files are read again next run)


def test_worker_ingest_with_many_batches_matches_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small batches so the committer thread stores many while the workers go on: same lake, same alerts."""
    import cloudwarden.cloudtrail.ingest as ingest_module

    stored_by_thread: list[str] = []

    class Recording(_Committer):
        def __init__(self, store: Callable[[_CommitJob], None]) -> None:
            def store_and_record(job: _CommitJob) -> None:
                stored_by_thread.append(threading.current_thread().name)
                store(job)

            super().__init__(store_and_record)

    monkeypatch.setattr(ingest_module, "_Committer", Recording)
    logs = tmp_path / "logs"
    for i in range(12):
        f.write_records(logs / f"f{i:02d}.json.gz", f.many(150, start=i * 150))
    got = {}
    for workers in (1, 2):
        state = open_store(f"sqlite:///{tmp_path / f's{workers}.db'}")
        lake = Lake(tmp_path / f"lake{workers}")
        s = ingest(str(logs), lake, state, IngestOptions(workers=workers, batch_files=2))
        rows = state.engine.connect().exec_driver_sql(
            "SELECT rule_id, entity, count, first_seen, last_seen FROM alerts ORDER BY 1, 2, 4").fetchall()
        marks = state.engine.connect().exec_driver_sql("SELECT count(*) FROM ct_objects").scalar()
        got[workers] = (s.events, lake.count(), rows, dict(s.alerts_by_severity), marks)
        state.dispose()
    assert got[1] == got[2]
    assert got[2][0] == 1800 and got[2][2]  # events and alerts were there to compare
    assert len(stored_by_thread) >= 3 and set(stored_by_thread) == {"cloudwarden-ingest-commit"}
