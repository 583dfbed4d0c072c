"""The pure event -> (service, region, checks) mapping."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from cloudwarden.server.change_map import affected_checks, change_target, coalesce


def rec(source: str, name: str, **extra: object) -> dict[str, object]:
    r: dict[str, object] = {"eventSource": source, "eventName": name, "awsRegion": "eu-west-1", "recipientAccountId": "123456789012",
                            "eventID": "e-1", "eventTime": "2026-01-01T00:00:00Z",
                            "userIdentity": {"arn": "arn:aws:iam::123456789012:user/mallory"}, "requestParameters": {}}
    r.update(extra)
    return r


@pytest.mark.parametrize(("source", "name", "service"), [
    ("s3.amazonaws.com", "PutBucketPolicy", "s3"),
    ("s3.amazonaws.com", "PutBucketAcl", "s3"),
    ("s3.amazonaws.com", "DeleteBucketPublicAccessBlock", "s3"),
    ("s3-control.amazonaws.com", "PutPublicAccessBlock", "s3"),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", "ec2"),
    ("cloudtrail.amazonaws.com", "StopLogging", "cloudtrail"),
    ("iam.amazonaws.com", "DeactivateMFADevice", "iam"),
    ("iam.amazonaws.com", "AttachUserPolicy", "iam"),
    ("kms.amazonaws.com", "DisableKeyRotation", "kms"),
    ("config.amazonaws.com", "StopConfigurationRecorder", "config"),
    ("logs.amazonaws.com", "DeleteMetricFilter", "logs"),
])
def test_changing_calls_map_to_their_service(source: str, name: str, service: str) -> None:
    t = change_target(rec(source, name))
    assert t is not None and t.service == service and t.region == "eu-west-1" and t.account == "123456789012"
    assert "mallory" in t.reason and name in t.reason


@pytest.mark.parametrize(("source", "name"), [
    ("s3.amazonaws.com", "GetBucketPolicy"), ("iam.amazonaws.com", "ListUsers"), ("ec2.amazonaws.com", "DescribeInstances"),
    ("sts.amazonaws.com", "AssumeRole"), ("unknown.amazonaws.com", "PutBucketPolicy"),
])
def test_reads_and_unrelated_calls_map_to_nothing(source: str, name: str) -> None:
    assert change_target(rec(source, name)) is None


def test_failed_call_changes_nothing() -> None:
    assert change_target(rec("s3.amazonaws.com", "PutBucketPolicy", errorCode="AccessDenied")) is None


def test_resource_named_from_request_parameters() -> None:
    t = change_target(rec("s3.amazonaws.com", "PutBucketPolicy", requestParameters={"bucketName": "payroll"}))
    assert t is not None and t.resource == "payroll" and "payroll" in t.reason
    t = change_target(rec("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", requestParameters={"groupId": "sg-1"}))
    assert t is not None and t.resource == "sg-1"


def test_lake_row_shape_is_accepted() -> None:
    raw = rec("kms.amazonaws.com", "DisableKeyRotation", requestParameters={"keyId": "k-1"})
    row = {"event_id": "e-1", "service": "kms.amazonaws.com", "api": "DisableKeyRotation", "raw": json.dumps(raw)}
    t = change_target(row)
    assert t is not None and t.service == "kms" and t.resource == "k-1"
    # without raw JSON the normalised columns are enough
    t2 = change_target({"service": "iam.amazonaws.com", "api": "AttachUserPolicy", "region": "us-east-1", "account": "1",
                        "principal": "arn:aws:iam::1:user/x", "time": "t", "error_code": ""})
    assert t2 is not None and t2.service == "iam"


@dataclass
class Meta:
    id: str
    service: str


def test_affected_checks_and_coalesce() -> None:
    t = change_target(rec("s3.amazonaws.com", "PutBucketAcl"))
    assert t is not None
    metas = [Meta("s3_b", "s3"), Meta("iam_x", "iam"), Meta("s3_a", "s3")]
    assert affected_checks(t, metas) == ["s3_a", "s3_b"]
    burst = [change_target(rec("s3.amazonaws.com", n)) for n in ("PutBucketAcl", "PutBucketPolicy", "DeleteBucketPolicy")]
    other = change_target(rec("iam.amazonaws.com", "AttachUserPolicy"))
    assert len(coalesce([x for x in [*burst, other] if x])) == 2
