"""Logstash / Elastic (ELK) exports of CloudTrail: `@timestamp` stands in for a missing eventTime, and the
record is found where ELK nests it. Hand-built documents in the shapes those tools write."""

from __future__ import annotations

import copy
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloudwarden.cloudtrail.ingest import IngestOptions, ingest
from cloudwarden.cloudtrail.normalize import RecordError, normalize
from cloudwarden.store.lake import Lake
from cloudwarden.store.state import open_store
from tests.cloudtrail import factory as f
from tests.cloudtrail.test_parse_sources import _records

STAMP = "2026-03-02T10:15:07.123Z"
WHEN = datetime(2026, 3, 2, 10, 15, 7, 123000, tzinfo=UTC)


_parse = _records  # the records and the problems of a file's bytes


def logstash(record: dict[str, Any], stamp: str = STAMP) -> dict[str, Any]:
    """What Logstash's json codec writes: eventTime moved to @timestamp, @version added."""
    doc = copy.deepcopy(record)
    del doc["eventTime"]
    return {**doc, "@timestamp": stamp, "@version": "1"}


def lines(*docs: dict[str, Any]) -> bytes:
    return b"\n".join(orjson.dumps(d) for d in docs) + b"\n"


def test_logstash_record_takes_its_time_from_at_timestamp() -> None:
    event = f.event("StopLogging", "cloudtrail.amazonaws.com")
    for data in (lines(logstash(event)), orjson.dumps([logstash(event)]),
                 orjson.dumps({"Records": [logstash(event)]})):  # JSON Lines, array, Records file
        recs, probs = _parse(data)
        assert not probs and len(recs) == 1
        assert recs[0].data["eventTime"] == STAMP and recs[0].data["eventID"] == event["eventID"]
        assert orjson.loads(recs[0].raw)["eventTime"] == STAMP  # the raw text kept is what was detected on
        assert normalize(recs[0].data).time == WHEN


def test_a_present_event_time_wins_over_at_timestamp() -> None:
    event = f.event("StopLogging", "cloudtrail.amazonaws.com")
    doc = {**event, "@timestamp": "2030-01-01T00:00:00.000Z"}  # Logstash's ingest time, not the event's
    for data in (lines(doc), orjson.dumps({"Records": [doc]})):
        recs, probs = _parse(data)
        assert not probs and recs[0].data["eventTime"] == event["eventTime"]
    nested = {"@timestamp": "2030-01-01T00:00:00.000Z", "aws": {"cloudtrail": event}}
    recs, _ = _parse(lines(nested))
    assert recs[0].data["eventTime"] == event["eventTime"]


def test_neither_time_field_is_still_set_aside_with_its_reason() -> None:
    event = f.event("StopLogging", "cloudtrail.amazonaws.com")
    del event["eventTime"]
    recs, probs = _parse(lines(event, {**event, "@version": "1"}))
    assert not probs and len(recs) == 2
    for rec in recs:
        with pytest.raises(RecordError) as err:
            normalize(rec.data)
        assert (err.value.field, err.value.reason) == ("eventTime", "missing")


@pytest.mark.parametrize("stamp", [1757836800000, "yesterday", ""])
def test_an_unusable_at_timestamp_is_named(stamp: Any) -> None:
    doc = logstash(f.event("StopLogging", "cloudtrail.amazonaws.com"), stamp="x")
    doc["@timestamp"] = stamp
    recs, probs = _parse(lines(doc, logstash(f.event("ListBuckets"))))
    assert len(recs) == 1 and len(probs) == 1 and probs[0].location == "line 1"
    assert "eventTime missing and @timestamp is not" in probs[0].reason


def test_records_nested_in_elk_documents() -> None:
    event = f.event("DeleteTrail", "cloudtrail.amazonaws.com")
    bare = {k: v for k, v in event.items() if k != "eventTime"}
    docs = [
        # CloudTrail's own JSON under aws.cloudtrail (a Logstash json filter with that target)
        {"@timestamp": STAMP, "aws": {"cloudtrail": bare}},
        # Elastic's AWS integration with preserve_original_event: ECS fields plus the original text
        {"@timestamp": STAMP, "event": {"action": "DeleteTrail", "original": json.dumps(bare)},
         "aws": {"cloudtrail": {"user_identity": {"type": "IAMUser"}, "event_version": "1.09"}}},
        # Filebeat / Logstash before parsing: the record as text in message
        {"@timestamp": STAMP, "message": json.dumps(bare), "host": {"name": "shipper"}},
        # elasticdump / bulk export: the document under _source
        {"_index": "cloudtrail-2026.03.02", "_id": "x1", "_source": {"@timestamp": STAMP, "message": json.dumps(bare)}},
    ]
    recs, probs = _parse(lines(*docs))
    assert not probs and len(recs) == len(docs)
    for rec in recs:
        assert rec.data["eventID"] == event["eventID"] and rec.data["eventName"] == "DeleteTrail"
        assert rec.data["eventTime"] == STAMP and orjson.loads(rec.raw) == rec.data
        assert normalize(rec.data).time == WHEN
    # the record's own eventTime inside event.original wins over the document's @timestamp
    recs, _ = _parse(lines({"@timestamp": "2030-01-01T00:00:00Z", "event": {"original": json.dumps(event)}}))
    assert recs[0].data["eventTime"] == event["eventTime"]


