"""The agent's durable on-disk spool: a SQLite file in WAL mode.

Events are appended with increasing sequence numbers; the shipper reads the oldest batch, ships it and
acks up to its last sequence, which deletes those rows. A restarted agent resumes from whatever is still
in the file, so nothing acked is sent twice by the agent and nothing unacked is lost.

Full policy: the spool is bounded by `max_bytes` of event payload. When an append would exceed it, the
OLDEST events are deleted first (newest evidence is the most useful during an incident and the oldest
has had the longest chance to ship), down to 90% of the bound, and the number of dropped events is
counted in the `dropped` counter, which is persistent and reported by `agent status` and the server.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Spool:
    def __init__(self, path: Path, max_bytes: int = 256 * 1024 * 1024) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.spool_id = self._meta("spool_id") or self._init_id()
        self._bytes = int(self._db.execute("SELECT COALESCE(SUM(LENGTH(body)), 0) FROM events").fetchone()[0])

    def _init_id(self) -> str:
        sid = uuid.uuid4().hex
        self._set_meta("spool_id", sid)
        return sid

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    def _counter(self, key: str) -> int:
        return int(self._meta(key) or 0)

    def append(self, bodies: Iterable[bytes]) -> int:
        """Append encoded events in one transaction; returns how many were written."""
        rows = [(b,) for b in bodies]
        if not rows:
            return 0
        size = sum(len(b[0]) for b in rows)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._bytes + size > self.max_bytes:
                    self._evict(self._bytes + size - int(self.max_bytes * 0.9))
                if size > self.max_bytes:  # one batch larger than the whole spool: keep its newest part
                    keep = []
                    total = 0
                    for r in reversed(rows):
                        if total + len(r[0]) > self.max_bytes * 0.9:
                            break
                        keep.append(r)
                        total += len(r[0])
                    self._set_meta("dropped", str(self._counter("dropped") + len(rows) - len(keep)))
                    rows, size = list(reversed(keep)), total
                self._db.executemany("INSERT INTO events(body) VALUES(?)", rows)
                self._set_meta("appended", str(self._counter("appended") + len(rows)))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._bytes += size
        return len(rows)

    def _evict(self, need: int) -> None:
        freed = 0
        dropped = 0
        while freed < need:
            chunk = self._db.execute("SELECT seq, LENGTH(body) FROM events ORDER BY seq LIMIT 1000").fetchall()
            if not chunk:
                break
            last = chunk[0][0]
            for seq, ln in chunk:
                freed += ln
                dropped += 1
                last = seq
                if freed >= need:
                    break
            self._db.execute("DELETE FROM events WHERE seq <= ?", (last,))
        self._bytes -= freed
        self._set_meta("dropped", str(self._counter("dropped") + dropped))

    def read_batch(self, max_events: int = 1000, max_bytes: int = 2 * 1024 * 1024) -> list[tuple[int, bytes]]:
        """Oldest unacked events, in order (does not remove them)."""
        with self._lock:
            rows = self._db.execute("SELECT seq, body FROM events ORDER BY seq LIMIT ?", (max_events,)).fetchall()
        out: list[tuple[int, bytes]] = []
        total = 0
        for seq, body in rows:
            if out and total + len(body) > max_bytes:
                break
            out.append((int(seq), bytes(body)))
            total += len(body)
        return out

    def ack(self, upto_seq: int) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                size, n = self._db.execute("SELECT COALESCE(SUM(LENGTH(body)), 0), COUNT(*) FROM events WHERE seq <= ?", (upto_seq,)).fetchone()
                self._db.execute("DELETE FROM events WHERE seq <= ?", (upto_seq,))
                self._set_meta("acked", str(self._counter("acked") + int(n)))
                self._set_meta("acked_seq", str(upto_seq))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._bytes -= int(size)
        return int(n)

    def count_rejected(self, n: int) -> None:
        with self._lock:
            self._set_meta("rejected", str(self._counter("rejected") + n))

    def stats(self) -> dict[str, int | str]:
        with self._lock:
            pending = int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
            return {
                "spool_id": self.spool_id,
                "pending": pending,
                "bytes": self._bytes,
                "max_bytes": self.max_bytes,
                "appended": self._counter("appended"),
                "acked": self._counter("acked"),
                "dropped": self._counter("dropped"),
                "rejected": self._counter("rejected"),
                "acked_seq": self._counter("acked_seq"),
            }

    def close(self) -> None:
        with self._lock:
            self._db.close()
