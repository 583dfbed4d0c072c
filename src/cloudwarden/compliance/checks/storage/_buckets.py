"""Walk the S3 buckets of the inventory, one bucket setting at a time (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from cloudwarden.compliance.checks._common import get_or_reason, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, not_evaluated
from cloudwarden.compliance.inventory import GLOBAL, Inventory


def per_bucket(
    inv: Inventory, setting: str, judge: Callable[[str, str, str, Any], CheckResult]
) -> Iterator[CheckResult]:
    """Call judge(arn, name, region, value of `<setting>/<name>`) for every bucket; NOT_EVALUATED where
    that bucket's setting could not be read."""
    buckets = inv.get("s3", "buckets")
    for b in buckets:
        name, region = b["Name"], b.get("Region") or GLOBAL
        arn = f"arn:{inv.partition}:s3:::{name}"
        value, why = get_or_reason(inv, "s3", f"{setting}/{name}")
        if why is not None:
            yield not_evaluated(arn, why, region)
        else:
            yield judge(arn, name, region, value)
    if not buckets:
        yield nothing_found(inv, "s3", "S3 buckets")
