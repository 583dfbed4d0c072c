"""CIS: RDS instances are encrypted at rest, auto-upgrade minor versions, are not public, and are Multi-AZ."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from cloudwarden.compliance.checks._common import RegionWalk, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.inventory import Inventory

_REFS = ["https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_BestPractices.Security.html"]


def _instances(inv: Inventory, what: Callable[[str, str, dict[str, Any]], CheckResult | None]) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "rds", "db_instances")
    found = 0
    for region, instances in walk:
        for db in instances:
            arn = db.get("DBInstanceArn") or inv.arn("rds", region, f"db:{db.get('DBInstanceIdentifier')}")
            result = what(arn, region, db)
            if result is not None:
                found += 1
                yield result
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, "rds", "RDS DB instances")


@check(
    id="rds_instance_storage_encrypted",
    title="RDS instances are encrypted at rest",
    service="rds", severity="high", resource_type="AwsRdsDbInstance",
    cis={"7.0": ["3.2.1"], "5.0": ["2.2.1"], "3.0": ["2.3.1"]},
    remediation=(
        "Encryption cannot be switched on in place: snapshot the instance, copy the snapshot with a KMS key, "
        "restore a new encrypted instance from the copy and move traffic to it. Create new instances with "
        "storage encryption on."
    ),
    references=["https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.html"],
)
def storage_encrypted(inv: Inventory) -> Iterator[CheckResult]:
    def judge(arn: str, region: str, db: dict[str, Any]) -> CheckResult:
        if db.get("StorageEncrypted"):
            return passed(arn, "storage is encrypted", region)
        return failed(arn, "storage is not encrypted", region)

    yield from _instances(inv, judge)


@check(
    id="rds_instance_minor_version_upgrade_enabled",
    title="Auto minor version upgrade is enabled for RDS instances",
    service="rds", severity="low", resource_type="AwsRdsDbInstance",
    cis={"7.0": ["3.2.2"], "5.0": ["2.2.2"], "3.0": ["2.3.2"]},
    remediation=(
        "Set AutoMinorVersionUpgrade on the instance (modify-db-instance --auto-minor-version-upgrade) so "
        "engine security patches are applied in the maintenance window."
    ),
    references=_REFS,
)
def minor_upgrade(inv: Inventory) -> Iterator[CheckResult]:
    def judge(arn: str, region: str, db: dict[str, Any]) -> CheckResult:
        if db.get("AutoMinorVersionUpgrade"):
            return passed(arn, "auto minor version upgrade is on", region)
        return failed(arn, "auto minor version upgrade is off", region)

    yield from _instances(inv, judge)


@check(
    id="rds_instance_no_public_access",
    title="RDS instances are not publicly accessible",
    service="rds", severity="critical", resource_type="AwsRdsDbInstance",
    cis={"7.0": ["3.2.3"], "5.0": ["2.2.3"], "3.0": ["2.3.3"]},
    remediation=(
        "Modify the instance with --no-publicly-accessible and keep it in private subnets; reach it through "
        "the application tier, a bastion or Session Manager port forwarding instead of the internet."
    ),
    references=_REFS,
)
def no_public_access(inv: Inventory) -> Iterator[CheckResult]:
    def judge(arn: str, region: str, db: dict[str, Any]) -> CheckResult:
        if db.get("PubliclyAccessible"):
            return failed(arn, "instance is publicly accessible (it has a public DNS address)", region)
        return passed(arn, "instance is not publicly accessible", region)

    yield from _instances(inv, judge)


@check(
    id="rds_instance_multi_az",
    title="RDS instances use Multi-AZ deployments",
    service="rds", severity="medium", resource_type="AwsRdsDbInstance",
    cis={"7.0": ["3.2.4"], "5.0": ["2.2.4"]},
    remediation=(
        "Convert the instance to a Multi-AZ deployment (modify-db-instance --multi-az) so a standby in another "
        "availability zone takes over on failure."
    ),
    references=["https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZ.html"],
)
def instance_multi_az(inv: Inventory) -> Iterator[CheckResult]:
    def judge(arn: str, region: str, db: dict[str, Any]) -> CheckResult | None:
        if db.get("DBClusterIdentifier"):
            return None  # cluster members: availability is a property of the cluster (rds_cluster_multi_az)
        if db.get("MultiAZ"):
            return passed(arn, "instance is Multi-AZ", region)
        return failed(arn, "instance runs in a single availability zone", region)

    yield from _instances(inv, judge)


@check(
    id="rds_cluster_multi_az",
    title="RDS clusters span multiple availability zones",
    service="rds", severity="medium", resource_type="AwsRdsDbCluster",
    cis={"7.0": ["3.2.4"], "5.0": ["2.2.4"]},
    remediation=(
        "Add a reader instance in another availability zone to the cluster (Aurora) or create the cluster "
        "as a Multi-AZ DB cluster, so a failover target exists."
    ),
    references=["https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.AuroraHighAvailability.html"],
)
def cluster_multi_az(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "rds", "db_clusters")
    found = 0
    for region, clusters in walk:
        for c in clusters:
            found += 1
            arn = c.get("DBClusterArn") or inv.arn("rds", region, f"cluster:{c.get('DBClusterIdentifier')}")
            if c.get("MultiAZ"):
                yield passed(arn, "cluster spans several availability zones", region)
            else:
                yield failed(arn, "cluster has no instance in a second availability zone", region)
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, "rds", "RDS DB clusters")
