"""CIS Monitoring 5.1-5.15 (v7.0) / 4.1-4.15 (v5.0, v3.0): a metric filter and alarm exist for each class
of sensitive activity. One tiny family: the checks differ only by which events the filter must catch
(see `compliance.metric_filters.SPECS`) and their metadata."""

from __future__ import annotations

from collections.abc import Iterator

from cloudwarden.compliance.checks._common import account_arn
from cloudwarden.compliance.checks.base import CheckResult, EvaluateFn, check, failed, passed
from cloudwarden.compliance.checks.monitoring._chain import evaluate_chain
from cloudwarden.compliance.inventory import GLOBAL, Inventory
from cloudwarden.compliance.metric_filters import SPECS

_REMEDIATION = (
    "On the CloudWatch Logs group that your multi-region trail delivers to, create a metric filter whose "
    "pattern selects {what}, an alarm on the filter's metric (threshold: at least 1 in a period), and point "
    "the alarm at an SNS topic that someone has subscribed to and confirmed. Then {why}."
)
_REFS = ("https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html",
         "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudwatch-alarms-for-cloudtrail.html")

# (check id, spec key, v7 id, v5/v3 id, severity, title, why it matters)
_FAMILY = (
    ("cloudwatch_log_metric_filter_unauthorized_api_calls", "unauthorized_api_calls", "5.1", "4.1", "medium",
     "Unauthorized API calls are monitored", "probing with stolen or over-scoped credentials is noticed early"),
    ("cloudwatch_log_metric_filter_sign_in_without_mfa", "sign_in_without_mfa", "5.2", "4.2", "medium",
     "Management console sign-in without MFA is monitored", "password-only console logins are seen as they happen"),
    ("cloudwatch_log_metric_filter_root_usage", "root_usage", "5.3", "4.3", "high",
     "Usage of the root user is monitored", "every use of the most powerful identity is reviewed"),
    ("cloudwatch_log_metric_filter_policy_changes", "iam_policy_changes", "5.4", "4.4", "medium",
     "IAM policy changes are monitored", "privilege changes are reviewed when they happen"),
    ("cloudwatch_log_metric_filter_and_alarm_for_cloudtrail_configuration_changes_enabled", "cloudtrail_changes",
     "5.5", "4.5", "medium", "CloudTrail configuration changes are monitored",
     "attempts to blind your audit trail raise an alert"),
    ("cloudwatch_log_metric_filter_authentication_failures", "console_auth_failures", "5.6", "4.6", "low",
     "Management console authentication failures are monitored", "password guessing against the console is noticed"),
    ("cloudwatch_log_metric_filter_disable_or_scheduled_deletion_of_kms_cmk", "kms_key_disable_or_deletion",
     "5.7", "4.7", "medium", "Disabling or scheduled deletion of customer-managed KMS keys is monitored",
     "data cannot silently become undecryptable"),
    ("cloudwatch_log_metric_filter_for_s3_bucket_policy_changes", "s3_bucket_policy_changes", "5.8", "4.8", "medium",
     "S3 bucket policy changes are monitored", "a bucket being opened up is noticed"),
    ("cloudwatch_log_metric_filter_and_alarm_for_aws_config_configuration_changes_enabled", "config_changes",
     "5.9", "4.9", "medium", "AWS Config configuration changes are monitored",
     "configuration recording cannot be stopped unnoticed"),
    ("cloudwatch_log_metric_filter_security_group_changes", "security_group_changes", "5.10", "4.10", "medium",
     "Security group changes are monitored", "newly opened ports are reviewed"),
    ("cloudwatch_changes_to_network_acls_alarm_configured", "nacl_changes", "5.11", "4.11", "medium",
     "Network ACL changes are monitored", "changes to subnet-level filtering are reviewed"),
    ("cloudwatch_changes_to_network_gateways_alarm_configured", "network_gateway_changes", "5.12", "4.12", "medium",
     "Changes to network gateways are monitored", "new paths in or out of your VPCs are noticed"),
    ("cloudwatch_changes_to_network_route_tables_alarm_configured", "route_table_changes", "5.13", "4.13", "medium",
     "Route table changes are monitored", "traffic cannot be rerouted unnoticed"),
    ("cloudwatch_changes_to_vpcs_alarm_configured", "vpc_changes", "5.14", "4.14", "medium",
     "VPC changes are monitored", "new VPCs and peerings are reviewed"),
    ("cloudwatch_log_metric_filter_aws_organizations_changes", "organizations_changes", "5.15", "4.15", "medium",
     "AWS Organizations changes are monitored", "changes to accounts, OUs and guardrail policies are reviewed"),
)


def _make(spec_key: str) -> EvaluateFn:
    spec = SPECS[spec_key]

    def evaluate(inv: Inventory) -> Iterator[CheckResult]:
        out = evaluate_chain(inv, spec)
        where = out.resource or account_arn(inv, "cloudwatch")
        region = out.region or GLOBAL
        if out.ok:
            yield passed(where, out.reason, region)
        else:
            yield failed(where, out.reason, region)

    evaluate.__name__ = f"evaluate_{spec_key}"
    return evaluate


for _id, _key, _v7, _v5, _sev, _title, _why in _FAMILY:
    check(
        id=_id, title=_title, service="cloudwatch", severity=_sev, resource_type="AwsCloudWatchAlarm",
        cis={"7.0": [_v7], "5.0": [_v5], "3.0": [_v5]},
        remediation=_REMEDIATION.format(what=SPECS[_key].what, why=_why),
        references=list(_REFS),
        description=f"Looks for a metric filter that catches {SPECS[_key].what}, judged by running it on sample events.",
    )(_make(_key))
