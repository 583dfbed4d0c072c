from __future__ import annotations

import gzip
import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from cloudwarden.cloudtrail.checkpoint import Checkpoint
from cloudwarden.cloudtrail.ingest import IngestOptions, IngestSummary, ingest, merge_alerts
from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.store.lake import Lake
from cloudwarden.store.state import StateStore, open_store
from tests.cloudtrail import factory as f


@pytest.fixture
def env(tmp_path: Path) -> tuple[Lake, StateStore, Path]:
    return Lake(tmp_path / "lake"), open_store(f"sqlite:///{tmp_path / 'state.db'}"), tmp_path / "logs"


def _alerts(state: StateStore) -> dict[tuple[str, str], int]:
    return {(a.rule_id, a.entity): a.count for a in AlertStore(state).list(limit=10_000)}


def _evidence_rows(db: Path) -> tuple[int, int]:
    con = sqlite3.connect(db)
    try:
        total = con.execute("SELECT count(*) FROM alert_evidence").fetchone()[0]
        distinct = con.execute("SELECT count(*) FROM (SELECT DISTINCT key_hash, event_id FROM alert_evidence)").fetchone()[0]
        return int(total), int(distinct)
    finally:
        con.close()


def test_folder_ingest_runs_the_real_rules_and_is_idempotent(env: tuple[Lake, StateStore, Path], tmp_path: Path) -> None:
    lake, state, logs = env
    for i in range(3):
        f.write_records(logs / f"AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01/f{i}.json.gz", f.many(100, start=i * 100))
    first = ingest(str(logs), lake, state, IngestOptions())
    assert (first.files_processed, first.events, first.records_set_aside) == (3, 300, 0)
    assert first.rules > 30 and first.alerts_by_severity
    assert lake.count() == 300
    titles = {a.title for a in AlertStore(state).list(limit=1000)}
    assert any("CloudTrail" in t for t in titles) and any("bucket" in t.lower() for t in titles)
    before = _alerts(state)
    again = ingest(str(logs), lake, state, IngestOptions())
    assert (again.files_processed, again.files_already_done, again.events) == (0, 3, 0)
    assert _alerts(state) == before and lake.count() == 300
    # raw JSON kept, normalised columns queryable
    row = lake.query("SELECT raw, principal, ua_family FROM api_activity WHERE api = 'StopLogging' LIMIT 1")[0]
    assert json.loads(row["raw"])["eventName"] == "StopLogging" and row["ua_family"] == "aws-cli"


def test_changed_file_is_reprocessed_without_duplicates(env: tuple[Lake, StateStore, Path], tmp_path: Path) -> None:
    lake, state, logs = env
    path = f.write_records(logs / "a.json.gz", f.many(50))
    ingest(str(logs), lake, state, IngestOptions())
    before = _alerts(state)
    f.write_records(path, f.many(60))  # the same 50 events plus 10 new ones
    summary = ingest(str(logs), lake, state, IngestOptions())
    assert summary.files_processed == 1 and summary.events == 60
    assert lake.count() == 60
    total, distinct = _evidence_rows(tmp_path / "state.db")
    assert total == distinct
    after = _alerts(state)
    assert all(after[k] >= v for k, v in before.items())


