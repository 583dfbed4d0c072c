"""CIS: object-level (data event) logging of S3 writes and of S3 reads, evaluated per bucket."""

from __future__ import annotations

from collections.abc import Iterator

from cloudwarden.compliance.checks._common import get_or_reason, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.checks.logging._trails import covers_s3_objects, load_trails
from cloudwarden.compliance.inventory import GLOBAL, Inventory


def _evaluate(inv: Inventory, *, write: bool) -> Iterator[CheckResult]:
    kind = "write" if write else "read"
    buckets, why = get_or_reason(inv, "s3", "buckets")
    if why is not None:
        yield not_evaluated(f"arn:{inv.partition}:s3:::", why)
        return
    trails = load_trails(inv)
    if not buckets:
        yield nothing_found(inv, "s3", "S3 buckets")
        return
    active = [v for v in trails.views if v.logging]
    for b in buckets:
        name, region = b["Name"], b.get("Region") or GLOBAL
        arn = f"arn:{inv.partition}:s3:::{name}"
        hits = [v for v in active if (v.multi_region or v.home == region)
                and covers_s3_objects(v, name, inv.partition, write=write)]
        if hits:
            yield passed(arn, f"object-level {kind} events are recorded by trail {hits[0].trail.get('Name')}", region)
        elif trails.skipped or any(v.selectors is None or v.status is None for v in trails.views):
            yield not_evaluated(arn, "some trails or their selectors could not be read: "
                                + "; ".join([r.reason for r in trails.skipped] + [w for v in trails.views for w in v.unknown]), region)
        else:
            yield failed(arn, f"no logging trail records object-level {kind} events for this bucket", region)


_REMEDIATION = (
    "Add an S3 data event selector to a multi-region trail (or an advanced event selector with "
    "eventCategory=Data and resources.type=AWS::S3::Object) covering every bucket or at least this one, "
    "for {kind} events. Object-level events show who {verb} which object, which management events never do."
)
_REFS = ["https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html"]


@check(
    id="cloudtrail_s3_dataevents_write_enabled",
    title="Object-level logging for write events is enabled for S3 buckets",
    service="cloudtrail", severity="low", resource_type="AwsS3Bucket",
    cis={"7.0": ["4.8"], "5.0": ["3.8"], "3.0": ["3.8"]},
    remediation=_REMEDIATION.format(kind="write (or all)", verb="changed or deleted"),
    references=_REFS,
)
def write_events(inv: Inventory) -> Iterator[CheckResult]:
    yield from _evaluate(inv, write=True)


@check(
    id="cloudtrail_s3_dataevents_read_enabled",
    title="Object-level logging for read events is enabled for S3 buckets",
    service="cloudtrail", severity="low", resource_type="AwsS3Bucket",
    cis={"7.0": ["4.9"], "5.0": ["3.9"], "3.0": ["3.9"]},
    remediation=_REMEDIATION.format(kind="read (or all)", verb="downloaded"),
    references=_REFS,
)
def read_events(inv: Inventory) -> Iterator[CheckResult]:
    yield from _evaluate(inv, write=False)
