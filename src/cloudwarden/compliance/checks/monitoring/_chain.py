"""Pure evaluation of one CIS Monitoring control: a logging multi-region trail delivers to a CloudWatch
Logs group, a metric filter on that group catches the control's events (judged semantically by
`compliance.metric_filters`), an alarm watches the filter's metric, and the alarm notifies an SNS topic
with at least one confirmed subscription."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloudwarden.compliance.checks.logging._trails import describe_problems, load_trails, logs_all_management_events
from cloudwarden.compliance.inventory import Inventory
from cloudwarden.compliance.metric_filters import FilterSpec, judge


@dataclass(frozen=True)
class Outcome:
    ok: bool
    reason: str
    resource: str  # log group ARN, alarm ARN, or "" for the account
    region: str


def log_group_of(arn: str) -> tuple[str, str] | None:
    """(region, log group name) of a CloudWatchLogsLogGroupArn such as arn:aws:logs:r:acct:log-group:NAME:*."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
        return None
    return parts[3], parts[6]


def _alarm_metrics(alarm: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    if alarm.get("MetricName"):
        out.add((str(alarm["MetricName"]), str(alarm.get("Namespace", ""))))
    for m in alarm.get("Metrics") or []:
        metric = (m.get("MetricStat") or {}).get("Metric") or {}
        if metric.get("MetricName"):
            out.add((str(metric["MetricName"]), str(metric.get("Namespace", ""))))
    return out


def _confirmed_topics(inv: Inventory, topics: list[str]) -> list[str]:
    good = []
    for topic in topics:
        region = topic.split(":")[3] if topic.count(":") >= 5 else ""
        subs = inv.get("sns", "subscriptions", region)  # NotCollected -> the check is NOT_EVALUATED
        if any(s.get("TopicArn") == topic and str(s.get("SubscriptionArn", "")).startswith("arn:") for s in subs):
            good.append(topic)
    return good


def evaluate_chain(inv: Inventory, spec: FilterSpec) -> Outcome:
    trails = load_trails(inv)
    groups: list[tuple[str, str, str]] = []  # (region, name, arn)
    for v in trails.views:
        arn = v.trail.get("CloudWatchLogsLogGroupArn")
        if arn and v.multi_region and v.logging and logs_all_management_events(v):
            found = log_group_of(str(arn))
            if found:
                groups.append((*found, str(arn).removesuffix(":*")))
    if not groups:
        if trails.regions_seen == 0 and inv.regions:
            inv.get("cloudtrail", "trails", inv.regions[0])  # raises NotCollected: the check is NOT_EVALUATED
        near = [v for v in trails.views if v.trail.get("CloudWatchLogsLogGroupArn")]
        why = f" (trails sending to CloudWatch Logs: {describe_problems(near)})" if near else ""
        return Outcome(False, "no logging multi-region trail recording all (read and write) management events "
                       f"sends its events to CloudWatch Logs{why}", "", "")
    steps: list[str] = []
    for region, name, group_arn in groups:
        filters = [f for f in inv.get("logs", "metric_filters", region) if f.get("logGroupName") == name]
        matching = []
        for f in filters:
            verdict = judge(str(f.get("filterPattern", "")), spec)
            if verdict.accepted:
                matching.append(f)
        if not matching:
            steps.append(f"no metric filter on log group {name} catches {spec.what} ({len(filters)} filter(s) examined)")
            continue
        alarms = inv.get("cloudwatch", "alarms", region)
        for f in matching:
            metrics = {(str(t.get("metricName")), str(t.get("metricNamespace"))) for t in f.get("metricTransformations") or []}
            watching = [a for a in alarms if _alarm_metrics(a) & metrics]
            if not watching:
                steps.append(f"metric filter {f.get('filterName')} has no alarm on its metric")
                continue
            for alarm in watching:
                topics = [t for t in alarm.get("AlarmActions") or [] if str(t).startswith("arn:") and ":sns:" in str(t)]
                if alarm.get("ActionsEnabled") is False:
                    steps.append(f"alarm {alarm.get('AlarmName')} has its actions disabled")
                    continue
                confirmed = _confirmed_topics(inv, topics)
                if confirmed:
                    return Outcome(True, f"filter {f.get('filterName')} on {name} -> alarm {alarm.get('AlarmName')} "
                                         f"-> SNS topic {confirmed[0]} with a confirmed subscription",
                                   str(alarm.get("AlarmArn") or group_arn), region)
                steps.append(f"alarm {alarm.get('AlarmName')} notifies no SNS topic with a confirmed subscription")
    return Outcome(False, "; ".join(steps), groups[0][2], groups[0][0])
