"""CIS: AWS Config is enabled (recording all resource types, with a delivery channel) in every region."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cloudwarden.compliance.checks._common import RegionWalk, account_arn, get_or_reason
from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.inventory import Inventory


def records_everything(recorder: dict[str, Any]) -> bool:
    group = recorder.get("recordingGroup") or {}
    strategy = (group.get("recordingStrategy") or {}).get("useOnly")
    return bool(group.get("allSupported")) or strategy == "ALL_SUPPORTED_RESOURCE_TYPES"


@check(
    id="config_recorder_all_regions_enabled",
    title="AWS Config is enabled in all regions",
    service="config", severity="medium", resource_type="AwsConfigConfigurationRecorder",
    cis={"7.0": ["4.3"], "5.0": ["3.3"], "3.0": ["3.3"]},
    remediation=(
        "In every enabled region, create a configuration recorder that records all supported resource types "
        "(include global resources such as IAM in one region), give it a delivery channel to an S3 bucket, "
        "and start it. Config keeps the configuration history auditors and incident responders rely on."
    ),
    references=["https://docs.aws.amazon.com/config/latest/developerguide/gs-console.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "config", "recorders")
    global_types = False
    for region, recorders in walk:
        statuses, why_s = get_or_reason(inv, "config", "recorder_statuses", region)
        channels, why_c = get_or_reason(inv, "config", "delivery_channels", region)
        where = account_arn(inv, "config", region)
        if not recorders:
            yield failed(where, "no configuration recorder in this region", region)
            continue
        if why_s or why_c:
            yield not_evaluated(where, str(why_s or why_c), region)
            continue
        by_name = {s.get("name"): s for s in statuses}
        for rec in recorders:
            arn = inv.arn("config", region, f"config-recorder/{rec.get('name')}")
            st = by_name.get(rec.get("name"), {})
            problems = []
            if not st.get("recording"):
                problems.append("not recording")
            if str(st.get("lastStatus", "")).upper() == "FAILURE":
                problems.append(f"last delivery failed ({st.get('lastErrorCode', 'unknown error')})")
            if not records_everything(rec):
                problems.append("records only selected resource types")
            if not channels:
                problems.append("no delivery channel")
            if problems:
                yield failed(arn, "recorder " + ", ".join(problems), region)
            else:
                global_types = global_types or bool((rec.get("recordingGroup") or {}).get("includeGlobalResourceTypes"))
                yield passed(arn, "recorder records all supported resource types and delivers", region)
    yield from walk.skipped
    if walk.seen:
        # Global resources (IAM users, roles, policies) need recording in one region only; AWS advises exactly one.
        where = account_arn(inv, "config")
        if global_types:
            yield passed(where, "a working recorder includes global resource types (IAM)")
        elif not walk.skipped:
            yield failed(where, "no working recorder in the scanned regions includes global resource types (IAM)")
