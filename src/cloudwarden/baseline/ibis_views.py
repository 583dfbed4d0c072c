"""Heavy aggregations over the lake as Ibis expressions: DuckDB runs them locally; the same expressions run on
Spark or Trino when the lake lives on S3 (`ibis.pyspark.connect(...)`, `ibis.trino.connect(...)` with a
table of the same columns).

- `active_days`: per (principal, service, api), the distinct days with calls in a rolling window, with the
  principal's own active days and a rarity score  -log((days + 1) / (principal_days + 2)).
- `principal_api_vectors`: per principal, calls per service:api — what `peers.cluster` groups on.
- `host_launch_edges`: per host, parent → child executables with counts and active days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir


def connect(lake: Any) -> Any:
    """An Ibis DuckDB backend over the lake's views (`api_activity`, `host_events`)."""
    con = lake.connect()
    con.execute("SET TimeZone = 'UTC'")  # day boundaries are UTC days, as in the in-memory baseline
    return ibis.duckdb.from_connection(con)


def active_days(t: ir.Table, now: datetime, window_days: int = 28) -> ir.Table:
    since = now - timedelta(days=window_days)
    recent = t.filter((t.time > since) & (t.time <= now)).mutate(day=t.time.date())
    per_api = recent.group_by(["principal", "service", "api"]).aggregate(
        active_days=recent.day.nunique(),
        calls=recent.count(),
        first_seen=recent.time.min(),
        last_seen=recent.time.max(),
    )
    per_principal = recent.group_by("principal").aggregate(principal_days=recent.day.nunique())
    joined = per_api.join(per_principal, "principal")
    return joined.mutate(
        rarity=-(((joined.active_days + 1).cast("float64") / (joined.principal_days + 2).cast("float64")).ln())
    ).order_by(["principal", "service", "api"])


def principal_api_vectors(t: ir.Table, since: datetime | None = None) -> ir.Table:
    rows = t if since is None else t.filter(t.time > since)
    return rows.group_by(["principal", "service", "api"]).aggregate(calls=rows.count()).order_by(
        ["principal", "service", "api"]
    )


def host_launch_edges(h: ir.Table) -> ir.Table:
    execs = h.filter((h.kind == "process") & (h.action == "exec")).mutate(
        day=(h.time.cast("int64") // 86400)
    )
    return execs.group_by(["host_id", "parent_exe", "exe"]).aggregate(
        count=execs.count(), active_days=execs.day.nunique()
    ).order_by(["host_id", "parent_exe", "exe"])


def vectors(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """principal_api_vectors rows -> {principal: {"svc:api": calls}} for `peers.cluster`."""
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        svc = str(r["service"]).split(".", 1)[0]
        out.setdefault(str(r["principal"]), {})[f"{svc}:{r['api']}"] = float(r["calls"])
    return out
