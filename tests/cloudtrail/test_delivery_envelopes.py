"""CloudTrail delivered through EventBridge or CloudWatch Logs, as Kinesis Data Firehose writes it to S3:
envelopes one per line or back to back, gzip members concatenated, objects without an extension.
Hand-built envelopes in the shapes AWS documents."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson

from cloudwarden.cloudtrail.normalize import normalize
from cloudwarden.cloudtrail.sources import decompress, wanted
from tests.cloudtrail import factory as f
from tests.cloudtrail.test_parse_sources import _records


def eventbridge(record: dict[str, Any]) -> dict[str, Any]:
    console = record["eventName"] == "ConsoleLogin"
    return {
        "version": "0", "id": "eb-" + record["eventID"],
        "detail-type": "AWS Console Sign In via CloudTrail" if console else "AWS API Call via CloudTrail",
        "source": "aws." + record["eventSource"].split(".")[0], "account": record["recipientAccountId"],
        "time": record["eventTime"], "region": record["awsRegion"], "resources": [], "detail": record,
    }


def log_payload(records: list[dict[str, Any]], kind: str = "DATA_MESSAGE") -> dict[str, Any]:
    return {
        "messageType": kind, "owner": f.ACCOUNT, "logGroup": "aws-cloudtrail-logs", "logStream": f"{f.ACCOUNT}_CloudTrail_us-east-1",
        "subscriptionFilters": ["to-firehose"],
        "logEvents": [{"id": str(i), "timestamp": 1767268800000 + i, "message": json.dumps(r)} for i, r in enumerate(records)],
    }


def test_eventbridge_events_one_per_line_and_back_to_back() -> None:
    records = f.many(6)
    per_line = b"\n".join(orjson.dumps(eventbridge(r)) for r in records)
    back_to_back = b"".join(orjson.dumps(eventbridge(r)) for r in records)  # Firehose without a delimiter
    for data in (per_line, back_to_back, back_to_back.replace(b"}{", b"} {")):
        recs, probs = _records(data)
        assert not probs
        assert [r.data for r in recs] == records
        assert all(orjson.loads(r.raw) == r.data for r in recs)
        assert normalize(recs[0].data).api == records[0]["eventName"]
    recs, _ = _records(back_to_back)
    assert [r.location for r in recs[:2]] == ["line 1 document 0", "line 1 document 1"]


def test_cloudwatch_logs_payloads_yield_each_log_event_and_skip_control_messages() -> None:
    records = f.many(5)
    control = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
               "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}
    # Firehose stores each CloudWatch Logs payload as its own gzip member, back to back
    body = b"".join(gzip.compress(orjson.dumps(p)) for p in (log_payload(records[:2]), control, log_payload(records[2:])))
    data = decompress(body, "s3://bucket/firehose/2026/01/01/12/obj")
    recs, probs = _records(data)
    assert not probs
    assert [r.data for r in recs] == records
    assert recs[2].location == "line 1 document 2 logEvent 0"


def test_what_an_envelope_cannot_give_is_set_aside_with_the_reason() -> None:
    not_cloudtrail = {"version": "0", "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
                      "detail": {"instance-id": "i-1", "state": "running"}}
    bad_message = log_payload([f.event()])
    bad_message["logEvents"].append({"id": "9", "timestamp": 2, "message": "{not json"})
    bad_message["logEvents"].append({"id": "10", "timestamp": 3})
    good = eventbridge(f.event("StopLogging", "cloudtrail.amazonaws.com", event_id="evt-good"))
    data = b"\n".join([orjson.dumps(not_cloudtrail), orjson.dumps(bad_message), orjson.dumps(good) + b"{garbage"])
    recs, probs = _records(data)
    assert [r.data["eventID"] for r in recs] == [f.event()["eventID"], "evt-good"]
    reasons = {p.location: p.reason for p in probs}
    assert "EC2 Instance State-change Notification" in reasons["line 1"]
    assert reasons["line 2 logEvent 1"].startswith("message is not JSON")
    assert reasons["line 2 logEvent 2"] == "log event without a message"
    assert "invalid JSON at character" in reasons["line 3 document 1"]


def test_firehose_objects_without_an_extension_are_read_but_markers_digests_and_hidden_files_are_not() -> None:
    assert wanted("firehose/2026/01/01/12/cloudtrail-stream-1-2026-01-01-12-00-00-0f8e2c3a")
    assert wanted("AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01/x.json.gz")
    assert not wanted("AWSLogs/111111111111/")
    assert not wanted("AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2026/01/01/digest")
    assert not wanted("notes/.DS_Store")
    assert not wanted("notes/readme.txt")


def test_ingest_of_a_firehose_folder_alerts_like_the_raw_records(tmp_path: Path) -> None:
    records = f.many(30)
    hour = tmp_path / "firehose" / "2026" / "01" / "01" / "00"
    hour.mkdir(parents=True)
    (hour / "trail-stream-1-2026-01-01-00-00-00-aaaa").write_bytes(b"".join(orjson.dumps(eventbridge(r)) for r in records[:15]))
    (hour / "trail-logs-1-2026-01-01-00-05-00-bbbb.gz").write_bytes(
        gzip.compress(orjson.dumps(log_payload(records[15:22]))) + gzip.compress(orjson.dumps(log_payload(records[22:]))))
    f.write_records(tmp_path / "raw" / "records.json.gz", records)

    firehose, alerts_firehose = f.ingest_and_alerts(tmp_path, "firehose")
    raw, alerts_raw = f.ingest_and_alerts(tmp_path, "raw")
    assert firehose.files_processed == 2 and firehose.events == 30 and firehose.records_set_aside == 0
    assert alerts_firehose and alerts_firehose == alerts_raw
    assert firehose.alerts_by_severity == raw.alerts_by_severity


def test_back_to_back_documents_with_multibyte_text_and_a_truncated_tail() -> None:
    # orjson reports the trailing content's position in characters: slicing the bytes there cut documents
    # holding non-ASCII text in two (found by fuzzing; it raised instead of reporting)
    records = [f.event("PutObject", event_id=f"evt-{i}", params={"bucketName": "données", "key": "😀/é.csv"}) for i in range(3)]
    whole = b"".join(orjson.dumps(eventbridge(r)) for r in records)
    recs, probs = _records(whole)
    assert not probs and [r.data for r in recs] == records
    truncated = whole + orjson.dumps(eventbridge(records[0]))[:-7]
    recs, probs = _records(truncated)
    assert [r.data for r in recs] == records
    assert len(probs) == 1 and probs[0].location == "line 1 document 3"
    assert probs[0].reason.startswith("invalid JSON at character")
