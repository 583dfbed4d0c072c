"""Enabled-region discovery: ec2:DescribeRegions with AllRegions, keeping regions whose OptInStatus
says they can be called. `--regions` narrows the set; a requested region that is disabled or unknown is
reported back so the runner can record NOT_EVALUATED "region disabled" for it instead of failing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

ENABLED_STATUSES = frozenset({"opt-in-not-required", "opted-in"})


@dataclass
class RegionSet:
    enabled: list[str]
    disabled_requested: list[str] = field(default_factory=list)  # asked for with --regions but not enabled


def pick_regions(described: Sequence[dict[str, Any]], requested: Sequence[str] = ()) -> RegionSet:
    """Pure: choose regions from a DescribeRegions(AllRegions=True) response."""
    enabled = sorted(
        str(r["RegionName"]) for r in described if r.get("OptInStatus", "opt-in-not-required") in ENABLED_STATUSES
    )
    if not requested:
        return RegionSet(enabled)
    wanted = list(dict.fromkeys(r.strip() for r in requested if r.strip()))
    return RegionSet([r for r in wanted if r in enabled], [r for r in wanted if r not in enabled])


def discover_regions(ec2_client: Any, requested: Sequence[str] = ()) -> RegionSet:
    resp = ec2_client.describe_regions(AllRegions=True)
    return pick_regions(resp.get("Regions", []), requested)
