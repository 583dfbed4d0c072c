"""CIS v7 4.10: every AWS-managed web front end (CloudFront, classic ELB, ELBv2, API Gateway REST/HTTP) has access logging."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from cloudwarden.compliance.checks._common import RegionWalk, get_or_reason, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.inventory import GLOBAL, Inventory

_CIS = {"7.0": ["4.10"]}


@check(
    id="cloudfront_distributions_logging_enabled",
    title="CloudFront distributions have access logging enabled",
    service="cloudfront", severity="medium", resource_type="AwsCloudFrontDistribution",
    cis=_CIS,
    remediation=(
        "Turn on standard logging for the distribution (to an S3 bucket, or the newer log delivery to "
        "CloudWatch Logs / Firehose), so every viewer request is recorded with client address and result."
    ),
    references=["https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/AccessLogs.html"],
)
def cloudfront(inv: Inventory) -> Iterator[CheckResult]:
    dists = inv.get("cloudfront", "distributions")
    for d in dists:
        arn = d.get("ARN") or f"arn:{inv.partition}:cloudfront::{inv.account_id}:distribution/{d['Id']}"
        cfg, why = get_or_reason(inv, "cloudfront", f"distribution_config/{d['Id']}")
        if why is not None:
            yield not_evaluated(arn, why, GLOBAL)
        elif (cfg.get("Logging") or {}).get("Enabled"):
            yield passed(arn, f"access logs go to {cfg['Logging'].get('Bucket')}", GLOBAL)
        else:
            yield failed(arn, "standard (S3) access logging is off; if logs are delivered through CloudWatch "
                              "log delivery instead, record that as an exception", GLOBAL)
    if not dists:
        yield nothing_found(inv, "cloudfront", "CloudFront distributions")


@check(
    id="elbv2_logging_enabled",
    title="Application and network load balancers have access logging enabled",
    service="elbv2", severity="medium", resource_type="AwsElbv2LoadBalancer",
    cis=_CIS,
    remediation=(
        "Set the load balancer attribute access_logs.s3.enabled=true with a bucket (and prefix) whose policy "
        "lets Elastic Load Balancing write, so each request or TLS connection is recorded."
    ),
    references=["https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html"],
)
def elbv2(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "elbv2", "load_balancers")
    found = 0
    for region, lbs in walk:
        for lb in lbs:
            if lb.get("Type") == "gateway":
                continue  # gateway load balancers carry no web traffic and have no access logs
            found += 1
            arn = lb["LoadBalancerArn"]
            attrs, why = get_or_reason(inv, "elbv2", f"load_balancer_attributes/{arn}", region)
            if why is not None:
                yield not_evaluated(arn, why, region)
                continue
            values = {a.get("Key"): a.get("Value") for a in attrs}
            if str(values.get("access_logs.s3.enabled", "false")).lower() == "true":
                yield passed(arn, f"access logs go to {values.get('access_logs.s3.bucket')}", region)
            else:
                yield failed(arn, f"{lb.get('Type', 'load')} balancer {lb.get('LoadBalancerName')} has access logging off", region)
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, "elbv2", "application or network load balancers")


@check(
    id="elb_logging_enabled",
    title="Classic load balancers have access logging enabled",
    service="elb", severity="medium", resource_type="AwsElbLoadBalancer",
    cis=_CIS,
    remediation=(
        "Enable access logs on the classic load balancer (AccessLog.Enabled with an S3 bucket and an emit "
        "interval), or better, migrate it to an Application Load Balancer and log there."
    ),
    references=["https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/enable-access-logs.html"],
)
def elb_classic(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "elb", "load_balancers")
    found = 0
    for region, lbs in walk:
        for lb in lbs:
            found += 1
            name = lb["LoadBalancerName"]
            arn = inv.arn("elasticloadbalancing", region, f"loadbalancer/{name}")
            attrs, why = get_or_reason(inv, "elb", f"load_balancer_attributes/{name}", region)
            if why is not None:
                yield not_evaluated(arn, why, region)
            elif ((attrs or {}).get("AccessLog") or {}).get("Enabled"):
                yield passed(arn, f"access logs go to {attrs['AccessLog'].get('S3BucketName')}", region)
            else:
                yield failed(arn, f"classic load balancer {name} has access logging off", region)
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, "elb", "classic load balancers")


@check(
    id="apigateway_restapi_logging_enabled",
    title="API Gateway REST API stages have access logging enabled",
    service="apigateway", severity="medium", resource_type="AwsApiGatewayStage",
    cis=_CIS,
    remediation=(
        "On each stage set an access log destination (a CloudWatch Logs group or Firehose stream) and a log "
        "format that includes the caller's address, identity, request id and status."
    ),
    references=["https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html"],
)
def apigateway_rest(inv: Inventory) -> Iterator[CheckResult]:
    yield from _stage_access_logging(inv, _REST_API_FIELDS)


@check(
    id="apigatewayv2_api_access_logging_enabled",
    title="API Gateway HTTP and WebSocket API stages have access logging enabled",
    service="apigatewayv2", severity="medium", resource_type="AwsApiGatewayV2Stage",
    cis=_CIS,
    remediation=(
        "On each stage of the HTTP or WebSocket API configure access logging to a CloudWatch Logs group with "
        "a format that records the caller, request id, route and status."
    ),
    references=["https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html"],
)
def apigateway_v2(inv: Inventory) -> Iterator[CheckResult]:
    yield from _stage_access_logging(inv, _HTTP_API_FIELDS)


@dataclass(frozen=True)
class _ApiFields:
    """Where the REST (v1) and HTTP/WebSocket (v2) APIs keep the same facts: v1 answers in camelCase."""

    service: str
    apis_key: str
    api_id: str
    api_name: str
    arn_path: str
    stage_name: str
    log_settings: str
    destination: str
    what: str


_REST_API_FIELDS = _ApiFields("apigateway", "rest_apis", "id", "name", "restapis", "stageName",
                              "accessLogSettings", "destinationArn", "API Gateway REST API stages")
_HTTP_API_FIELDS = _ApiFields("apigatewayv2", "apis", "ApiId", "Name", "apis", "StageName",
                              "AccessLogSettings", "DestinationArn", "API Gateway HTTP/WebSocket API stages")


def _stage_access_logging(inv: Inventory, f: _ApiFields) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, f.service, f.apis_key)
    found = 0
    for region, apis in walk:
        for api in apis:
            api_arn = f"arn:{inv.partition}:apigateway:{region}::/{f.arn_path}/{api[f.api_id]}"
            stages, why = get_or_reason(inv, f.service, f"stages/{api[f.api_id]}", region)
            if why is not None:
                found += 1
                yield not_evaluated(api_arn, why, region)
                continue
            for st in stages:
                found += 1
                arn = f"{api_arn}/stages/{st.get(f.stage_name)}"
                dest = (st.get(f.log_settings) or {}).get(f.destination)
                if dest:
                    yield passed(arn, f"access logs go to {dest}", region)
                else:
                    yield failed(arn, f"stage {st.get(f.stage_name)} of API {api.get(f.api_name)} has no access logging", region)
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, f.service, f.what)