def test_two_workers_match_one_worker(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for i in range(6):
        f.write_records(logs / f"f{i}.json.gz", f.many(200, start=i * 200))
    results = {}
    for workers in (1, 2):
        lake = Lake(tmp_path / f"lake{workers}")
        state = open_store(f"sqlite:///{tmp_path / f'state{workers}.db'}")
        s = ingest(str(logs), lake, state, IngestOptions(workers=workers))
        results[workers] = (s.events, lake.count(), sorted(_alerts(state)), dict(s.alerts_by_severity))
    assert results[1] == results[2]
    assert results[1][0] == 1200


def test_correlation_sees_events_from_every_worker(tmp_path: Path) -> None:
    """25 secret reads by one principal in 5 minutes, spread over 5 files read by 2 workers: one burst alert."""
    logs = tmp_path / "logs"
    reads = [
        f.event("GetSecretValue", "secretsmanager.amazonaws.com", event_id=f"sec-{i}", params={"secretId": f"s{i}"},
                time=f"2026-01-01T10:0{i // 6}:{(i * 7) % 60:02d}Z", agent="aws-cli/2.15.0")
        for i in range(25)
    ]
    for n in range(5):
        f.write_records(logs / f"part{n}.json.gz", reads[n::5])
    state = open_store(f"sqlite:///{tmp_path / 's.db'}")
    ingest(str(logs), Lake(tmp_path / "lake"), state, IngestOptions(workers=2))
    bursts = [a for a in AlertStore(state).list(limit=100) if "Burst" in a.title]
    assert len(bursts) == 1 and bursts[0].severity == "high"


def test_bad_input_is_set_aside_and_the_rest_goes_on(env: tuple[Lake, StateStore, Path]) -> None:
    lake, state, logs = env
    logs.mkdir(parents=True)
    f.write_records(logs / "good.json.gz", f.many(10))
    (logs / "truncated.json.gz").write_bytes(gzip.compress(json.dumps({"Records": f.many(50, start=100)}).encode())[:-50])
    (logs / "invalid.json").write_text('{"Records": [{"eventID": "x",]}')
    missing = f.many(3, start=200)
    del missing[1]["eventTime"]
    f.write_records(logs / "missing.json.gz", missing)
    bad_utf8 = json.dumps(f.many(1, start=300)[0]).encode() + b"\n" + b'{"eventID": "\xff\xfe"}\n'
    (logs / "mixed.jsonl").write_bytes(bad_utf8)
    summary = ingest(str(logs), lake, state, IngestOptions())
    assert summary.events == 10 + 2 + 1
    assert summary.files_set_aside == 2 and summary.records_set_aside == 2
    reasons = {(Path(k).name, loc): r for k, loc, r in summary.problems}
    assert "truncated gzip" in reasons[("truncated.json.gz", "file")]
    assert "invalid JSON" in reasons[("invalid.json", "file")]
    assert reasons[("missing.json.gz", "record 1")] == "field eventTime: missing"
    assert "non-UTF-8" in reasons[("mixed.jsonl", "line 2")]
    assert lake.count() == 13
    kept = Checkpoint(state, summary.source).set_aside()
    assert len(kept) == 4 and {Path(r["key"]).name for r in kept} == {"truncated.json.gz", "invalid.json", "missing.json.gz", "mixed.jsonl"}


@pytest.mark.slow
def test_a_50_mb_file_is_ingested(env: tuple[Lake, StateStore, Path]) -> None:
    lake, state, logs = env
    records = f.many(1, start=0)
    filler = "x" * 2000
    body = [dict(r, eventID=f"big-{i}", requestParameters={"pad": filler}) for i in range(25_000) for r in records]
    path = f.write_records(logs / "big.json", body, gz=False)
    assert path.stat().st_size > 50_000_000
    summary = ingest(str(logs), lake, state, IngestOptions())
    assert summary.events == 25_000 and summary.files_set_aside == 0 and lake.count() == 25_000


def test_file_over_the_size_limit_is_set_aside(env: tuple[Lake, StateStore, Path]) -> None:
    lake, state, logs = env
    f.write_records(logs / "big.json.gz", f.many(500))
    f.write_records(logs / "small.json.gz", f.many(2, start=1000))
    summary = ingest(str(logs), lake, state, IngestOptions(max_bytes=20_000))
    assert summary.files_set_aside == 1 and summary.events == 2
    assert "limit" in summary.problems[0][2]


def test_appendable_json_lines_resume_from_offset(env: tuple[Lake, StateStore, Path]) -> None:
    lake, state, logs = env
    logs.mkdir(parents=True)
    path = logs / "live.jsonl"
    events = f.many(10)
    path.write_text("".join(json.dumps(e) + "\n" for e in events[:4]) + json.dumps(events[4])[:30])
    assert ingest(str(logs), lake, state, IngestOptions()).events == 4
    with path.open("a") as fh:
        fh.write(json.dumps(events[4])[30:] + "\n" + "".join(json.dumps(e) + "\n" for e in events[5:]))
    second = ingest(str(logs), lake, state, IngestOptions())
    assert second.events == 6 and second.records_set_aside == 0
    assert ingest(str(logs), lake, state, IngestOptions()).events == 0
    assert lake.count() == 10


def test_since_until_filters_days_and_records(env: tuple[Lake, StateStore, Path]) -> None:
    lake, state, logs = env
    for day in (1, 2, 3):
        recs = f.many(5, start=day * 10)
        for r in recs:
            r["eventTime"] = f"2026-01-0{day}T08:00:00Z"
        f.write_records(logs / f"AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/0{day}/d{day}.json.gz", recs)
    mixed = [dict(f.event(event_id="m1"), eventTime="2026-01-02T09:00:00Z"), dict(f.event(event_id="m2"), eventTime="2026-01-05T09:00:00Z")]
    f.write_records(logs / "export.json", mixed, gz=False)
    s = ingest(str(logs), lake, state, IngestOptions(since=date(2026, 1, 2), until=date(2026, 1, 2)))
    assert s.events == 6 and s.filtered == 1
    assert {r["d"] for r in lake.query("SELECT DISTINCT CAST(event_date AS VARCHAR) AS d FROM api_activity")} == {"2026-01-02"}


def test_summary_shape() -> None:
    s = IngestSummary("dir:/x")
    s.add_problem("k", "file", "why")
    d = s.to_dict()
    assert d["problems"] == [{"key": "k", "location": "file", "reason": "why"}] and d["alerts_stored"] == 0


def test_merge_alerts_folds_single_event_alerts() -> None:
    from datetime import UTC, datetime, timedelta

    from cloudwarden.models.alert import Alert

    t = datetime(2026, 1, 1, tzinfo=UTC)

    def alert(eid: str, minute: int) -> Alert:
        when = t + timedelta(minutes=minute)
        return Alert(rule_id="r", title="T", severity="high", source="cloudtrail", explanation=f"e{minute}",
                     first_seen=when, last_seen=when, entity="p", evidence=[{"eventID": eid}], evidence_ids=[eid])

    merged = merge_alerts([alert("a", 5), alert("b", 1), alert("a", 5), alert("c", 9)])
    assert len(merged) == 1
    m = merged[0]
    assert m.evidence_ids == ["b", "a", "c"] and m.count == 3
    assert m.first_seen == t + timedelta(minutes=1) and m.last_seen == t + timedelta(minutes=9) and m.explanation == "e9"
    # a gap longer than the store's window starts another alert, as adding them one by one would
    split = merge_alerts([alert("a", 0), alert("b", 50), alert("c", 200), alert("d", 230)], timedelta(hours=1))
    assert [x.evidence_ids for x in split] == [["a", "b"], ["c", "d"]]


def test_merged_alerts_store_like_one_by_one(tmp_path: Path) -> None:
    """Folding before the store gives the same rows and counts as adding each alert alone."""
    from datetime import UTC, datetime, timedelta

    from cloudwarden.models.alert import Alert

    t = datetime(2026, 1, 1, tzinfo=UTC)
    alerts = [
        Alert(rule_id=f"r{i % 3}", title="T", severity="high", source="cloudtrail", explanation="x",
              first_seen=t + timedelta(minutes=37 * i % 600), last_seen=t + timedelta(minutes=37 * i % 600),
              entity=f"p{i % 2}", evidence=[{"eventID": f"e{i}"}], evidence_ids=[f"e{i}"])
        for i in range(60)
    ]
    ordered = sorted(alerts, key=lambda a: a.first_seen)
    one = AlertStore(open_store(f"sqlite:///{tmp_path / 'one.db'}"))
    for a in ordered:
        one.add([a])
    folded = AlertStore(open_store(f"sqlite:///{tmp_path / 'folded.db'}"))
    folded.add(merge_alerts(ordered, folded.window))

    def rows(store: AlertStore) -> list[tuple[str, str, int, datetime, datetime, list[dict[str, object]]]]:
        return sorted((a.rule_id, a.entity, a.count, a.first_seen, a.last_seen, a.evidence) for a in store.list(limit=1000))

    assert rows(one) == rows(folded)


def test_folded_alert_keeps_as_much_evidence_as_the_store(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from cloudwarden.models.alert import Alert

    t = datetime(2026, 1, 1, tzinfo=UTC)
    alerts = [Alert(rule_id="r", title="T", severity="high", source="cloudtrail", explanation="x",
                    first_seen=t + timedelta(seconds=i), last_seen=t + timedelta(seconds=i), entity="p",
                    evidence=[{"eventID": f"e{i}"}], evidence_ids=[f"e{i}"]) for i in range(50)]
    one = AlertStore(open_store(f"sqlite:///{tmp_path / 'one.db'}"))
    one.add(alerts)
    folded = AlertStore(open_store(f"sqlite:///{tmp_path / 'folded.db'}"))
    folded.add(merge_alerts(alerts, folded.window, folded.evidence_limit))
    (a,), (b,) = one.list(), folded.list()
    assert a.count == b.count == 50 and a.evidence == b.evidence and len(b.evidence) == folded.evidence_limit


def test_truncated_or_rotated_log_is_read_again_without_losing_the_old_events(env: tuple[Lake, StateStore, Path]) -> None:
    lake, state, logs = env
    logs.mkdir(parents=True)
    path = logs / "live.jsonl"
    old, new = f.many(6), f.many(3, start=100)
    path.write_text("".join(json.dumps(e) + "\n" for e in old))
    assert ingest(str(logs), lake, state, IngestOptions()).events == 6
    with path.open("r+") as fh:  # copytruncate: same inode, shorter content
        fh.truncate(0)
        fh.write("".join(json.dumps(e) + "\n" for e in new))
    assert ingest(str(logs), lake, state, IngestOptions()).events == 3
    path.unlink()  # rotation to a new file of the same name (new inode)
    path.write_text(json.dumps(f.many(1, start=200)[0]) + "\n")
    assert ingest(str(logs), lake, state, IngestOptions()).events == 1
    assert lake.count() == 10


def test_unreadable_file_is_not_checkpointed_and_is_read_next_time(env: tuple[Lake, StateStore, Path]) -> None:
    from cloudwarden.cloudtrail.ingest import Ingest
    from cloudwarden.cloudtrail.sources import LocalSource

    lake, state, logs = env
    path = f.write_records(logs / "a.json.gz", f.many(5))
    source = LocalSource(logs)
    items = source.list()
    path.unlink()
    path.mkdir()  # reading now fails with an OS error (not a content problem)
    runner = Ingest(source, lake, state, IngestOptions())
    runner.run_items(items)
    assert runner.summary.files_retry == 1 and runner.summary.files_processed == 0
    assert "will retry" in runner.summary.problems[0][2]
    path.rmdir()
    f.write_records(path, f.many(5))
    assert ingest(str(logs), lake, state, IngestOptions()).events == 5


def test_user_rules_are_loaded_with_the_builtins(env: tuple[Lake, StateStore, Path], tmp_path: Path) -> None:
    lake, state, logs = env
    rules = tmp_path / "my-rules"
    rules.mkdir()
    (rules / "describe_instances.yml").write_text(
        "title: Someone listed our instances\n"
        "id: 5b0b8a52-8a1e-4c1e-9a55-0f1c7f6b0d11\n"
        "logsource: {product: aws, service: cloudtrail}\n"
        "detection:\n  selection: {eventName: DescribeInstances}\n  condition: selection\n"
        "level: low\n"
    )
    f.write_records(logs / "a.json.gz", [f.event("DescribeInstances", "ec2.amazonaws.com", event_id="d1")])
    summary = ingest(str(logs), lake, state, IngestOptions(rule_paths=[rules]))
    assert summary.rules > 30 and summary.alerts_by_severity == {"low": 1}
    assert [a.title for a in AlertStore(state).list()] == ["Someone listed our instances"]


def test_follow_on_a_folder_picks_up_new_files(env: tuple[Lake, StateStore, Path]) -> None:
    lake, state, logs = env
    f.write_records(logs / "first.json.gz", f.many(3))
    added: list[Path] = []

    def progress(_summary: IngestSummary) -> None:
        if not added:  # after the first pass committed: a new file lands
            added.append(f.write_records(logs / "second.json.gz", f.many(4, start=100)))

    opts = IngestOptions(follow=True, poll_seconds=0.01, max_passes=2)
    summary = ingest(str(logs), lake, state, opts, progress=progress)
    assert summary.files_processed == 2 and summary.events == 7 and lake.count() == 7


@pytest.mark.parametrize("workers", [1, 2])
def test_events_stamped_in_the_future_are_reported_once(env: tuple[Lake, StateStore, Path], workers: int) -> None:
    """A record feeding a correlation rule with a time far ahead of the clock (a skewed clock, a forged record)
    is still ingested and matched, and the summary says what it meant for the correlation windows."""
    lake, state, logs = env
    future = [f.event("GetSecretValue", "secretsmanager.amazonaws.com", event_id=f"00000000-0000-0000-0000-00000000f{i:03d}",
                      time="2099-06-01T12:00:00Z", params={"secretId": f"db-{i}"}) for i in range(3)]
    now_ish = [f.event("GetSecretValue", "secretsmanager.amazonaws.com", event_id=f"00000000-0000-0000-0000-00000000a{i:03d}",
                       time="2026-01-01T12:00:00Z", params={"secretId": f"db-{i}"}) for i in range(3)]
    f.write_records(logs / "AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01/a.json.gz", now_ish)
    f.write_records(logs / "AWSLogs/111111111111/CloudTrail/us-east-1/2099/06/01/b.json.gz", future)
    got = ingest(str(logs), lake, state, IngestOptions(workers=workers))
    assert got.events == 6 and lake.count() == 6
    said = [p for p in got.to_dict()["problems"] if p["location"] == "event time"]
    assert len(said) == 1 and said[0]["reason"].startswith("3 event(s) feeding correlation rules stamped more than 5 min")
    again = ingest(str(logs), lake, state, IngestOptions(workers=workers))
    assert not [p for p in again.to_dict()["problems"] if p["location"] == "event time"]  # nothing new read


def test_events_in_the_past_say_nothing_about_event_time(env: tuple[Lake, StateStore, Path]) -> None:
    lake, state, logs = env
    f.write_records(logs / "AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01/a.json.gz", [
        f.event("GetSecretValue", "secretsmanager.amazonaws.com", event_id=f"00000000-0000-0000-0000-00000000a{i:03d}",
                params={"secretId": f"db-{i}"}) for i in range(3)])
    got = ingest(str(logs), lake, state, IngestOptions())
    assert got.events == 3
    assert not [p for p in got.to_dict()["problems"] if p["location"] == "event time"]


def test_summary_names_rules_that_fire_on_a_large_share_of_events(env: tuple[Lake, StateStore, Path]) -> None:
    lake, state, logs = env
    root = [f.event("DescribeInstances", "ec2.amazonaws.com", identity=f.root(),
                    event_id=f"00000000-0000-0000-0000-0000000{i:05d}") for i in range(120)]
    quiet = f.many(300, start=1000)
    f.write_records(logs / "AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01/a.json.gz", root + quiet)
    got = ingest(str(logs), lake, state, IngestOptions())
    noisy = got.to_dict()["noisy_rules"]
    titles = [r["title"] for r in noisy]
    assert "Root user activity" in titles
    hit = noisy[titles.index("Root user activity")]
    assert hit["firings"] >= 120 and hit["share_of_events"] >= 120 / 420
    assert all(r["share_of_events"] >= 0.05 and r["firings"] >= 100 for r in noisy)
    assert [r["firings"] for r in noisy] == sorted((r["firings"] for r in noisy), reverse=True)


def test_a_small_ingest_names_no_noisy_rule(env: tuple[Lake, StateStore, Path]) -> None:
    lake, state, logs = env  # every event fires, but 30 firings say nothing about a rule
    f.write_records(logs / "a.json.gz", [f.event("DescribeInstances", "ec2.amazonaws.com", identity=f.root(),
                                                 event_id=f"00000000-0000-0000-0000-0000000{i:05d}") for i in range(30)])
    got = ingest(str(logs), lake, state, IngestOptions())
    assert got.alerts_by_severity and got.to_dict()["noisy_rules"] == []
