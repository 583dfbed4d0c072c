"""Pure feature helpers: API sensitivity weights, error buckets, user-agent families, day arithmetic.

Sensitivity decides how much a novelty matters: a first `kms:ScheduleKeyDeletion` is worth far more than a
first `ec2:DescribeImages`. Weights are in [0, 1]; the scorer multiplies them with rarity.
"""

from __future__ import annotations

import re
from functools import lru_cache

DAY = 86400.0

# (service prefix, api) -> weight for the crown jewels: logging, keys, identity, organisation, detection.
_CRITICAL: dict[str, float] = {
    "cloudtrail:StopLogging": 1.0,
    "cloudtrail:DeleteTrail": 1.0,
    "cloudtrail:UpdateTrail": 0.9,
    "cloudtrail:PutEventSelectors": 0.9,
    "cloudtrail:PutInsightSelectors": 0.6,
    "kms:ScheduleKeyDeletion": 1.0,
    "kms:DisableKey": 1.0,
    "kms:PutKeyPolicy": 0.95,
    "kms:CreateGrant": 0.7,
    "kms:Decrypt": 0.45,
    "organizations:LeaveOrganization": 1.0,
    "organizations:DeleteOrganization": 1.0,
    "guardduty:DeleteDetector": 1.0,
    "guardduty:UpdateDetector": 0.9,
    "guardduty:DisassociateFromMasterAccount": 1.0,
    "config:StopConfigurationRecorder": 1.0,
    "config:DeleteConfigurationRecorder": 1.0,
    "config:DeleteDeliveryChannel": 1.0,
    "ec2:DeleteFlowLogs": 1.0,
    "ec2:GetPasswordData": 0.9,
    "ec2:AuthorizeSecurityGroupIngress": 0.7,
    "ec2:CreateKeyPair": 0.6,
    "ec2:ImportKeyPair": 0.6,
    "ec2:ModifyInstanceAttribute": 0.6,
    "ec2:ModifySnapshotAttribute": 0.85,
    "ec2:ModifyImageAttribute": 0.8,
    "ec2:RunInstances": 0.45,
    "s3:PutBucketPolicy": 0.9,
    "s3:DeleteBucketPolicy": 0.8,
    "s3:PutBucketAcl": 0.9,
    "s3:PutObjectAcl": 0.7,
    "s3:DeleteBucketPublicAccessBlock": 1.0,
    "s3:PutBucketPublicAccessBlock": 0.8,
    "s3:DeleteAccountPublicAccessBlock": 1.0,
    "s3:PutBucketLogging": 0.7,
    "s3:PutBucketReplication": 0.85,
    "s3:DeleteBucket": 0.7,
    "s3:GetObject": 0.55,
    "s3:CopyObject": 0.55,
    "s3:ListBuckets": 0.2,
    "secretsmanager:GetSecretValue": 0.8,
    "ssm:GetParameter": 0.45,
    "ssm:GetParameters": 0.45,
    "ssm:SendCommand": 0.7,
    "ssm:StartSession": 0.6,
    "sts:AssumeRole": 0.3,
    "sts:GetSessionToken": 0.45,
    "sts:GetFederationToken": 0.6,
    "sts:GetCallerIdentity": 0.1,
    "signin:ConsoleLogin": 0.5,
    "lambda:UpdateFunctionCode": 0.5,
    "lambda:AddPermission": 0.6,
    "rds:ModifyDBInstance": 0.5,
    "rds:ModifyDBSnapshotAttribute": 0.85,
}

# Services whose every write is security-relevant.
_SENSITIVE_SERVICES: dict[str, float] = {
    "iam": 0.9,
    "kms": 0.8,
    "cloudtrail": 0.9,
    "organizations": 0.9,
    "guardduty": 0.9,
    "config": 0.8,
    "securityhub": 0.8,
    "sts": 0.4,
    "secretsmanager": 0.7,
    "access-analyzer": 0.7,
    "sso": 0.8,
}

_READ = re.compile(r"^(Describe|List|Get|Head|Lookup|Search|Scan|Query|Check|Select|Batch[Gg]et|View)")
_ENUM = re.compile(r"^(Describe|List|Get)")


@lru_cache(maxsize=4096)
def short_service(service: str) -> str:
    """'iam.amazonaws.com' -> 'iam'."""
    return service.split(".", 1)[0] if service.endswith(".amazonaws.com") else service


def is_read_api(api: str) -> bool:
    return bool(_READ.match(api))


def is_enumeration_api(api: str) -> bool:
    return bool(_ENUM.match(api))


@lru_cache(maxsize=65536)
def sensitivity(service: str, api: str, read_only: bool | None = None) -> float:
    """Weight in [0.02, 1] of an API call for scoring novelty."""
    svc = short_service(service)
    key = f"{svc}:{api}"
    if key in _CRITICAL:
        return _CRITICAL[key]
    read = is_read_api(api) if read_only is None else bool(read_only)
    if svc in _SENSITIVE_SERVICES:
        base = _SENSITIVE_SERVICES[svc]
        return round(base * 0.25, 3) if read else base
    if read:
        return 0.05 if api.startswith(("Describe", "List")) else 0.12
    return 0.35


def error_bucket(error_code: str) -> str:
    """Collapse the many AccessDenied spellings so 'new error' means a new kind of failure."""
    if not error_code:
        return ""
    code = error_code.split(":")[-1].removeprefix("Client.").removeprefix("Server.")
    low = code.lower()
    if "accessdenied" in low or low in ("unauthorizedoperation", "unauthorizedaccess", "authfailure", "forbidden"):
        return "AccessDenied"
    if "throttl" in low or low in ("requestlimitexceeded", "toomanyrequestsexception", "slowdown"):
        return "Throttling"
    if low.startswith("nosuch") or low.endswith("notfound") or low.endswith("notfoundexception"):
        return "NotFound"
    if "invalidclienttokenid" in low or "expiredtoken" in low or "signaturedoesnotmatch" in low:
        return "BadCredentials"
    return code


def is_denied(error_code: str) -> bool:
    return error_bucket(error_code) == "AccessDenied"


def ua_family(user_agent: str) -> str:
    """Fallback when a record has no ua_family (the CloudTrail normaliser usually fills it)."""
    ua = user_agent.lower()
    if not ua:
        return "other"
    for marker in ("kali", "parrot", "pentoo", "pacu", "trufflehog", "cloudfox", "scoutsuite", "prowler", "s3 browser"):
        if marker in ua:
            return "offensive"
    if ua.startswith("aws-cli") or " aws-cli/" in ua:
        return "aws-cli"
    if "terraform" in ua:
        return "terraform"
    if "cloudformation" in ua:
        return "cloudformation"
    if ua.startswith(("boto3", "botocore")) or "boto3/" in ua or "botocore/" in ua:
        return "sdk-python"
    if ua.startswith("aws-sdk") or "aws-sdk-" in ua:
        return "sdk-other"
    if "console" in ua and "amazonaws.com" in ua:
        return "console"
    if ua in ("aws internal", "aws-internal") or ua.endswith(".amazonaws.com"):
        return "aws-internal"
    if "mozilla/" in ua:
        return "console"
    return "other"


def epoch_day(ts: float) -> int:
    return int(ts // DAY)


def hour_bucket(ts: float) -> int:
    return int(ts // 3600)
