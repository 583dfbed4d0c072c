from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloudwarden.errors import StoreError
from cloudwarden.models.api_activity import ApiActivity
from cloudwarden.models.host_event import HostEvent
from cloudwarden.store.lake import Lake, safe_part


def _api(event_id: str, *, account: str = "111111111111", day: int = 1, api: str = "ListBuckets") -> ApiActivity:
    return ApiActivity(
        event_id=event_id,
        time=datetime(2026, 1, day, 12, 0, tzinfo=UTC),
        account=account,
        region="us-east-1",
        service="s3.amazonaws.com",
        api=api,
        principal="arn:aws:iam::111111111111:user/alice",
        principal_type="IAMUser",
        read_only=True,
        resources=["arn:aws:s3:::b1"],
        raw=f'{{"eventID": "{event_id}"}}',
    )


def _host(event_id: str, host: str = "web-1") -> HostEvent:
    return HostEvent(
        event_id=event_id, host_id=host, hostname=host, time=1767268800.5, kind="process", action="exec",
        source="procfs", pid=10, exe="/usr/bin/id", argv=["id", "-u"], extra={"k": "v"},
    )


def test_empty_lake_has_typed_views(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    assert lake.query("SELECT count(*) AS n FROM api_activity") == [{"n": 0}]
    assert lake.query("SELECT count(*) AS n FROM host_events") == [{"n": 0}]
    cols = {r["column_name"] for r in lake.query("DESCRIBE api_activity")}
    assert {"event_id", "time", "principal", "raw", "resources", "event_date"} <= cols


def test_partitions_and_idempotent_writes(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    rows = [_api("e1"), _api("e2", account="222222222222"), _api("e3", day=2)]
    assert lake.write_api_activity(rows) == 3
    assert lake.write_api_activity(rows) == 0  # same ids again: nothing new
    assert Lake(tmp_path / "lake").write_api_activity([_api("e1"), _api("e4")]) == 1  # fresh instance reads ids
    dirs = sorted(str(p.relative_to(tmp_path / "lake")) for p in (tmp_path / "lake").glob("api_activity/*/*"))
    assert dirs == [
        "api_activity/event_date=2026-01-01/account=111111111111",
        "api_activity/event_date=2026-01-01/account=222222222222",
        "api_activity/event_date=2026-01-02/account=111111111111",
    ]
    got = lake.query("SELECT event_id, account, resources, read_only FROM api_activity ORDER BY event_id")
    assert [r["event_id"] for r in got] == ["e1", "e2", "e3", "e4"]
    assert got[1]["account"] == "222222222222" and got[0]["resources"] == ["arn:aws:s3:::b1"]
    assert lake.query("SELECT api FROM api_activity WHERE event_id = ?", ["e3"]) == [{"api": "ListBuckets"}]


def test_views_dedupe_duplicates_written_by_other_writers(tmp_path: Path) -> None:
    a, b = Lake(tmp_path / "lake"), Lake(tmp_path / "lake")
    a.write_api_activity([_api("e1")])
    b._seen.clear()
    b.write_api_activity([_api("e1"), _api("e2")], name="other")  # b loads ids from disk: e1 skipped
    a.write_api_activity([_api("e2")], name="stale")  # a's cache is stale: a physical duplicate
    assert len(a.files("api_activity")) == 3
    assert a.count() == 2
    assert a.compact() == 3
    assert len(a.files("api_activity")) == 1 and a.count() == 2


def test_named_write_replaces_its_file(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write_api_activity([_api("e1"), _api("e2")], name="src-1")
    Lake(tmp_path / "lake").write_api_activity([_api("e1"), _api("e2")], name="src-1")
    assert len(lake.files("api_activity")) == 1 and lake.count() == 2


def test_host_events(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    assert lake.write_host_events([_host("h1"), _host("h2", host="db/1"), _host("h1")]) == 2
    rows = lake.query("SELECT event_id, host_id, argv, extra, event_date FROM host_events ORDER BY event_id")
    assert rows[0]["argv"] == ["id", "-u"] and rows[0]["extra"] == {"k": "v"}
    assert rows[1]["host_id"] == "db/1"
    assert all(".." not in str(p) for p in lake.files("host_events"))


def test_safe_part_never_escapes() -> None:
    assert safe_part("111111111111") == "111111111111"
    for bad in ("..", "../../etc", "a/b", "", "x" * 100):
        out = safe_part(bad)
        assert "/" not in out and out not in (".", "..") and out


def test_read_only_connection_blocks_files_and_settings(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write_api_activity([_api("e1")])
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    con = lake.connect(read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM api_activity").fetchone() == (1,)
        for sql in (
            f"SELECT * FROM read_csv('{secret}')",
            "SELECT * FROM read_text('/etc/hostname')",
            f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'",
            "SET enable_external_access = true",
        ):
            with pytest.raises(Exception):  # noqa: B017 - duckdb raises several error kinds
                con.execute(sql)
    finally:
        con.close()
    assert not (tmp_path / "out.csv").exists()
    with pytest.raises(StoreError):
        lake.query("SELECT * FROM nope")


def test_ocsf_view(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    assert lake.query("SELECT count(*) AS n FROM ocsf_api_activity") == [{"n": 0}]
    delete = _api("e1", api="DeleteBucket")
    delete.read_only = False
    lake.write_api_activity([delete, _api("e2")])
    rows = lake.query("SELECT class_uid, activity_id, type_uid, api, cloud, status, metadata FROM ocsf_api_activity ORDER BY activity_id")
    assert [r["activity_id"] for r in rows] == [2, 4] and rows[0]["class_uid"] == 6003 and rows[1]["type_uid"] == 600304
    assert rows[1]["api"] == {"operation": "DeleteBucket", "service": {"name": "s3.amazonaws.com"}}
    assert rows[0]["cloud"]["account"] == {"uid": "111111111111"} and rows[0]["status"] == "Success"


def test_auto_compaction_of_many_small_batches(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake", auto_compact_files=3)
    for i in range(7):
        lake.write_host_events([_host(f"h{i}")])
    files = lake.files("host_events")
    assert len(files) <= 3
    assert lake.count("host_events") == 7
    assert lake.write_host_events([_host("h3")]) == 0  # ids survive compaction
