"""Rules and labeled events from ../shared/data (skipped with the reason when it is absent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from cloudwarden.detect.engine import Detector, load_rules
from cloudwarden.detect.examples import event_time
from tests.conftest import shared_data

BUILTINS = load_rules([], include_builtin="cloudtrail")


def _sigma_files(root: Path, product: str) -> list[Path]:
    out = []
    for path in root.rglob("*.yml"):
        try:
            doc = next(iter(yaml.safe_load_all(path.read_text(encoding="utf-8"))), None)
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("logsource"), dict) and doc["logsource"].get("product") == product:
            out.append(path)
    return out


def test_sigmahq_cloudtrail_rules_load() -> None:
    root = shared_data("sigma")
    files = [p for p in _sigma_files(root, "aws") if "cloudtrail" in p.read_text(encoding="utf-8")]
    rs = load_rules(files)
    total = len(rs.rules) + len(rs.unsupported)
    assert total >= 57, f"found {total} AWS CloudTrail rules"
    for src, rid, reason in rs.unsupported:
        print(f"unsupported: {src} {rid}: {reason}")
    assert len(rs.rules) >= 55, rs.unsupported


def test_sigmahq_linux_rules_load() -> None:
    root = shared_data("sigma")
    rs = load_rules(_sigma_files(root, "linux"))
    total = len(rs.rules) + len(rs.unsupported)
    assert total >= 210, f"found {total} Linux rules"
    assert len(rs.rules) >= 200, rs.unsupported[:20]


# Panther rule ids whose behaviour a built-in covers: their positive test events (successful calls of an API
# a built-in rule is indexed on) must make that built-in fire. Ids as in panther-analysis'
# rules/aws_cloudtrail_rules (older spellings kept: the data may come from an older snapshot).
PANTHER_TO_BUILTIN = {
    "AWS.CloudTrail.Stopped": "CloudTrail logging",
    "AWS.CloudTrail.EventSelectorsDisabled": "CloudTrail logging",
    "AWS.Console.LoginWithoutMFA": "Console login without MFA",
    "AWS.Console.RootLogin": "Root user activity",
    "AWS.Root.Activity": "Root user activity",
    "AWS.KMS.CustomerManagedKeyLoss": "KMS key disabled",
    "AWS.EC2.SecurityGroupModified": "Security group",
    "AWS.EC2.RouteTableModified": "Route table",
    "AWS.EC2.NetworkACLPermissiveEntry": "Network ACL",
    "AWS.CloudTrail.NetworkACLPermissiveEntry": "Network ACL",
    "AWS.EC2.NetworkACLModified": "Network ACL",
    "AWS.EC2.GatewayModified": "gateway",
    "AWS.S3.BucketPolicyModified": "S3 bucket",
    "AWS.S3.DeletePublicAccessBlock": "Block Public Access",
    "AWS.S3.DisableBucketLogging": "server access logging disabled",
    "AWS.Config.ServiceDisabled": "AWS Config",
    "AWS.ConfigService.DisabledDeleted": "AWS Config",
    "AWS.GuardDuty.Disabled": "GuardDuty",
    "AWS.VPCFlow.LogsDeleted": "VPC flow logs deleted",
    "AWS.IAM.CreateUser": "IAM user created",
    "AWS.IAM.CreateRole": "IAM role, policy",
    "AWS.IAM.PolicyModified": "IAM role, policy",
    "AWS.IAM.AttachAdminUserPolicy": "Administrator access",
    "AWS.IAM.AttachAdminRolePolicy": "Administrator access",
    "AWS.IAM.Backdoor.User.Keys": "access key created for another user",
    "AWS.CloudTrail.RootAccessKeyCreated": "IAM access key created",
    "AWS.CloudTrail.LoginProfileCreatedOrModified": "Console password set for another user",
    "AWS.User.Login.Profile.Modified": "Console password set for another user",
    "AWS.CloudTrail.SnapshotMadePublic": "EBS snapshot shared",
    "AWS.CloudTrail.AMIModifiedForPublicAccess": "AMI shared",
    "AWS.RDS.SnapshotShared": "RDS snapshot shared",
    "AWS.CloudTrail.IMDSCredentialExfiltration": "instance credentials",
    "AWS.STS.GetCallerIdentity.TruffleHog": "offensive tool",
    "AWS.EC2.Startup.Script.Change": "user data changed",
    "AWS.RDS.MasterPasswordUpdated": "RDS master user password",
    "AWS.Suspicious.SAML.Activity": "identity provider",
    "AWS.Lambda.UpdateFunctionCode": "Lambda function code or configuration changed",
    "AWS.Lambda.UpdateFunctionConfiguration": "Lambda function code or configuration changed",
    "AWS.CloudTrail.DNSLogsDeleted": "Resolver query logging removed",
    "AWS.EC2.DownloadInstanceUserData": "user data read",
    "AWS.Bedrock.DeleteModelInvocationLoggingConfiguration": "Security monitoring service disabled",
    "AWS.WAF.Disassociation": "Security monitoring service disabled",
    "AWS.CloudTrail.CodebuildProjectMadePublic": "CodeBuild project made public",
    "AWS.EC2.EBS.Encryption.Disabled": "EBS encryption by default disabled",
    "AWS.RDS.AutomatedBackupDeleted": "RDS database or its backups deleted",
    "AWS.RDS.DeletionProtectionDisabled": "RDS database or its backups deleted",
    "AWS.RDS.SnapshotDeleted": "RDS database or its backups deleted",
    "AWS.RDS.InstanceMadePublic": "RDS database made publicly accessible",
    "AWS.RDS.PublicRestore": "RDS database made publicly accessible",
    "AWS.RDS.SnapshotExport": "RDS snapshot exported to S3",
    "AWS.S3.CopyObjectWithClientSideEncryption": "customer-provided encryption key",
}
INDEXED_NAMES = {k for _is_base, _get, table in BUILTINS._indexes for k in table}


_RULE_KEYS = ("RuleID", "rule_id", "ruleId", "rule")
_EXPECTED_KEYS = ("ExpectedResult", "expected_result", "expected", "label")


def _label(row: dict[str, Any]) -> tuple[str, bool] | None:
    """(Panther rule id, expected result) of a labeled row, or None when it carries no Panther label."""
    rid = next((row[k] for k in _RULE_KEYS if isinstance(row.get(k), str)), None)
    expected = next((row[k] for k in _EXPECTED_KEYS if k in row), None)
    if rid is None or expected is None:
        return None
    if isinstance(expected, str):
        expected = expected.strip().lower() in ("true", "1", "yes", "positive", "malicious", "alert")
    return rid, bool(expected)


def _as_event(log: Any) -> dict[str, Any] | None:
    if isinstance(log, str):
        try:
            log = orjson.loads(log)
        except orjson.JSONDecodeError:
            return None
    return log if isinstance(log, dict) else None


def _panther_tests(root: Path) -> list[tuple[str, bool, dict[str, Any]]]:
    """Panther rule tests, either as shared/data holds them (`<set>/*.jsonl`, one row per test: the event under
    "event" beside the rule id and expected result, as make_cloudtrail_corpus.py reads them) or as Panther's own
    rule YAML files (RuleID + Tests[].Log/ExpectedResult)."""
    out = []
    for path in sorted(root.rglob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                row = orjson.loads(line) if line.strip() else None
            except orjson.JSONDecodeError:
                continue
            label = _label(row) if isinstance(row, dict) else None
            event = _as_event(row.get("event")) if label and isinstance(row, dict) else None
            if label and event:
                out.append((label[0], label[1], event))
    for path in list(root.rglob("*.yml")) + list(root.rglob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        if not isinstance(doc, dict) or "RuleID" not in doc:
            continue
        for test in doc.get("Tests") or []:
            log = _as_event(test.get("Log"))
            if log is not None:
                out.append((doc["RuleID"], bool(test.get("ExpectedResult")), log))
    return out


def test_panther_regression_positives_alert() -> None:
    root = shared_data("cloudtrail")
    cases = [(rid, log) for rid, expected, log in _panther_tests(root)
             if expected and PANTHER_TO_BUILTIN.get(rid) and not log.get("errorCode")
             and str(log.get("eventName", "")).lower() in INDEXED_NAMES]
    if not cases:
        import pytest

        pytest.skip(f"no Panther rule tests for covered rules under {root}")
    misses = []
    for rid, log in cases:
        titles = [m.rule.title.lower() for m in BUILTINS.match(log, include_silent=True)]
        if not any(str(PANTHER_TO_BUILTIN[rid]).lower() in t for t in titles):
            misses.append((rid, log.get("eventName")))
    print(f"Panther positives checked: {len(cases)} events of {len({rid for rid, _ in cases})} covered rules; misses {len(misses)}")
    assert not misses, misses


def test_otrf_s3_exfiltration_recording_alerts() -> None:
    root = shared_data("cloudtrail")
    files = [p for p in root.rglob("*") if p.is_file() and "otrf" in str(p).lower() and p.suffix in (".json", ".jsonl")]
    if not files:
        import pytest

        pytest.skip(f"no OTRF recording under {root}")
    events: list[dict[str, Any]] = []
    for f in files:
        text = f.read_bytes()
        try:
            data = orjson.loads(text)
            events.extend(data.get("Records", []) if isinstance(data, dict) else data)
        except orjson.JSONDecodeError:
            events.extend(orjson.loads(line) for line in text.splitlines() if line.strip())
    det = Detector(BUILTINS)
    alerts = [a for e in events if isinstance(e, dict) for a in det.process(e, event_time(e))]
    assert alerts, "the S3 exfiltration recording raised no alert"
