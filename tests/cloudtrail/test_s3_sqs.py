"""S3 (AWSLogs layout, organization trail) and SQS notifications against a real moto_server."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from cloudwarden.cloudtrail.ingest import IngestOptions, ingest
from cloudwarden.cloudtrail.sources import S3Source, _s3_clients
from cloudwarden.store.lake import Lake
from cloudwarden.store.state import StateStore, open_store
from tests.cloudtrail import factory as f
from tests.helpers.moto_server import MotoServer

BUCKET = "org-trail-logs"
ORG = "o-abc123def4"


@pytest.fixture
def s3(moto: MotoServer) -> Any:
    _s3_clients.clear()  # per-process client cache: point it at this test's server
    client = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def _key(account: str, region: str, day: date, name: str, org: bool = True) -> str:
    base = f"AWSLogs/{ORG}/{account}" if org else f"AWSLogs/{account}"
    return f"{base}/CloudTrail/{region}/{day:%Y/%m/%d}/{account}_CloudTrail_{region}_{name}.json.gz"


def _put(s3: Any, key: str, records: list[dict[str, Any]]) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(json.dumps({"Records": records}).encode()))


def _store(tmp_path: Path) -> tuple[Lake, StateStore]:
    return Lake(tmp_path / "lake"), open_store(f"sqlite:///{tmp_path / 'state.db'}")


def test_org_trail_many_accounts_regions_incremental(s3: Any, moto: MotoServer, tmp_path: Path) -> None:
    lake, state = _store(tmp_path)
    n = 0
    for account in ("111111111111", "222222222222"):
        for region in ("us-east-1", "eu-west-1"):
            for day in (date(2026, 1, 1), date(2026, 1, 2)):
                _put(s3, _key(account, region, day, f"{n}"), f.many(10, start=n * 10, recipientAccountId=account, awsRegion=region))
                n += 1
    s3.put_object(Bucket=BUCKET, Key=f"AWSLogs/{ORG}/111111111111/CloudTrail-Digest/us-east-1/2026/01/01/d.json.gz", Body=b"{}")
    opts = IngestOptions(endpoint_url=moto.url, region_name="us-east-1")
    first = ingest(f"s3://{BUCKET}", lake, state, opts)
    assert (first.files_processed, first.events, first.files_set_aside) == (8, 80, 0)
    accounts = lake.query("SELECT account, count(*) AS n FROM api_activity GROUP BY account ORDER BY account")
    assert accounts == [{"account": "111111111111", "n": 40}, {"account": "222222222222", "n": 40}]
    # new objects arrive: only they are read
    _put(s3, _key("222222222222", "eu-west-1", date(2026, 1, 3), "new"), f.many(5, start=1000))
    _put(s3, _key("333333333333", "us-west-2", date(2026, 1, 3), "new2", org=False), f.many(5, start=2000))
    second = ingest(f"s3://{BUCKET}", lake, state, opts)
    assert (second.files_processed, second.files_already_done, second.events) == (2, 8, 10)
    assert lake.count() == 90


def test_date_range_lists_only_the_days_asked(s3: Any, moto: MotoServer, tmp_path: Path) -> None:
    lake, state = _store(tmp_path)
    for i, day in enumerate((date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3))):
        _put(s3, _key("111111111111", "us-east-1", day, f"d{i}"), f.many(4, start=i * 10, eventTime=f"{day}T05:00:00Z"))
    src = S3Source(f"s3://{BUCKET}", moto.url, "us-east-1")
    items = src.list(since=date(2026, 1, 2), until=date(2026, 1, 2))
    assert [i.day for i in items] == [date(2026, 1, 2)]
    assert [p for p, _ in src.region_prefixes()] == [f"AWSLogs/{ORG}/111111111111/CloudTrail/us-east-1/"]
    # a source pointing at one account folder works too
    deeper = S3Source(f"s3://{BUCKET}/AWSLogs/{ORG}/111111111111/", moto.url, "us-east-1")
    assert len(deeper.list()) == 3
    summary = ingest(f"s3://{BUCKET}", lake, state, IngestOptions(since=date(2026, 1, 2), endpoint_url=moto.url,
                                                                  region_name="us-east-1", until=date(2026, 1, 3)))
    assert summary.events == 8


def test_follow_polls_for_new_objects(s3: Any, moto: MotoServer, tmp_path: Path) -> None:
    lake, state = _store(tmp_path)
    today = datetime.now(UTC).date()
    _put(s3, _key("111111111111", "us-east-1", date(2026, 1, 1), "old"), f.many(3))
    _put(s3, _key("111111111111", "us-east-1", today, "a"), f.many(3, start=10, eventTime=f"{today}T00:00:00Z"))
    opts = IngestOptions(endpoint_url=moto.url, region_name="us-east-1", follow=True, poll_seconds=0.05, max_passes=2)
    summary = ingest(f"s3://{BUCKET}", lake, state, opts)
    # first poll: everything; later polls list only the recent day folders, where nothing is new
    assert (summary.files_listed, summary.files_processed, summary.files_already_done) == (3, 2, 1)


def test_sqs_notifications_drive_ingest(s3: Any, moto: MotoServer, tmp_path: Path) -> None:
    lake, state = _store(tmp_path)
    sqs = boto3.client("sqs", endpoint_url=moto.url, region_name="us-east-1")
    queue = sqs.create_queue(QueueName="trail-events")["QueueUrl"]
    keys = [_key("111111111111", "us-east-1", date(2026, 1, 1), f"n{i}") for i in range(3)]
    for i, key in enumerate(keys):
        _put(s3, key, f.many(4, start=i * 10))
    note = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": {"key": k}}} for k in keys[:2]]}
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(note))
    sns_wrapped = {"Type": "Notification", "Message": json.dumps({"s3Bucket": BUCKET, "s3ObjectKey": [keys[2], keys[0]]})}
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(sns_wrapped))
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"Records": [{"eventName": "ObjectCreated:Put",
                     "s3": {"bucket": {"name": "someone-elses"}, "object": {"key": "x.json.gz"}}}]}))
    gone = _key("111111111111", "us-east-1", date(2026, 1, 1), "deleted-since")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"Records": [{"eventName": "ObjectCreated:Put",
                     "s3": {"bucket": {"name": BUCKET}, "object": {"key": gone, "eTag": "abc", "size": 10}}}]}))
    opts = IngestOptions(endpoint_url=moto.url, region_name="us-east-1", sqs_url=queue, max_passes=3)
    summary = ingest(f"s3://{BUCKET}", lake, state, opts)
    assert summary.events == 12 and summary.files_processed == 4 and summary.files_already_done == 1
    assert summary.files_set_aside == 1 and "vanished" in summary.problems[0][2]
    assert lake.count() == 12
    left = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    assert left["Attributes"] == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_a_firehose_delivery_prefix_is_listed_as_is(s3: Any, moto: MotoServer, tmp_path: Path) -> None:
    from tests.cloudtrail.test_delivery_envelopes import eventbridge

    records = f.many(12)
    body = b"".join(json.dumps(eventbridge(r)).encode() for r in records)  # back to back, no extension
    s3.put_object(Bucket=BUCKET, Key="firehose/2026/01/01/00/trail-stream-1-2026-01-01-00-00-00-abcd", Body=body)
    s3.put_object(Bucket=BUCKET, Key="firehose/2026/01/01/01/trail-stream-1-2026-01-01-01-00-00-ef01.gz",
                  Body=gzip.compress(b"\n".join(json.dumps(eventbridge(r)).encode() for r in f.many(3, start=12))))
    lake, state = _store(tmp_path)
    summary = ingest(f"s3://{BUCKET}/firehose/", lake, state, IngestOptions(endpoint_url=moto.url, region_name="us-east-1"))
    assert (summary.files_processed, summary.events, summary.records_set_aside) == (2, 15, 0)
    again = ingest(f"s3://{BUCKET}/firehose/", lake, state, IngestOptions(endpoint_url=moto.url, region_name="us-east-1"))
    assert again.events == 0  # remembered like any other object
    state.dispose()
