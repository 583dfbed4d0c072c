"""Safe reads of the lake for people: one read-only SELECT, and a parameterised search.

User SQL runs on a DuckDB connection where only the lake views exist, file access outside the lake is
disabled and settings are locked (`Lake.connect(read_only=True)`); on top of that the text must be one
statement of type SELECT (which includes WITH ... SELECT). A timer interrupts a runaway query.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import duckdb

from cloudwarden.errors import InputError, StoreError
from cloudwarden.store.lake import Lake
from cloudwarden.store.text_match import contains_pattern

SEARCH_COLUMNS = (
    "time", "account", "region", "principal", "session_name", "api", "service", "source_ip", "ua_family",
    "error_code", "event_id",
)


def check_select(sql: str) -> None:
    """InputError unless `sql` is exactly one SELECT statement."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise InputError(f"cannot parse the query: {exc}", source="query") from exc
    if len(statements) != 1:
        raise InputError(f"expected exactly one statement, got {len(statements)}", source="query")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise InputError(f"only SELECT queries are allowed, got {kind.name}", source="query")


def read_only_query(lake: Lake, sql: str, *, max_rows: int = 10_000, timeout: float = 120.0) -> list[dict[str, Any]]:
    check_select(sql)
    con = lake.connect(read_only=True)
    timer = threading.Timer(timeout, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchmany(max_rows)]
    except duckdb.Error as exc:
        raise StoreError(f"query failed: {exc}", source="query") from exc
    finally:
        timer.cancel()
        con.close()


def _time(value: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError as exc:
        raise InputError(f"expected an ISO 8601 time, got {value!r}", source=name) from exc


def search_sql(
    *,
    principal: str | None = None,
    api: str | None = None,
    account: str | None = None,
    region: str | None = None,
    ip: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 100,
) -> tuple[str, list[Any]]:
    """SQL with ? placeholders and its parameters: values never become SQL text."""
    where: list[str] = []
    params: list[Any] = []
    if principal:
        where.append("principal LIKE ? ESCAPE '\\'")
        params.append(contains_pattern(principal))
    for column, value in (("api", api), ("account", account), ("region", region), ("source_ip", ip)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if since:
        where.append("time >= ?")
        params.append(_time(since, "--since"))
    if until:
        where.append("time <= ?")
        params.append(_time(until, "--until"))
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    sql = f"SELECT {', '.join(SEARCH_COLUMNS)} FROM api_activity{clause} ORDER BY time DESC LIMIT ?"  # noqa: S608 - fixed columns, values are parameters
    params.append(int(limit))
    return sql, params
