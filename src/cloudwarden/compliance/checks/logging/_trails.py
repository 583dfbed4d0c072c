"""Pure views over the CloudTrail inventory shared by the Logging and Monitoring checks.

A multi-region or organization trail appears in DescribeTrails of every region; it is deduplicated by
ARN here and its status and selectors are read from its home region, where the collector fetched them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cloudwarden.compliance.checks._common import RegionWalk, get_or_reason
from cloudwarden.compliance.checks.base import CheckResult
from cloudwarden.compliance.inventory import Inventory

S3_OBJECT = "AWS::S3::Object"


@dataclass
class TrailView:
    trail: dict[str, Any]
    status: dict[str, Any] | None
    selectors: dict[str, Any] | None
    unknown: list[str] = field(default_factory=list)  # why status/selectors are missing

    @property
    def arn(self) -> str:
        return str(self.trail["TrailARN"])

    @property
    def home(self) -> str:
        return str(self.trail.get("HomeRegion", ""))

    @property
    def multi_region(self) -> bool:
        return bool(self.trail.get("IsMultiRegionTrail"))

    @property
    def logging(self) -> bool | None:
        return None if self.status is None else bool(self.status.get("IsLogging"))


@dataclass
class Trails:
    views: list[TrailView]
    skipped: list[CheckResult]  # regions whose trails could not be listed
    regions_seen: int


def load_trails(inv: Inventory) -> Trails:
    walk = RegionWalk(inv, "cloudtrail", "trails")
    by_arn: dict[str, TrailView] = {}
    for _region, trails in walk:
        for trail in trails:
            arn = trail["TrailARN"]
            if arn in by_arn:
                continue
            home = trail.get("HomeRegion", "")
            status, why_s = get_or_reason(inv, "cloudtrail", f"trail_status/{arn}", home)
            selectors, why_e = get_or_reason(inv, "cloudtrail", f"event_selectors/{arn}", home)
            by_arn[arn] = TrailView(trail, status, selectors, [w for w in (why_s, why_e) if w])
    return Trails(list(by_arn.values()), walk.skipped, walk.seen)


def _fields(selector: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f.get("Field", ""): f for f in selector.get("FieldSelectors", [])}


def logs_all_management_events(view: TrailView) -> bool | None:
    """Read and write management events are both recorded (None when the selectors are unknown)."""
    sel = view.selectors
    if sel is None:
        return None
    if not sel.get("EventSelectors") and not sel.get("AdvancedEventSelectors"):
        return True  # no selectors configured: CloudTrail's default records all management events
    for s in sel.get("EventSelectors") or []:
        if s.get("IncludeManagementEvents", True) and s.get("ReadWriteType", "All") == "All":
            return True
    for s in sel.get("AdvancedEventSelectors") or []:
        f = _fields(s)
        if "Management" in (f.get("eventCategory", {}).get("Equals") or []) and "readOnly" not in f:
            return True
    return False


def _arn_matches(arn: str, fs: dict[str, Any]) -> bool:
    """Does an advanced selector's resources.ARN field selector include this object ARN?"""
    ok = True
    if fs.get("Equals"):
        ok = arn in fs["Equals"]
    if fs.get("StartsWith"):
        ok = ok and any(arn.startswith(p) for p in fs["StartsWith"])
    if fs.get("EndsWith"):
        ok = ok and any(arn.endswith(p) for p in fs["EndsWith"])
    if any(arn.startswith(p) for p in fs.get("NotStartsWith") or []):
        ok = False
    if arn in (fs.get("NotEquals") or []):
        ok = False
    return ok


def covers_s3_objects(view: TrailView, bucket: str, partition: str, *, write: bool) -> bool:
    """Does this trail record object-level (data) events of this bucket, for writes or for reads?"""
    sel = view.selectors or {}
    sample = f"arn:{partition}:s3:::{bucket}/any-object"
    wanted = ("All", "WriteOnly") if write else ("All", "ReadOnly")
    for s in sel.get("EventSelectors") or []:
        if s.get("ReadWriteType", "All") not in wanted:
            continue
        for res in s.get("DataResources") or []:
            if res.get("Type") != S3_OBJECT:
                continue
            for value in res.get("Values") or []:
                # "arn:aws:s3" / "arn:aws:s3:::" mean every bucket; otherwise a bucket or prefix ARN
                if value.rstrip(":") == f"arn:{partition}:s3" or sample.startswith(value.rstrip("*")):
                    return True
    for s in sel.get("AdvancedEventSelectors") or []:
        f = _fields(s)
        if "Data" not in (f.get("eventCategory", {}).get("Equals") or []):
            continue
        if S3_OBJECT not in (f.get("resources.type", {}).get("Equals") or []):
            continue
        if "eventName" in f:
            continue  # only some operations: not object-level logging of the bucket as a whole
        read_only = f.get("readOnly", {}).get("Equals") or []
        if read_only and (("false" if write else "true") not in [str(v).lower() for v in read_only]):
            continue
        if "resources.ARN" in f and not _arn_matches(sample, f["resources.ARN"]):
            continue
        return True
    return False


def describe_problems(views: Iterable[TrailView]) -> str:
    parts = []
    for v in views:
        issues = []
        if not v.multi_region:
            issues.append("single-region")
        if v.logging is False:
            issues.append("not logging")
        if v.logging is None:
            issues.append("status unknown")
        if logs_all_management_events(v) is False:
            issues.append("records only read or only write management events, or none")
        parts.append(f"{v.trail.get('Name', v.arn)} ({', '.join(issues) or 'ok'})")
    return "; ".join(parts)
