"""Every built-in rule runs its own positive and negative examples; metadata is complete."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import yaml

from cloudwarden.detect.engine import builtin_rules_path, load_rules
from cloudwarden.detect.examples import run_examples
from cloudwarden.errors import RuleError

RULESET = load_rules([], include_builtin="cloudtrail")
RESULTS = run_examples(RULESET, require=True)


def test_builtins_all_load() -> None:
    assert RULESET.unsupported == []
    assert len(RULESET.rules) >= 30


@pytest.mark.parametrize("result", RESULTS, ids=[f"{r.rule.source.rsplit('/', 1)[-1]}:{r.rule.title[:30]}:{r.kind}{r.index}" for r in RESULTS])
def test_builtin_example(result: object) -> None:
    assert result.ok, f"{result.rule.title} {result.kind} example #{result.index}: {result.detail}"  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", sorted(builtin_rules_path("cloudtrail").glob("*.yml")), ids=lambda p: p.name)
def test_builtin_metadata(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        uuid.UUID(doc["id"])
        assert doc["author"] == "cloudwarden"
        assert doc["title"] and doc["description"] and doc["falsepositives"]
        assert doc["level"] in ("informational", "low", "medium", "high", "critical")
        assert any(re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t) for t in doc["tags"])
        ex = doc["x-examples"]
        assert ex["positive"] and ex["negative"]


EXPECTED_COVERAGE = {  # high-value event -> a built-in rule title fragment that must fire
    ("s3.amazonaws.com", "CreateBucket"): "S3 bucket created",
    ("cloudtrail.amazonaws.com", "StopLogging"): "CloudTrail logging",
    ("cloudtrail.amazonaws.com", "DeleteTrail"): "CloudTrail logging",
    ("cloudtrail.amazonaws.com", "UpdateTrail"): "CloudTrail logging",
    ("cloudtrail.amazonaws.com", "PutEventSelectors"): "CloudTrail logging",
    ("config.amazonaws.com", "StopConfigurationRecorder"): "AWS Config",
    ("config.amazonaws.com", "DeleteConfigurationRecorder"): "AWS Config",
    ("guardduty.amazonaws.com", "DeleteDetector"): "GuardDuty",
    ("ec2.amazonaws.com", "DeleteFlowLogs"): "flow logs",
    ("kms.amazonaws.com", "DisableKey"): "KMS key disabled",
    ("kms.amazonaws.com", "ScheduleKeyDeletion"): "KMS key disabled",
    ("kms.amazonaws.com", "PutKeyPolicy"): "KMS key policy",
    ("kms.amazonaws.com", "CreateGrant"): "KMS key policy",
    ("ec2.amazonaws.com", "CreateRoute"): "Route table",
    ("ec2.amazonaws.com", "ReplaceRoute"): "Route table",
    ("ec2.amazonaws.com", "DeleteRoute"): "Route table",
    ("ec2.amazonaws.com", "CreateNetworkInterface"): "Network interface",
    ("ec2.amazonaws.com", "ModifyNetworkInterfaceAttribute"): "Network interface",
    ("ec2.amazonaws.com", "AttachNetworkInterface"): "Network interface",
    ("ec2.amazonaws.com", "CreateNetworkInterfacePermission"): "Network interface",
    ("ec2.amazonaws.com", "CreateNetworkAclEntry"): "Network ACL",
    ("ec2.amazonaws.com", "AttachInternetGateway"): "gateway",
    ("ec2.amazonaws.com", "CreateNatGateway"): "gateway",
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"): "Security group",
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupEgress"): "Security group",
    ("iam.amazonaws.com", "DeactivateMFADevice"): "MFA device",
    ("iam.amazonaws.com", "DeleteVirtualMFADevice"): "MFA device",
    ("iam.amazonaws.com", "CreateUser"): "IAM user created",
    ("iam.amazonaws.com", "CreateRole"): "IAM role",
    ("iam.amazonaws.com", "CreatePolicy"): "IAM role",
    ("iam.amazonaws.com", "AttachUserPolicy"): "IAM role",
    ("iam.amazonaws.com", "CreateAccessKey"): "access key",
}


@pytest.mark.parametrize(("source", "name"), sorted(EXPECTED_COVERAGE))
def test_high_value_events_always_flagged(source: str, name: str) -> None:
    event = {"eventSource": source, "eventName": name, "userIdentity": {"type": "IAMUser", "userName": "x"},
             "sourceIPAddress": "203.0.113.1", "requestParameters": {}}
    titles = [m.rule.title for m in RULESET.match(event)]
    assert any(EXPECTED_COVERAGE[(source, name)].lower() in t.lower() for t in titles), titles


def test_builtin_rules_path() -> None:
    assert builtin_rules_path("cloudtrail").name == "cloudtrail"
    assert builtin_rules_path("linux").name == "linux"
    with pytest.raises(RuleError):
        builtin_rules_path("windows")


def test_missing_rule_path_is_an_error() -> None:
    with pytest.raises(RuleError, match="not found"):
        load_rules(["/nonexistent/rules"])
