"""Monitoring section: metric filter -> alarm -> SNS chains over moto, and Security Hub."""

from __future__ import annotations

import copy

from tests.compliance.services.helpers import ACCOUNT, boto, collect, run_check

R, EU = "us-east-1", "eu-west-1"
ROOT = '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }'
SG = ("{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || "
      "($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || "
      "($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }")
SERVICES = ["cloudtrail", "logs", "cloudwatch", "sns"]


def seed(url: str, *, to_cloudwatch: bool = True) -> None:
    boto(url, "s3").create_bucket(Bucket="trail")
    logs = boto(url, "logs")
    logs.create_log_group(logGroupName="cloudtrail")
    group_arn = logs.describe_log_groups()["logGroups"][0]["arn"]
    extra = {"CloudWatchLogsLogGroupArn": group_arn, "CloudWatchLogsRoleArn": f"arn:aws:iam::{ACCOUNT}:role/ct"} if to_cloudwatch else {}
    ct = boto(url, "cloudtrail")
    ct.create_trail(Name="main", S3BucketName="trail", IsMultiRegionTrail=True, **extra)
    ct.start_logging(Name="main")
    sqs = boto(url, "sqs")
    queue = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName="oncall")["QueueUrl"],
                                     AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns = boto(url, "sns")
    topic = sns.create_topic(Name="security-alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)
    cw = boto(url, "cloudwatch")
    for name, pattern, alarm in (("root", ROOT, True), ("sg", SG, False)):
        logs.put_metric_filter(logGroupName="cloudtrail", filterName=name, filterPattern=pattern,
                               metricTransformations=[{"metricName": f"{name}-count", "metricNamespace": "CISBenchmark",
                                                       "metricValue": "1"}])
        if alarm:
            cw.put_metric_alarm(AlarmName=f"{name}-alarm", MetricName=f"{name}-count", Namespace="CISBenchmark",
                                Statistic="Sum", Period=300, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[topic])


def test_complete_chain_passes_and_gaps_fail_with_the_missing_link(moto) -> None:
    seed(moto.url)
    inv = collect(moto.url, SERVICES, regions=[R, EU]).inventory
    root = run_check(inv, "cloudwatch_log_metric_filter_root_usage")
    assert [str(r.status) for r in root] == ["PASS"], root[0].reason
    assert "root-alarm" in root[0].reason and root[0].region == R
    sg = run_check(inv, "cloudwatch_log_metric_filter_security_group_changes")
    assert [str(r.status) for r in sg] == ["FAIL"] and "has no alarm" in sg[0].reason
    iam = run_check(inv, "cloudwatch_log_metric_filter_policy_changes")
    assert [str(r.status) for r in iam] == ["FAIL"] and "no metric filter" in iam[0].reason


def test_trail_not_sending_to_cloudwatch_fails_every_filter_check(moto) -> None:
    seed(moto.url, to_cloudwatch=False)
    inv = collect(moto.url, SERVICES, regions=[R]).inventory
    res = run_check(inv, "cloudwatch_log_metric_filter_root_usage")
    assert [str(r.status) for r in res] == ["FAIL"] and "CloudWatch Logs" in res[0].reason


def test_unconfirmed_subscription_and_missing_logs_data(moto) -> None:
    """moto confirms subscriptions at once, so a pending one is made by editing the collected inventory;
    a region whose alarms were not collected makes the check NOT_EVALUATED, not a pass."""
    seed(moto.url)
    inv = collect(moto.url, SERVICES, regions=[R]).inventory
    pending = copy.deepcopy(inv)
    subs = pending.get("sns", "subscriptions", R)
    pending.put("sns", "subscriptions", [{**s, "SubscriptionArn": "PendingConfirmation"} for s in subs], R)
    res = run_check(pending, "cloudwatch_log_metric_filter_root_usage")
    assert [str(r.status) for r in res] == ["FAIL"] and "confirmed subscription" in res[0].reason
    from cloudwarden.compliance.inventory import CollectionFailure

    inv.fail("cloudwatch", "alarms", CollectionFailure("cloudwatch", R, "DescribeAlarms", "AccessDenied", "denied"), R)
    res = run_check(inv, "cloudwatch_log_metric_filter_root_usage")
    assert [str(r.status) for r in res] == ["NOT_EVALUATED"] and "DescribeAlarms" in res[0].reason


def test_all_fifteen_metric_filter_checks_are_registered_with_cis_ids() -> None:
    from cloudwarden.compliance.checks.base import all_checks

    family = [c for c in all_checks().values() if c.meta.service == "cloudwatch"]
    v7 = sorted((c.meta.cis["7.0"][0] for c in family), key=lambda s: int(s.split(".")[1]))
    assert v7 == [f"5.{i}" for i in range(1, 16)]
    assert all(c.meta.cis["5.0"] == c.meta.cis["3.0"] for c in family)


def test_security_hub_enabled_per_region(moto) -> None:
    boto(moto.url, "securityhub", EU).enable_security_hub()
    inv = collect(moto.url, ["securityhub"], regions=[R, EU]).inventory
    res = {r.region: str(r.status) for r in run_check(inv, "securityhub_enabled")}
    assert res == {R: "FAIL", EU: "PASS"}


def test_trail_recording_only_write_management_events_is_named_in_the_failure(moto) -> None:
    seed(moto.url)
    boto(moto.url, "cloudtrail").put_event_selectors(TrailName="main", EventSelectors=[
        {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])
    inv = collect(moto.url, SERVICES, regions=[R]).inventory
    res = run_check(inv, "cloudwatch_log_metric_filter_root_usage")
    assert [str(r.status) for r in res] == ["FAIL"]
    assert "main (records only read or only write management events" in res[0].reason


def test_each_of_the_fifteen_controls_passes_with_its_filter_and_fails_without_one_event(moto) -> None:
    """All 15 filters on one moto account: every check passes; then each filter is overwritten with a
    pattern that misses one of its control's events and every check fails, naming that event."""
    from cloudwarden.compliance.metric_filters import SPECS

    seed(moto.url)
    logs, cw = boto(moto.url, "logs"), boto(moto.url, "cloudwatch")
    topic = boto(moto.url, "sns").list_topics()["Topics"][0]["TopicArn"]

    special = {  # the controls that are not simply a list of event names: (good, missing a case)
        "unauthorized_api_calls": ('{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }',
                                   '{ $.errorCode = "*UnauthorizedOperation" }'),
        "sign_in_without_mfa": ('{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }',
                                '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed = "Maybe") }'),
        "root_usage": (ROOT, '{ $.userIdentity.type = "Root" && $.eventType = "AwsConsoleSignIn" }'),
        "console_auth_failures": ('{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }',
                                  '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Other") }'),
    }

    def pattern(key: str, drop_one: bool = False) -> str:
        if key in special:
            return special[key][drop_one]
        events = list(SPECS[key].positives)[1 if drop_one else 0:]
        names = " || ".join(f"($.eventName = {e['eventName']})" for e in events)
        return f'{{ ($.eventSource = "{events[0]["eventSource"]}") && ({names}) }}'

    for key in SPECS:
        logs.put_metric_filter(logGroupName="cloudtrail", filterName=f"cis-{key}", filterPattern=pattern(key),
                               metricTransformations=[{"metricName": key, "metricNamespace": "CIS", "metricValue": "1"}])
        cw.put_metric_alarm(AlarmName=f"cis-{key}", MetricName=key, Namespace="CIS", Statistic="Sum", Period=300,
                            EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
                            AlarmActions=[topic])
    from cloudwarden.compliance.checks.base import all_checks

    family = [c for c in all_checks().values() if c.meta.service == "cloudwatch"]
    inv = collect(moto.url, SERVICES, regions=[R]).inventory
    assert {c.meta.id: [str(r.status) for r in c.evaluate(inv)] for c in family} == {c.meta.id: ["PASS"] for c in family}

    for key in SPECS:
        logs.delete_metric_filter(logGroupName="cloudtrail", filterName=f"cis-{key}")
        logs.put_metric_filter(logGroupName="cloudtrail", filterName=f"cis-{key}", filterPattern=pattern(key, drop_one=True),
                               metricTransformations=[{"metricName": key, "metricNamespace": "CIS", "metricValue": "1"}])
    for name in ("root", "sg"):
        logs.delete_metric_filter(logGroupName="cloudtrail", filterName=name)
    inv = collect(moto.url, SERVICES, regions=[R]).inventory
    for c in family:
        res = c.evaluate(inv)
        assert [str(r.status) for r in res] == ["FAIL"], (c.meta.id, res[0].reason)
        assert "no metric filter" in res[0].reason
