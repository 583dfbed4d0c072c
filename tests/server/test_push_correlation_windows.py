"""The push endpoint's correlation windows survive a server restart (rules reloaded = a new Detector)."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import Server
from tests.server.test_api import _ct

BURST_RULES = """
title: DeleteBucket call
id: 5c1d6a52-7a8b-4c1e-9d34-0f6f3c9a1001
status: test
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventName: DeleteBucket
  condition: selection
level: low
---
title: Three bucket deletions by one principal
id: 5c1d6a52-7a8b-4c1e-9d34-0f6f3c9a1002
status: test
correlation:
  type: event_count
  rules:
    - 5c1d6a52-7a8b-4c1e-9d34-0f6f3c9a1001
  group-by:
    - userIdentity.arn
  timespan: 10m
  condition:
    gte: 3
level: high
"""
CORRELATION = "5c1d6a52-7a8b-4c1e-9d34-0f6f3c9a1002"


def _deletes(start: int, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(start, start + n):
        rec = _ct(f"del-{i}", "DeleteBucket", user="mallory")
        rec["eventTime"] = f"2026-01-05T10:0{i}:00Z"
        out.append(rec)
    return out


def _push(server: Server, records: list[dict[str, Any]]) -> None:
    r = server.client().post("/api/v1/ingest/cloudtrail", json={"Records": records}, headers=server.token("analyst"))
    assert r.status_code == 200 and r.json()["written"] == len(records), r.text


def _fired(server: Server) -> int:
    return sum(1 for a in server.ctx.alerts.store.list(limit=100) if a.rule_id == CORRELATION)


def _setup(server: Server) -> None:
    custom = server.settings.home_path / "rules" / "custom"
    custom.mkdir(parents=True, exist_ok=True)
    (custom / "burst.yml").write_text(BURST_RULES)
    server.ctx.reload_rules()


def test_burst_split_by_a_restart_still_fires(sqlite_server: Server) -> None:
    _setup(sqlite_server)
    _push(sqlite_server, _deletes(0, 2))
    sqlite_server.ctx.reload_rules()  # what a restart does to the detector: a new one, windows from the DB
    _push(sqlite_server, _deletes(2, 1))
    assert _fired(sqlite_server) == 1


def test_without_the_saved_windows_the_split_burst_is_missed(sqlite_server: Server) -> None:
    """Control: the same sequence with the saved row deleted before the restart does not fire."""
    from cloudwarden.detect.correlation_store import CorrelationStore
    from cloudwarden.server.context import CLOUDTRAIL_PUSH_WINDOWS

    _setup(sqlite_server)
    _push(sqlite_server, _deletes(0, 2))
    CorrelationStore(sqlite_server.ctx.state).delete(CLOUDTRAIL_PUSH_WINDOWS)
    sqlite_server.ctx.reload_rules()
    _push(sqlite_server, _deletes(2, 1))
    assert _fired(sqlite_server) == 0
