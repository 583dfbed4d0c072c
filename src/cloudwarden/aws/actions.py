"""botocore operations -> IAM actions, and the least-privilege read-only policy of a scan.

Most IAM actions are "<signing name>:<OperationName>". The exceptions are listed explicitly: services
whose IAM prefix differs from their signing name (CloudWatch signs as "monitoring"), S3 operations whose
IAM action has another name (ListBuckets needs s3:ListAllMyBuckets), and API Gateway, whose IAM actions
are HTTP verbs on resource paths (apigateway:GET).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

import botocore.session

# (boto3 service name, operation) -> IAM action, where the default rule is wrong.
OPERATION_ACTIONS: dict[tuple[str, str], str] = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
    ("s3", "GetBucketMfaDelete"): "s3:GetBucketVersioning",
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3", "GetBucketOwnershipControls"): "s3:GetBucketOwnershipControls",
    ("s3", "GetBucketPolicyStatus"): "s3:GetBucketPolicyStatus",
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
}
# signing name -> IAM service prefix, where they differ.
PREFIXES: dict[str, str] = {"monitoring": "cloudwatch"}
# Services whose IAM actions are HTTP verbs (every read is apigateway:GET).
HTTP_VERB_SERVICES = frozenset({"apigateway", "apigatewayv2"})

# Calls the runner itself makes, whatever collectors run.
RUNNER_ACTIONS = ("sts:GetCallerIdentity", "ec2:DescribeRegions")
ORG_ACTIONS = ("organizations:ListAccounts", "sts:AssumeRole")


@functools.cache
def _signing_name(service: str) -> str:
    model = botocore.session.get_session().get_service_model(service)
    return str(model.signing_name or model.endpoint_prefix)


def iam_action(service: str, operation: str) -> str:
    """The IAM action a call of `operation` on the boto3 client `service` needs."""
    if (service, operation) in OPERATION_ACTIONS:
        return OPERATION_ACTIONS[(service, operation)]
    if service in HTTP_VERB_SERVICES:
        verb = "GET" if operation.startswith(("Get", "List", "Describe")) else "POST"
        return f"apigateway:{verb}"
    signing = _signing_name(service)
    return f"{PREFIXES.get(signing, signing)}:{operation}"


def required_actions(*, organization: bool = False) -> list[str]:
    """Every IAM action a scan may call: the runner's plus every collector's declared actions."""
    from cloudwarden.compliance.collectors.base import all_collectors

    actions = set(RUNNER_ACTIONS)
    for spec in all_collectors().values():
        actions.update(spec.actions)
    if organization:
        actions.update(ORG_ACTIONS)
    return sorted(actions, key=str.lower)


def read_only_policy(actions: Iterable[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "CloudwardenReadOnlyScan", "Effect": "Allow", "Action": sorted(set(actions), key=str.lower), "Resource": "*"}
        ],
    }


def policy_json(*, organization: bool = False) -> str:
    return json.dumps(read_only_policy(required_actions(organization=organization)), indent=2)


def undeclared_calls(calls: Iterable[str], declared: Iterable[str]) -> list[str]:
    """Pure: "service:Operation" calls (as RequestCounter records them) whose IAM action is not declared."""
    allowed = {a.lower() for a in declared}
    out = []
    for call in calls:
        service, _, operation = call.partition(":")
        action = iam_action(service, operation)
        if action.lower() not in allowed:
            out.append(f"{call} -> {action}")
    return sorted(out)
