"""Parameterised lake queries for the API and the dashboard. Values are always bound parameters; only
column names from fixed lists ever reach the SQL text.

The server keeps one DuckDB database with views straight over the lake's Parquet files (no per-query
de-duplication pass: the lake's writers are idempotent by event_id), and queries it through cursors.
DuckDB re-expands the file glob on each query, so new files are seen without reopening.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from cloudwarden.store.text_match import contains_pattern

EVENT_COLUMNS = ("time", "event_id", "account", "region", "service", "api", "principal", "principal_type", "source_ip",
                 "user_agent", "error_code", "read_only", "mfa", "resources")
HOST_COLUMNS = ("time", "event_id", "host_id", "hostname", "kind", "action", "source", "pid", "ppid", "user", "exe", "argv",
                "parent_exe", "dst_ip", "dst_port", "src_ip", "protocol", "direction", "target_user", "path")


@dataclass
class EventFilter:
    principal: str = ""  # substring, case-insensitive
    api: str = ""
    account: str = ""
    region: str = ""
    source_ip: str = ""
    service: str = ""
    since: datetime | None = None
    until: datetime | None = None
    errors_only: bool = False
    limit: int = 50
    offset: int = 0
    cursor: str = ""  # "<iso time>|<event_id>" of the last row seen: keyset paging, fast at any depth

    def cursor_parts(self) -> tuple[datetime, str] | None:
        if not self.cursor:
            return None
        when, _, event_id = self.cursor.partition("|")
        return datetime.fromisoformat(when), event_id

    def where(self) -> tuple[str, list[Any]]:
        conds: list[str] = []
        params: list[Any] = []
        if self.principal:
            conds.append("principal ILIKE ? ESCAPE '\\'")
            params.append(contains_pattern(self.principal))
        for col in ("api", "account", "region", "source_ip", "service"):
            value = getattr(self, col)
            if value:
                conds.append(f"{col} = ?")
                params.append(value)
        if self.since:
            conds.append("time >= ?")
            params.append(self.since)
        if self.until:
            conds.append("time <= ?")
            params.append(self.until)
        if self.errors_only:
            conds.append("error_code <> ''")
        after = self.cursor_parts()
        if after is not None:
            # rows after the cursor in the (time DESC, event_id ASC) order; the plain `time <= ?` lets DuckDB
            # skip whole files and row groups by their statistics
            conds.append("time <= ? AND (time < ? OR event_id > ?)")
            params.extend([after[0], after[0], after[1]])
        return (" WHERE " + " AND ".join(conds)) if conds else "", params


@dataclass
class LakeReader:
    root: Path
    _con: duckdb.DuckDBPyConnection | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _views: set[str] = field(default_factory=set)
    _count_cache: dict[str, tuple[float, int]] = field(default_factory=dict)
    _max_cache: tuple[float, datetime | None] | None = None

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._con is None:
                self._con = duckdb.connect(":memory:")
            for table in ("api_activity", "host_events"):
                if table in self._views:
                    continue
                folder = self.root / table
                if not any(folder.glob("event_date=*/*=*/*.parquet")):
                    continue  # no files yet: the view is created once the first file exists
                glob = str(folder / "event_date=*" / "*=*" / "*.parquet").replace("'", "''")
                self._con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet('{glob}', union_by_name=true, hive_partitioning=false)")  # noqa: S608 - our own path, quoted
                self._views.add(table)
            return self._con.cursor()

    def has(self, table: str) -> bool:
        self._cursor().close()
        return table in self._views

    def rows(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        cur = self._cursor()
        try:
            res = cur.execute(sql, params)
            cols = [d[0] for d in res.description or []]
            return [dict(zip(cols, r, strict=True)) for r in res.fetchall()]
        finally:
            cur.close()

    def count(self, table: str, ttl_s: float = 30.0) -> int:
        """Total rows, cached briefly: counting a million rows on every page view is wasted work."""
        if not self.has(table):
            return 0
        hit = self._count_cache.get(table)
        if hit and time.monotonic() - hit[0] < ttl_s:
            return hit[1]
        n = int(self.rows(f"SELECT count(*) AS n FROM {table}", [])[0]["n"])  # noqa: S608 - table from a fixed pair
        self._count_cache[table] = (time.monotonic(), n)
        return n

    # CloudTrail -------------------------------------------------------------------------------------
    def events(self, f: EventFilter) -> tuple[list[dict[str, Any]], bool]:
        """A page of events, newest first, and whether there are more. Page with `cursor` (keyset) rather
        than a large offset: an offset makes DuckDB sort everything before it."""
        if not self.has("api_activity"):
            return [], False
        cols = ", ".join(EVENT_COLUMNS)
        # Newest-first pages usually sit in the newest files: try a recent time window first (pruned by file
        # statistics), and scan everything only when the window does not fill the page.
        top = self.max_time()
        upper = f.until or (f.cursor_parts() or (None, ""))[0] or top
        selective = bool(f.principal or f.source_ip)  # rare matches would miss both windows: scan once instead
        if f.since is None and f.offset == 0 and upper is not None and not selective:
            for window in (timedelta(hours=6), timedelta(days=3)):
                narrowed = replace(f, since=upper - window)
                where, params = narrowed.where()
                sql = f"SELECT {cols} FROM api_activity{where} ORDER BY time DESC, event_id LIMIT ?"  # noqa: S608
                rows = self.rows(sql, [*params, f.limit + 1])
                if len(rows) > f.limit:
                    return rows[: f.limit], True
        where, params = f.where()
        sql = f"SELECT {cols} FROM api_activity{where} ORDER BY time DESC, event_id LIMIT ? OFFSET ?"  # noqa: S608
        rows = self.rows(sql, [*params, f.limit + 1, f.offset])
        return rows[: f.limit], len(rows) > f.limit

    def max_time(self, ttl_s: float = 10.0) -> datetime | None:
        hit = self._max_cache
        if hit is not None and time.monotonic() - hit[0] < ttl_s:
            return hit[1]
        rows = self.rows("SELECT max(time) AS t FROM api_activity", [])
        value = rows[0]["t"] if rows else None
        self._max_cache = (time.monotonic(), value)
        return value

    def event(self, event_id: str) -> dict[str, Any] | None:
        if not self.has("api_activity"):
            return None
        rows = self.rows("SELECT * FROM api_activity WHERE event_id = ? LIMIT 1", [event_id])
        return rows[0] if rows else None

    def top(self, column: str, limit: int = 10) -> list[dict[str, Any]]:
        if column not in ("api", "principal", "source_ip", "region", "account") or not self.has("api_activity"):
            return []
        return self.rows(f"SELECT {column} AS value, count(*) AS n FROM api_activity GROUP BY 1 ORDER BY n DESC, 1 LIMIT ?", [limit])  # noqa: S608

    # hosts ------------------------------------------------------------------------------------------
    def hosts(self, limit: int = 200) -> list[dict[str, Any]]:
        if not self.has("host_events"):
            return []
        return self.rows(
            "SELECT host_id, any_value(hostname) AS hostname, count(*) AS events, max(time) AS last_seen, "
            "list(DISTINCT source ORDER BY source) AS sources, list(DISTINCT kind ORDER BY kind) AS kinds "
            "FROM host_events GROUP BY host_id ORDER BY host_id LIMIT ?", [limit])

    def host_events(self, host_id: str, limit: int = 100, offset: int = 0, kind: str = "") -> list[dict[str, Any]]:
        if not self.has("host_events"):
            return []
        cols = ", ".join(HOST_COLUMNS)
        params: list[Any] = [host_id]
        extra = ""
        if kind:
            extra = " AND kind = ?"
            params.append(kind)
        return self.rows(f"SELECT {cols} FROM host_events WHERE host_id = ?{extra} ORDER BY time DESC, event_id LIMIT ? OFFSET ?",  # noqa: S608
                         [*params, limit, offset])

    def graph(self, host_ids: list[str], limit_edges: int = 400) -> dict[str, Any]:
        """Behaviour graph: processes launching processes, processes talking to endpoints; edge weights = counts."""
        if not host_ids or not self.has("host_events"):
            return {"nodes": [], "edges": []}
        marks = ", ".join("?" for _ in host_ids)
        which = f"(host_id IN ({marks}) OR hostname IN ({marks}))"  # a cluster names its machines by host name
        launches = self.rows(
            f"SELECT parent_exe AS src, exe AS dst, count(*) AS n FROM host_events WHERE {which} "  # noqa: S608
            "AND kind = 'process' AND exe <> '' AND parent_exe <> '' GROUP BY 1, 2 ORDER BY n DESC, 1, 2 LIMIT ?",
            [*host_ids, *host_ids, limit_edges])
        talks = self.rows(
            f"SELECT exe AS src, dst_ip || ':' || CAST(dst_port AS VARCHAR) AS dst, any_value(external) AS external, count(*) AS n "  # noqa: S608
            f"FROM host_events WHERE {which} AND kind = 'network' AND dst_ip <> '' AND exe <> '' "
            "GROUP BY 1, 2 ORDER BY n DESC, 1, 2 LIMIT ?", [*host_ids, *host_ids, limit_edges])
        nodes: dict[str, dict[str, Any]] = {}
        edges = []
        for e in launches:
            nodes.setdefault(e["src"], {"id": e["src"], "kind": "process"})
            nodes.setdefault(e["dst"], {"id": e["dst"], "kind": "process"})
            edges.append({"source": e["src"], "target": e["dst"], "kind": "launch", "count": int(e["n"])})
        for e in talks:
            nodes.setdefault(e["src"], {"id": e["src"], "kind": "process"})
            nodes.setdefault(e["dst"], {"id": e["dst"], "kind": "external" if e["external"] else "endpoint"})
            edges.append({"source": e["src"], "target": e["dst"], "kind": "connect", "count": int(e["n"])})
        return {"nodes": sorted(nodes.values(), key=lambda n: n["id"]), "edges": edges}

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


def cursor_of(row: dict[str, Any]) -> str:
    t = row.get("time")
    return f"{t.isoformat() if isinstance(t, datetime) else t}|{row.get('event_id', '')}"
