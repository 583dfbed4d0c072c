"""Which CloudTrail events change compliance posture, and what to re-check when they arrive. Pure.

`change_target(event)` maps one CloudTrail record (raw JSON shape, or the lake's ApiActivity fields) to
the collector service to re-run, the region it covers, the resource touched and a reason a person reads.
`affected_checks(target, metas)` picks the checks that read that service's inventory. Read-only and
failed calls never change anything, so they map to None.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GLOBAL = "global"

# eventSource -> (collector service, {eventName, ...}). Collector services are the names the compliance
# collectors register under; a service not in the registry at run time is reported, not guessed.
CHANGE_EVENTS: dict[str, tuple[str, frozenset[str]]] = {
    "s3.amazonaws.com": ("s3", frozenset({
        "PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl", "PutBucketPublicAccessBlock",
        "DeleteBucketPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock",
        "PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock", "PutBucketEncryption",
        "DeleteBucketEncryption", "PutBucketVersioning", "PutBucketLogging", "CreateBucket", "DeleteBucket",
        "PutBucketOwnershipControls",
    })),
    "s3-control.amazonaws.com": ("s3", frozenset({"PutPublicAccessBlock", "DeletePublicAccessBlock"})),
    "ec2.amazonaws.com": ("ec2", frozenset({
        "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupEgress", "CreateSecurityGroup", "DeleteSecurityGroup", "ModifySecurityGroupRules",
        "CreateNetworkAclEntry", "ReplaceNetworkAclEntry", "DeleteNetworkAclEntry", "CreateFlowLogs",
        "DeleteFlowLogs", "EnableEbsEncryptionByDefault", "DisableEbsEncryptionByDefault",
        "ModifyInstanceMetadataOptions", "RunInstances", "CreateVpc", "DeleteVpc", "CreateRoute",
        "ReplaceRoute", "CreateVpcPeeringConnection",
    })),
    "cloudtrail.amazonaws.com": ("cloudtrail", frozenset({
        "StopLogging", "StartLogging", "DeleteTrail", "UpdateTrail", "CreateTrail", "PutEventSelectors",
        "PutInsightSelectors",
    })),
    "iam.amazonaws.com": ("iam", frozenset({
        "DeactivateMFADevice", "DeleteVirtualMFADevice", "EnableMFADevice", "AttachUserPolicy",
        "DetachUserPolicy", "PutUserPolicy", "DeleteUserPolicy", "AttachRolePolicy", "AttachGroupPolicy",
        "PutRolePolicy", "PutGroupPolicy", "AddUserToGroup", "CreateAccessKey", "UpdateAccessKey",
        "DeleteAccessKey", "CreateUser", "DeleteUser", "CreateLoginProfile", "UpdateLoginProfile",
        "DeleteLoginProfile", "UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy",
        "CreatePolicyVersion", "SetDefaultPolicyVersion", "UploadServerCertificate",
        "DeleteServerCertificate", "CreateRole", "UpdateAssumeRolePolicy",
    })),
    "kms.amazonaws.com": ("kms", frozenset({
        "DisableKeyRotation", "EnableKeyRotation", "ScheduleKeyDeletion", "CancelKeyDeletion", "DisableKey",
        "EnableKey", "PutKeyPolicy", "CreateKey",
    })),
    "config.amazonaws.com": ("config", frozenset({
        "StopConfigurationRecorder", "StartConfigurationRecorder", "DeleteConfigurationRecorder",
        "PutConfigurationRecorder", "DeleteDeliveryChannel", "PutDeliveryChannel",
    })),
    "rds.amazonaws.com": ("rds", frozenset({"ModifyDBInstance", "CreateDBInstance", "DeleteDBInstance", "ModifyDBSnapshotAttribute"})),
    "logs.amazonaws.com": ("logs", frozenset({"PutMetricFilter", "DeleteMetricFilter", "DeleteLogGroup"})),
    "monitoring.amazonaws.com": ("cloudwatch", frozenset({"PutMetricAlarm", "DeleteAlarms"})),
    "sns.amazonaws.com": ("sns", frozenset({"Subscribe", "Unsubscribe", "DeleteTopic"})),
    "securityhub.amazonaws.com": ("securityhub", frozenset({"DisableSecurityHub", "EnableSecurityHub"})),
    "access-analyzer.amazonaws.com": ("accessanalyzer", frozenset({"DeleteAnalyzer", "CreateAnalyzer"})),
    "elasticfilesystem.amazonaws.com": ("efs", frozenset({"CreateFileSystem", "DeleteFileSystem"})),
}

# Which request parameter names the resource, per service, first match wins.
_RESOURCE_PARAMS = ("bucketName", "groupId", "groupName", "userName", "roleName", "keyId", "name", "trailName",
                    "dBInstanceIdentifier", "networkAclId", "policyArn", "serialNumber", "configurationRecorderName")


@dataclass(frozen=True)
class ChangeTarget:
    service: str  # collector service to re-run
    region: str  # the event's region; the runner uses GLOBAL for global collectors
    account: str
    api: str
    event_source: str
    resource: str  # the resource the call named, when it names one
    principal: str
    event_id: str
    event_time: str

    @property
    def reason(self) -> str:
        what = f" on {self.resource}" if self.resource else ""
        by = f" by {self.principal}" if self.principal else ""
        return f"{self.api}{what}{by} ({self.event_time})"


def _as_dict(event: Mapping[str, Any]) -> dict[str, Any]:
    """Accept a raw CloudTrail record or a lake row (ApiActivity fields, with `raw` JSON text)."""
    if "eventName" in event:
        return dict(event)
    raw = event.get("raw")
    if isinstance(raw, str) and raw.strip().startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            data = {}
        if isinstance(data, dict) and "eventName" in data:
            return data
    # no raw record: rebuild the fields we need from the normalised columns
    return {
        "eventSource": event.get("service", ""), "eventName": event.get("api", ""),
        "awsRegion": event.get("region", ""), "recipientAccountId": event.get("account", ""),
        "errorCode": event.get("error_code", ""), "eventID": event.get("event_id", ""),
        "eventTime": str(event.get("time", "")), "requestParameters": {},
        "userIdentity": {"arn": event.get("principal", "")},
        "resources": [{"ARN": r} for r in (event.get("resources") or [])],
    }


def _resource(rec: Mapping[str, Any]) -> str:
    params = rec.get("requestParameters")
    if isinstance(params, Mapping):
        for key in _RESOURCE_PARAMS:
            value = params.get(key)
            if isinstance(value, str) and value:
                return value
    res = rec.get("resources")
    if isinstance(res, list):
        for r in res:
            if isinstance(r, Mapping) and isinstance(r.get("ARN"), str):
                return str(r["ARN"])
    return ""


def change_target(event: Mapping[str, Any]) -> ChangeTarget | None:
    rec = _as_dict(event)
    source = str(rec.get("eventSource") or "")
    api = str(rec.get("eventName") or "")
    entry = CHANGE_EVENTS.get(source)
    if entry is None or api not in entry[1]:
        return None
    if rec.get("errorCode"):  # the call failed: nothing changed
        return None
    ident = rec.get("userIdentity") if isinstance(rec.get("userIdentity"), Mapping) else {}
    assert isinstance(ident, Mapping)
    principal = str(ident.get("arn") or ident.get("principalId") or "")
    return ChangeTarget(
        service=entry[0], region=str(rec.get("awsRegion") or "us-east-1"),
        account=str(rec.get("recipientAccountId") or ident.get("accountId") or ""), api=api, event_source=source,
        resource=_resource(rec), principal=principal, event_id=str(rec.get("eventID") or ""),
        event_time=str(rec.get("eventTime") or ""),
    )


def affected_checks(target: ChangeTarget, metas: Iterable[Any]) -> list[str]:
    """Ids of checks that read the re-collected service (CheckMeta.service), sorted for stable output."""
    return sorted(m.id for m in metas if getattr(m, "service", "") == target.service)


def coalesce(targets: Iterable[ChangeTarget]) -> list[ChangeTarget]:
    """A burst of changes to one service/region/account needs one re-collection, not one per event."""
    seen: dict[tuple[str, str, str], ChangeTarget] = {}
    for t in targets:
        seen.setdefault((t.account, t.service, t.region), t)
    return list(seen.values())
