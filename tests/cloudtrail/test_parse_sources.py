from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import date
from pathlib import Path

import orjson
import pytest

from cloudwarden.cloudtrail.parse import Problem, Record, iter_records, parse_athena_struct
from cloudwarden.cloudtrail.sources import LocalSource, WorkItem, decompress, layout_of, objects_in_message, read_item
from cloudwarden.errors import InputError
from tests.cloudtrail import factory as f


def _records(data: bytes, csv_format: bool = False) -> tuple[list[Record], list[Problem]]:
    recs: list[Record] = []
    probs: list[Problem] = []
    for r in iter_records(data, csv_format=csv_format):
        if isinstance(r, Problem):
            probs.append(r)
        else:
            recs.append(Record(*r))
    return recs, probs


def test_records_file_keeps_exact_raw_text() -> None:
    events = f.many(3)
    body = json.dumps({"Records": events}, indent=2).encode()
    recs, probs = _records(body)
    assert not probs and [r.data["eventID"] for r in recs] == [e["eventID"] for e in events]
    assert [r.location for r in recs] == ["record 0", "record 1", "record 2"]
    assert orjson.loads(recs[1].raw) == events[1] and recs[1].raw in body  # a slice of the file, not re-encoded


def test_json_lines_array_and_single_object() -> None:
    events = f.many(3)
    jsonl = b"\n".join(json.dumps(e).encode() for e in events) + b"\n\n"
    recs, probs = _records(jsonl)
    assert not probs and [r.location for r in recs] == ["line 1", "line 2", "line 3"]
    recs, _ = _records(json.dumps(events).encode())
    assert len(recs) == 3
    recs, _ = _records(json.dumps(events[0], indent=2).encode())
    assert len(recs) == 1 and recs[0].data["eventID"] == events[0]["eventID"]
    assert _records(b"") == ([], [])


def test_cloudtrail_lake_export_with_event_json_column() -> None:
    events = f.many(2)
    rows = [{"eventJson": json.dumps(e), "eventTime": e["eventTime"]} for e in events]
    rows[1] = {"EventJSON": events[1]}  # object, other spelling
    recs, probs = _records(b"\n".join(json.dumps(r).encode() for r in rows))
    assert not probs and [r.data["eventID"] for r in recs] == [e["eventID"] for e in events]
    _, probs = _records(json.dumps({"eventjson": "{not json"}).encode())
    assert probs and "eventjson" in probs[0].reason


