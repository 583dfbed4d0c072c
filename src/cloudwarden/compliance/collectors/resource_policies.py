"""Resource-based policies collector (regional), for CIS v7.0 2.21 ("Principal": "*"). Inventory keys,
service "resource_policies", per region, each a list of {"arn", "name", "policy"} where policy is the
parsed JSON document, the raw string when it is not valid JSON, or None when the resource has none:

- `sqs_queues`: ListQueues + GetQueueAttributes(Policy).
- `sns_topics`: ListTopics + GetTopicAttributes (Policy).
- `lambda_functions`: ListFunctions + GetPolicy (ResourceNotFoundException = no policy).
- `kms_keys`: ListKeys + GetKeyPolicy(PolicyName=default).
- `secrets`: ListSecrets + GetResourcePolicy (ResourcePolicy).
- `event_buses`: ListEventBuses (Policy is inline in the listing).

S3 bucket policies are not fetched again here: the s3 collector's `bucket_policy/<name>` keys are read.
A failure of one service is recorded under that key only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cloudwarden.compliance.collectors._fetch import AWS_ERRORS, call_all, error_code, fetch
from cloudwarden.compliance.collectors.base import CollectContext, collector

Entry = dict[str, Any]


def parse_policy(text: Any) -> Any:
    """Pure: a policy string as JSON; keep the raw text when it does not parse (the check reports it)."""
    if text is None or isinstance(text, dict):
        return text
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return str(text)


def _optional(call: Callable[..., Any], absent: tuple[str, ...], **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except AWS_ERRORS as exc:
        if error_code(exc) in absent:
            return None
        raise


def _sqs(client: Any) -> list[Entry]:
    out = []
    for url in call_all(client, "ListQueues", "QueueUrls"):
        attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy", "QueueArn"]).get("Attributes", {})
        out.append({"arn": attrs.get("QueueArn", url), "name": url.rsplit("/", 1)[-1], "policy": parse_policy(attrs.get("Policy"))})
    return out


def _sns(client: Any) -> list[Entry]:
    out = []
    for t in call_all(client, "ListTopics", "Topics"):
        arn = t["TopicArn"]
        attrs = client.get_topic_attributes(TopicArn=arn).get("Attributes", {})
        out.append({"arn": arn, "name": arn.rsplit(":", 1)[-1], "policy": parse_policy(attrs.get("Policy"))})
    return out


def _lambda(client: Any) -> list[Entry]:
    out = []
    for f in call_all(client, "ListFunctions", "Functions"):
        resp = _optional(client.get_policy, ("ResourceNotFoundException",), FunctionName=f["FunctionName"])
        policy = (resp or {}).get("Policy")
        out.append({"arn": f["FunctionArn"], "name": f["FunctionName"], "policy": parse_policy(policy)})
    return out


def _kms(client: Any) -> list[Entry]:
    out = []
    for k in call_all(client, "ListKeys", "Keys"):
        resp = _optional(client.get_key_policy, ("NotFoundException",), KeyId=k["KeyId"], PolicyName="default")
        policy = (resp or {}).get("Policy")
        out.append({"arn": k["KeyArn"], "name": k["KeyId"], "policy": parse_policy(policy)})
    return out


def _secrets(client: Any) -> list[Entry]:
    out = []
    for s in call_all(client, "ListSecrets", "SecretList"):
        policy = client.get_resource_policy(SecretId=s["ARN"]).get("ResourcePolicy")
        out.append({"arn": s["ARN"], "name": s.get("Name", ""), "policy": parse_policy(policy)})
    return out


def _event_buses(client: Any) -> list[Entry]:
    return [{"arn": b["Arn"], "name": b["Name"], "policy": parse_policy(b.get("Policy"))}
            for b in call_all(client, "ListEventBuses", "EventBuses")]


_SOURCES: tuple[tuple[str, str, str, Callable[[Any], list[Entry]]], ...] = (
    ("sqs_queues", "sqs", "GetQueueAttributes", _sqs),
    ("sns_topics", "sns", "GetTopicAttributes", _sns),
    ("lambda_functions", "lambda", "GetPolicy", _lambda),
    ("kms_keys", "kms", "GetKeyPolicy", _kms),
    ("secrets", "secretsmanager", "GetResourcePolicy", _secrets),
    ("event_buses", "events", "ListEventBuses", _event_buses),
)


@collector(
    "resource_policies",
    actions=[
        "sqs:ListQueues", "sqs:GetQueueAttributes",
        "sns:ListTopics", "sns:GetTopicAttributes",
        "lambda:ListFunctions", "lambda:GetPolicy",
        "kms:ListKeys", "kms:GetKeyPolicy",
        "secretsmanager:ListSecrets", "secretsmanager:GetResourcePolicy",
        "events:ListEventBuses",
    ],
    regional=True,
    description="resource-based policies of SQS, SNS, Lambda, KMS, Secrets Manager, EventBridge",
)
def collect_resource_policies(ctx: CollectContext) -> None:
    for key, service, operation, fn in _SOURCES:
        client = ctx.client(service)
        try:
            fetch(ctx, key, operation, lambda fn=fn, client=client: fn(client))  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - an odd answer from one service must not hide the others
            ctx.fail(key, operation, exc)
