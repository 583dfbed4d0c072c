"""CIS: EFS file systems are encrypted at rest."""

from __future__ import annotations

from collections.abc import Iterator

from cloudwarden.compliance.checks._common import RegionWalk, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.inventory import Inventory


@check(
    id="efs_encryption_at_rest_enabled",
    title="EFS file systems are encrypted at rest",
    service="efs", severity="high", resource_type="AwsEfsFileSystem",
    cis={"7.0": ["3.3.1"], "5.0": ["2.3.1"], "3.0": ["2.4.1"]},
    remediation=(
        "EFS encryption is chosen at creation: create a new encrypted file system (with a KMS key), copy the "
        "data across (for example with AWS DataSync), switch the mount targets and delete the old one."
    ),
    references=["https://docs.aws.amazon.com/efs/latest/ug/encryption-at-rest.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "efs", "file_systems")
    found = 0
    for region, systems in walk:
        for fs in systems:
            found += 1
            arn = fs.get("FileSystemArn") or inv.arn("elasticfilesystem", region, f"file-system/{fs.get('FileSystemId')}")
            if fs.get("Encrypted"):
                yield passed(arn, "file system is encrypted", region)
            else:
                yield failed(arn, "file system is not encrypted at rest", region)
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, "efs", "EFS file systems")