def test_athena_flattened_rows_json_and_csv() -> None:
    e = f.event("StopLogging", "cloudtrail.amazonaws.com", params={"name": "t"})
    row = {
        "eventversion": "1.09",
        "useridentity": {"type": "IAMUser", "arn": e["userIdentity"]["arn"], "accountid": f.ACCOUNT,
                         "accesskeyid": "AKIAX", "sessioncontext": {"attributes": {"mfaauthenticated": "false"}}},
        "eventtime": e["eventTime"], "eventsource": e["eventSource"], "eventname": e["eventName"],
        "awsregion": "us-east-1", "sourceipaddress": "203.0.113.5", "useragent": "aws-cli/2",
        "requestparameters": json.dumps({"name": "t"}), "eventid": "ath-1", "readonly": "false",
        "recipientaccountid": f.ACCOUNT, "errorcode": None,
    }
    recs, probs = _records(json.dumps([row]).encode())
    assert not probs
    got = recs[0].data
    assert got["eventID"] == "ath-1" and got["eventName"] == "StopLogging"
    assert got["userIdentity"]["accessKeyId"] == "AKIAX" and got["requestParameters"] == {"name": "t"}
    assert got["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    assert got["readOnly"] is False and "errorCode" not in got
    # CSV export: struct columns rendered the Athena way
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["eventid", "eventtime", "eventsource", "eventname", "useridentity", "requestparameters"])
    writer.writeheader()
    writer.writerow({"eventid": "csv-1", "eventtime": "2026-01-01T00:00:00Z", "eventsource": "iam.amazonaws.com",
                     "eventname": "CreateUser", "useridentity": "{type=IAMUser, arn=arn:aws:iam::1:user/a, accountid=1}",
                     "requestparameters": '{"userName": "x"}'})
    writer.writerow({"eventid": "", "eventtime": "", "eventsource": "", "eventname": "", "useridentity": "", "requestparameters": ""})
    recs, probs = _records(buf.getvalue().encode(), csv_format=True)
    assert recs[0].data["userIdentity"] == {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a", "accountId": "1"}
    assert recs[0].data["requestParameters"] == {"userName": "x"}
    assert not probs and recs[1].data == {}  # an empty row: normalisation sets it aside (no eventID)


def test_athena_struct_parser() -> None:
    assert parse_athena_struct("{a=1, b={c=x y, d=null}, e=[p, q]}") == {"a": "1", "b": {"c": "x y", "d": None}, "e": ["p", "q"]}


def test_bad_records_are_reported_and_the_rest_goes_on() -> None:
    good = f.many(2)
    jsonl = json.dumps(good[0]).encode() + b"\n{broken\n" + b'{"eventID": "x\xff"}\n' + json.dumps(good[1]).encode()
    recs, probs = _records(jsonl)
    assert [r.data["eventID"] for r in recs] == [good[0]["eventID"], good[1]["eventID"]]
    assert [p.location for p in probs] == ["line 2", "line 3"]
    assert "invalid JSON" in probs[0].reason and "non-UTF-8" in probs[1].reason
    # a Records file with one non-UTF-8 record: only that record is set aside
    body = json.dumps({"Records": good}).encode().replace(good[1]["eventID"].encode(), b"bad\xfe\xffid")
    recs, probs = _records(body)
    assert len(recs) == 1 and [p.location for p in probs] == ["record 1"] and "non-UTF-8" in probs[0].reason
    # a Records file that is not valid JSON: the file is set aside, with the position
    _, probs = _records(json.dumps({"Records": good}).encode()[:-40])
    assert len(probs) == 1 and probs[0].location == "file" and "truncated" in probs[0].reason
    _, probs = _records(json.dumps({"Records": good}, indent=1).encode().replace(b'"eventName"', b'"eventName" x', 1))
    assert len(probs) == 1 and probs[0].location == "file" and "line " in probs[0].reason


def test_decompress_gzip_variants() -> None:
    body = b'{"Records": []}'
    assert decompress(gzip.compress(body), "x") == body
    assert decompress(body, "x") == body
    assert decompress(gzip.compress(b"ab") + gzip.compress(b"cd"), "x") == b"abcd"  # multi-member
    with pytest.raises(InputError, match="truncated gzip"):
        decompress(gzip.compress(body * 100)[:-30], "f.json.gz")
    with pytest.raises(InputError, match="corrupt gzip|truncated"):
        decompress(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage-not-deflate", "f.json.gz")
    with pytest.raises(InputError, match="limit"):
        decompress(gzip.compress(b"x" * 10_000), "big.json.gz", max_bytes=1000)


def test_layout() -> None:
    key = "logs/AWSLogs/o-abc123/222222222222/CloudTrail/eu-west-1/2026/01/31/222222222222_CloudTrail_eu-west-1_x.json.gz"
    assert layout_of(key) == ("222222222222", "eu-west-1", date(2026, 1, 31))
    assert layout_of("AWSLogs/111111111111/CloudTrail/us-east-1/2026/02/30/x.json.gz")[2] is None
    assert layout_of("random/file.json") == ("", "", None)


def test_local_source_lists_layout_range_and_skips_digests(tmp_path: Path) -> None:
    base = tmp_path / "trail"
    for day in ("01", "02", "03"):
        f.write_records(base / f"AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/{day}/a_{day}.json.gz", f.many(1))
    f.write_records(base / "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2026/01/01/d.json.gz", [])
    (base / "notes.txt").write_text("x")
    (base / "loose.jsonl").write_text("")
    src = LocalSource(base)
    items = src.list()
    names = sorted(Path(i.key).name for i in items)
    assert names == ["a_01.json.gz", "a_02.json.gz", "a_03.json.gz", "loose.jsonl"]
    ranged = src.list(since=date(2026, 1, 2), until=date(2026, 1, 2))
    assert sorted(Path(i.key).name for i in ranged) == ["a_02.json.gz", "loose.jsonl"]  # unknown day: kept
    item = next(i for i in items if i.key.endswith("a_01.json.gz"))
    assert (item.account, item.region, item.day) == ("111111111111", "us-east-1", date(2026, 1, 1))
    assert next(i for i in items if i.key.endswith(".jsonl")).appendable


def test_read_appendable_file_stops_at_the_last_full_line(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":2}\n{"c":')
    item = WorkItem(source="dir:x", key=str(path), etag="1:2", size=path.stat().st_size, appendable=True)
    data, end = read_item(item)
    assert data == b'{"a":1}\n{"b":2}\n' and end == len(data)


def test_sqs_message_shapes() -> None:
    s3_event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"},
                "object": {"key": "AWSLogs/1/CloudTrail/x+y%3D.json.gz", "size": 10, "eTag": "e1"}}},
                            {"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]}
    assert objects_in_message(json.dumps(s3_event)) == [("b", "AWSLogs/1/CloudTrail/x y=.json.gz", "e1", 10)]
    wrapped = {"Type": "Notification", "Message": json.dumps(s3_event)}
    assert len(objects_in_message(json.dumps(wrapped))) == 1
    cloudtrail_sns = {"s3Bucket": "b", "s3ObjectKey": ["k1", "k2"]}
    assert [o[1] for o in objects_in_message(json.dumps(cloudtrail_sns))] == ["k1", "k2"]
    assert objects_in_message('{"Event": "s3:TestEvent"}') == [] and objects_in_message("not json") == []


def test_items_come_in_time_order_across_accounts_and_regions(tmp_path: Path) -> None:
    base = tmp_path / "trail"
    names = [
        ("111111111111", "us-east-1", "02", "111111111111_CloudTrail_us-east-1_20260102T0000Z_a.json.gz"),
        ("111111111111", "us-east-1", "01", "111111111111_CloudTrail_us-east-1_20260101T0010Z_b.json.gz"),
        ("222222222222", "eu-west-1", "01", "222222222222_CloudTrail_eu-west-1_20260101T0005Z_c.json.gz"),
    ]
    for account, region, day, name in names:
        f.write_records(base / f"AWSLogs/{account}/CloudTrail/{region}/2026/01/{day}/{name}", f.many(1))
    order = [Path(i.key).name.split("_")[3] for i in LocalSource(base).list()]
    assert order == ["20260101T0005Z", "20260101T0010Z", "20260102T0000Z"]


def test_deeply_nested_json_is_set_aside_not_a_crash() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    for data in (deep, b'{"Records": [' + deep + b"]}", b'{"eventID": ' + deep + b"}"):
        recs, probs = _records(data)
        assert not recs and len(probs) == 1 and ("nested too deeply" in probs[0].reason or "depth limit" in probs[0].reason)
    lines = b"\n".join([b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", json.dumps(f.event()).encode()])
    recs, probs = _records(lines)
    assert len(recs) == 1 and [p.location for p in probs] == ["line 1"]
