"""Ibis lake aggregations equal a plain-Python computation on the same small data."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from cloudwarden.baseline import ibis_views
from cloudwarden.store.lake import Lake
from tests.baseline.build import act, day, exec_, role, user

H = 3600.0


def test_active_days_and_vectors_match_python(tmp_path: Path) -> None:
    rows = []
    for d in range(40):
        rows.append(act(user("alice"), "DescribeInstances", day(d)))
        if d % 3 == 0:
            rows.append(act(user("alice"), "PutBucketPolicy", day(d, 11), "s3.amazonaws.com", read_only=False))
            rows.append(act(user("alice"), "PutBucketPolicy", day(d, 12), "s3.amazonaws.com", read_only=False))
        if d % 5 == 0:
            rows.append(act(role("ci"), "UpdateService", day(d, 23.5), "ecs.amazonaws.com", ptype="AssumedRole"))
    lake = Lake(tmp_path / "lake")
    lake.write_api_activity(rows)
    con = ibis_views.connect(lake)
    t = con.table("api_activity")
    now = day(39, 23.9)
    got = {(r["principal"], r["api"]): r for r in ibis_views.active_days(t, now, 28).to_pyarrow().to_pylist()}

    since = now - timedelta(days=28)
    days: dict[tuple[str, str], set[object]] = defaultdict(set)
    calls: dict[tuple[str, str], int] = defaultdict(int)
    pdays: dict[str, set[object]] = defaultdict(set)
    for r in rows:
        if since < r.time <= now:
            days[(r.principal, r.api)].add(r.time.date())
            calls[(r.principal, r.api)] += 1
            pdays[r.principal].add(r.time.date())
    assert set(got) == set(days)
    for k, v in got.items():
        assert v["active_days"] == len(days[k]) and v["calls"] == calls[k]
        assert v["principal_days"] == len(pdays[k[0]])
        assert math.isclose(v["rarity"], -math.log((len(days[k]) + 1) / (len(pdays[k[0]]) + 2)))

    vec = ibis_views.vectors(ibis_views.principal_api_vectors(t).to_pyarrow().to_pylist())
    plain: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        plain[r.principal][f"{r.service.split('.')[0]}:{r.api}"] += 1
    assert vec == {p: dict(v) for p, v in plain.items()}


def test_host_launch_edges_match_python(tmp_path: Path) -> None:
    t0 = 1_772_409_600.0
    events = [exec_("web-1", t0 + i * 7 * H, "/usr/bin/convert", "/usr/bin/python3.11") for i in range(20)]
    events += [exec_("db-1", t0 + i * 13 * H, "/usr/bin/pg_dump", "/bin/sh") for i in range(9)]
    lake = Lake(tmp_path / "lake")
    lake.write_host_events(events)
    con = ibis_views.connect(lake)
    got = ibis_views.host_launch_edges(con.table("host_events")).to_pyarrow().to_pylist()
    plain: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for e in events:
        plain[(e.host_id, e.parent_exe, e.exe)].append(e.time)
    assert {(r["host_id"], r["parent_exe"], r["exe"]): (r["count"], r["active_days"]) for r in got} == {
        k: (len(v), len({int(x // 86400) for x in v})) for k, v in plain.items()
    }


def test_peer_groups_from_the_lake_equal_groups_from_memory(tmp_path: Path) -> None:
    from cloudwarden.baseline.cloud import CloudConfig
    from cloudwarden.baseline.engine import Baseline
    from cloudwarden.store.state import open_store
    from tests.baseline.test_engine import history

    lake = Lake(tmp_path / "lake")
    lake.write_api_activity(history())
    b = Baseline.open(open_store(f"sqlite:///{tmp_path / 's.db'}"), cloud_config=CloudConfig(learning_days=3.0))
    b.update(history())
    b.cloud.recluster()
    in_memory = dict(b.cloud.groups)
    assert b.recluster_from_lake(lake) == 1
    assert b.cloud.groups == in_memory
