"""Hand-built CloudTrail records for the tests and the benchmark's record pool (our own, not copied)."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

ACCOUNT = "111111111111"
OTHER_ACCOUNT = "999999999999"


def iam_user(name: str = "alice", account: str = ACCOUNT, key: str = "AKIAEXAMPLEKEY000001") -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE" + name.upper(),
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": key,
        "userName": name,
    }


def assumed_role(role: str = "deploy", session: str = "ci-run-1", account: str = ACCOUNT, mfa: bool = False) -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": "ASIAEXAMPLEKEY000002",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {"mfaAuthenticated": "true" if mfa else "false", "creationDate": "2026-01-01T00:00:00Z"},
        },
    }


def root(account: str = ACCOUNT) -> dict[str, Any]:
    return {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root", "accountId": account}


def service(invoked_by: str = "cloudtrail.amazonaws.com") -> dict[str, Any]:
    return {"type": "AWSService", "invokedBy": invoked_by}


def event(
    name: str = "ListBuckets",
    source: str = "s3.amazonaws.com",
    *,
    event_id: str = "00000000-0000-0000-0000-000000000001",
    identity: dict[str, Any] | None = None,
    time: str = "2026-01-01T12:00:00Z",
    account: str = ACCOUNT,
    region: str = "us-east-1",
    ip: str = "203.0.113.10",
    agent: str = "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian",
    params: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity if identity is not None else iam_user(),
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": params,
        "responseElements": None,
        "requestID": "req-" + event_id[-8:],
        "eventID": event_id,
        "readOnly": name.startswith(("List", "Get", "Describe")),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    out.update(extra)
    return out


def pool() -> list[dict[str, Any]]:
    """A varied set of records: benign reads and writes plus the high-value events rules look for."""
    return [
        event("ListBuckets"),
        event("GetObject", params={"bucketName": "data", "key": "a.csv"}, identity=assumed_role(), agent="Boto3/1.34.0 Python/3.11"),
        event("DescribeInstances", "ec2.amazonaws.com", agent="aws-sdk-go/1.50.0 (go1.21; linux; amd64)"),
        event("GetCallerIdentity", "sts.amazonaws.com"),
        event("AssumeRole", "sts.amazonaws.com", identity=service("ec2.amazonaws.com"), ip="ec2.amazonaws.com",
              agent="ec2.amazonaws.com", params={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/web"}),
        event("CreateBucket", params={"bucketName": "new-bucket"}),
        event("PutBucketPolicy", params={"bucketName": "data", "bucketPolicy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}}),
        event("AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", params={"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
        event("StopLogging", "cloudtrail.amazonaws.com", params={"name": "org-trail"}),
        event("ConsoleLogin", "signin.amazonaws.com", identity=root(), agent="Mozilla/5.0 (X11; Linux x86_64)",
              eventType="AwsConsoleSignIn", additionalEventData={"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com"},
              responseElements={"ConsoleLogin": "Success"}),
        event("DisableKey", "kms.amazonaws.com", params={"keyId": "k-1"}, agent="Terraform/1.7.0 (+https://www.terraform.io) terraform-provider-aws/5.0 aws-sdk-go-v2/1.24"),
        event("GetSecretValue", "secretsmanager.amazonaws.com", params={"secretId": "db"}, agent="aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-kali3-amd64"),
        event("DeleteTrail", "cloudtrail.amazonaws.com", errorCode="AccessDenied", errorMessage="User is not authorized"),
        event("CreateAccessKey", "iam.amazonaws.com", params={"userName": "bob"}),
    ]


def write_records(path: Path, records: list[dict[str, Any]], *, gz: bool = True) -> Path:
    body = json.dumps({"Records": records}).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(body) if gz else body)
    return path


def many(n: int, start: int = 0, **kwargs: Any) -> list[dict[str, Any]]:
    """n distinct records cycling through the pool, with unique ids and increasing times."""
    base = pool()
    out = []
    for i in range(start, start + n):
        rec = copy.deepcopy(base[i % len(base)])
        rec["eventID"] = f"evt-{i:08d}"
        rec["eventTime"] = f"2026-01-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z"
        rec.update(kwargs)
        out.append(rec)
    return out


def benign_pool() -> list[dict[str, Any]]:
    """Everyday reads and writes of a working account: what most of CloudTrail is."""
    cli = "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian"
    boto = "Boto3/1.34.10 md/Botocore#1.34.10 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.6"
    go = "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.141.0"
    console = "console.ec2.amazonaws.com"
    role = assumed_role("app", "i-0abc123")
    out = [
        event("DescribeInstances", "ec2.amazonaws.com", agent=go, params={"maxResults": 1000}),
        event("DescribeSecurityGroups", "ec2.amazonaws.com", agent=console, params={"groupIds": ["sg-1"]}),
        event("DescribeVolumes", "ec2.amazonaws.com", agent=boto, identity=role),
        event("DescribeSubnets", "ec2.amazonaws.com", agent=go),
        event("DescribeVpcs", "ec2.amazonaws.com", agent=console),
        event("RunInstances", "ec2.amazonaws.com", agent=go, params={"instanceType": "t3.micro", "minCount": 1}),
        event("CreateTags", "ec2.amazonaws.com", agent=go, params={"resourcesSet": {"items": [{"resourceId": "i-1"}]}}),
        event("ListBuckets", agent=cli),
        event("GetBucketLocation", params={"bucketName": "logs", "location": ""}, agent=boto, identity=role),
        event("GetBucketAcl", params={"bucketName": "logs", "acl": ""}, agent="[S3Console/0.4, aws-internal/3]"),
        event("HeadBucket", params={"bucketName": "logs"}, agent=boto, identity=role),
        event("GetCallerIdentity", "sts.amazonaws.com", agent=cli),
        event("AssumeRole", "sts.amazonaws.com", agent=boto, params={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/app", "roleSessionName": "s1"}),
        event("GetSessionToken", "sts.amazonaws.com", agent=cli),
        event("ListUsers", "iam.amazonaws.com", agent=console),
        event("GetRole", "iam.amazonaws.com", agent=go, params={"roleName": "app"}),
        event("ListAttachedRolePolicies", "iam.amazonaws.com", agent=go, params={"roleName": "app"}),
        event("GetAccountPasswordPolicy", "iam.amazonaws.com", agent=console, errorCode="NoSuchEntityException",
              errorMessage="The Password Policy with domain name 111111111111 cannot be found."),
        event("Decrypt", "kms.amazonaws.com", agent="AWS Internal", identity=role, ip="AWS Internal",
              params={"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
              resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k-1"}]),
        event("GenerateDataKey", "kms.amazonaws.com", agent="s3.amazonaws.com", identity=service("s3.amazonaws.com"),
              ip="s3.amazonaws.com", params={"keySpec": "AES_256"}),
        event("DescribeKey", "kms.amazonaws.com", agent=boto, params={"keyId": "alias/app"}),
        event("PutMetricData", "monitoring.amazonaws.com", agent=boto, identity=role),
        event("DescribeAlarms", "monitoring.amazonaws.com", agent=console),
        event("CreateLogStream", "logs.amazonaws.com", agent=boto, identity=role, params={"logGroupName": "/app", "logStreamName": "x"}),
        event("DescribeLogGroups", "logs.amazonaws.com", agent=console),
        event("Invoke", "lambda.amazonaws.com", agent=boto, params={"functionName": "worker"}),
        event("ListFunctions20150331", "lambda.amazonaws.com", agent=console),
        event("DescribeDBInstances", "rds.amazonaws.com", agent=console),
        event("DescribeStackResources", "cloudformation.amazonaws.com", agent="cloudformation.amazonaws.com",
              identity=service("cloudformation.amazonaws.com"), ip="cloudformation.amazonaws.com"),
        event("ConsoleLogin", "signin.amazonaws.com", agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) Firefox/121.0",
              identity=iam_user("carol"), eventType="AwsConsoleSignIn",
              additionalEventData={"MFAUsed": "Yes", "LoginTo": "https://console.aws.amazon.com"},
              responseElements={"ConsoleLogin": "Success"}),
        event("GetParameter", "ssm.amazonaws.com", agent=boto, identity=role, params={"name": "/app/config", "withDecryption": False}),
        event("DescribeTable", "dynamodb.amazonaws.com", agent=boto, identity=role, params={"tableName": "orders"}),
        event("DeleteObject", params={"bucketName": "tmp", "key": "a"}, agent=boto, identity=role, eventCategory="Data"),
        event("LookupEvents", "cloudtrail.amazonaws.com", agent=console),
        event("DescribeTrails", "cloudtrail.amazonaws.com", agent=cli),
        event("ListAccessKeys", "iam.amazonaws.com", agent=cli, errorCode="AccessDenied",
              errorMessage="User: arn:aws:iam::111111111111:user/alice is not authorized to perform: iam:ListAccessKeys"),
    ]
    return out


def bench_pool(benign_weight: int = 6) -> list[dict[str, Any]]:
    """The benchmark's record mix: benign records `benign_weight` times over, each attack record once."""
    return benign_pool() * benign_weight + pool()


def ingest_and_alerts(tmp_path: Path, folder: str) -> tuple[Any, list[tuple[str, int]]]:
    """Ingest tmp_path/folder into its own lake and state DB: the summary and the stored (rule, count) pairs,
    to compare two shapes of the same records."""
    from cloudwarden.cloudtrail.ingest import IngestOptions, ingest
    from cloudwarden.detect.alert_store import AlertStore
    from cloudwarden.store.lake import Lake
    from cloudwarden.store.state import open_store

    state = open_store(f"sqlite:///{tmp_path / (folder + '.db')}")
    summary = ingest(str(tmp_path / folder), Lake(tmp_path / (folder + "-lake")), state, IngestOptions())
    stored = sorted((a.rule_id, a.count) for a in AlertStore(state).list(limit=1000))
    state.dispose()
    return summary, stored
