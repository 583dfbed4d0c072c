"""CIS: EBS encryption by default is enabled in every region."""

from __future__ import annotations

from collections.abc import Iterator

from cloudwarden.compliance.checks._common import RegionWalk, account_arn
from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.inventory import Inventory


@check(
    id="ec2_ebs_default_encryption",
    title="EBS volume encryption by default is enabled in all regions",
    service="ec2", severity="medium", resource_type="AwsAccount",
    cis={"7.0": ["6.1.1"], "5.0": ["5.1.1"], "3.0": ["2.2.1"]},
    remediation=(
        "Enable EBS encryption by default in every region (EC2 console > Account attributes > Data protection, "
        "or `aws ec2 enable-ebs-encryption-by-default` per region); new volumes and snapshot copies are then "
        "always encrypted. Existing unencrypted volumes must be copied to encrypted ones."
    ),
    references=["https://docs.aws.amazon.com/ebs/latest/userguide/encryption-by-default.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "ec2", "ebs_encryption_by_default")
    for region, value in walk:
        where = account_arn(inv, "ec2", region)
        if (value or {}).get("EbsEncryptionByDefault"):
            yield passed(where, "EBS encryption by default is on", region)
        else:
            yield failed(where, "EBS encryption by default is off in this region", region)
    yield from walk.skipped