def test_elasticsearch_search_response_yields_each_hit() -> None:
    events = f.many(3)
    response = {"took": 3, "hits": {"total": {"value": 3}, "hits": [
        {"_index": "ct", "_id": str(i), "_source": logstash(e)} for i, e in enumerate(events)]}}
    recs, probs = _parse(json.dumps(response, indent=2).encode())
    assert not probs and [r.data["eventID"] for r in recs] == [e["eventID"] for e in events]
    assert [r.location for r in recs] == ["record 0 hit 0", "record 0 hit 1", "record 0 hit 2"]
    assert all(r.data["eventTime"] == STAMP for r in recs)


def test_elk_documents_we_cannot_read_are_set_aside_with_the_reason() -> None:
    # ECS fields only (rebuilt in test_ecs.py when they name the call), here without event.provider
    ecs_only = {"@timestamp": STAMP, "event": {"action": "DeleteTrail"},
                "aws": {"cloudtrail": {"user_identity": {"type": "IAMUser"}, "event_version": "1.09"}}}
    bad_text = {"@timestamp": STAMP, "message": "{truncated", "aws": {"cloudtrail": {"event_version": "1.09"}}}
    good = logstash(f.event("StopLogging", "cloudtrail.amazonaws.com"))
    recs, probs = _parse(lines(ecs_only, bad_text, good))
    assert len(recs) == 1 and recs[0].location == "line 3"
    reasons = {p.location: p.reason for p in probs}
    assert "without the original CloudTrail record" in reasons["line 1"]
    assert "event.provider and event.action" in reasons["line 1"]
    assert reasons["line 2"].startswith("message: invalid JSON")


def test_csv_export_with_at_timestamp_column() -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["@timestamp", "eventid", "eventsource", "eventname", "useridentity"])
    writer.writeheader()
    writer.writerow({"@timestamp": STAMP, "eventid": "e-1", "eventsource": "iam.amazonaws.com",
                     "eventname": "CreateUser", "useridentity": json.dumps(f.iam_user())})
    recs, probs = _parse(out.getvalue().encode(), csv_format=True)
    assert not probs and recs[0].data["eventTime"] == STAMP and normalize(recs[0].data).time == WHEN


def test_ingest_of_a_logstash_export(tmp_path: Path) -> None:
    events = [f.event("StopLogging", "cloudtrail.amazonaws.com", event_id="e-1"),
              f.event("ListBuckets", "s3.amazonaws.com", event_id="e-2")]
    no_time = {k: v for k, v in f.event("GetCallerIdentity", "sts.amazonaws.com", event_id="e-3").items()
               if k != "eventTime"}
    path = tmp_path / "logs" / "logstash-cloudtrail.jsonl"
    path.parent.mkdir()
    path.write_bytes(lines(logstash(events[0]), {**events[1], "@timestamp": "2030-01-01T00:00:00Z"}, no_time))
    lake = Lake(tmp_path / "lake")
    summary = ingest(str(path.parent), lake, open_store(f"sqlite:///{tmp_path / 'state.db'}"), IngestOptions())
    assert (summary.events, summary.records_set_aside) == (2, 1)
    assert [(Path(k).name, loc, r) for k, loc, r in summary.problems] == [
        ("logstash-cloudtrail.jsonl", "line 3", "field eventTime: missing")]
    times = {r["api"]: r["time"] for r in lake.query("SELECT api, time FROM api_activity")}
    assert times["StopLogging"].astimezone(UTC) == WHEN  # from @timestamp
    assert times["ListBuckets"].astimezone(UTC).isoformat().startswith(events[1]["eventTime"][:19])
    assert summary.alerts_by_severity  # StopLogging is a built-in detection
