"""CIS: automatic rotation is enabled for customer-managed symmetric KMS keys."""

from __future__ import annotations

from collections.abc import Iterator

from cloudwarden.compliance.checks._common import RegionWalk, get_or_reason, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.collectors.kms import rotation_applies
from cloudwarden.compliance.inventory import Inventory


@check(
    id="kms_cmk_rotation_enabled",
    title="Rotation is enabled for customer-created symmetric KMS keys",
    service="kms", severity="medium", resource_type="AwsKmsKey",
    cis={"7.0": ["4.6"], "5.0": ["3.6"], "3.0": ["3.6"]},
    remediation=(
        "Enable automatic key rotation on the key (`aws kms enable-key-rotation --key-id ...`, optionally with "
        "a rotation period). KMS keeps old key material for decryption, so nothing needs re-encrypting, and "
        "the amount of data protected by one key version stays bounded."
    ),
    references=["https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "kms", "keys")
    found = 0
    for region, keys in walk:
        for key in keys:
            key_id = key["KeyId"]
            arn = key.get("KeyArn") or inv.arn("kms", region, f"key/{key_id}")
            meta, why = get_or_reason(inv, "kms", f"key_metadata/{key_id}", region)
            if why is not None:
                found += 1
                yield not_evaluated(arn, why, region)
                continue
            if not rotation_applies(meta) or meta.get("KeyState") != "Enabled":
                continue  # AWS-managed, asymmetric, HMAC, imported or disabled keys: rotation does not apply
            found += 1
            status, why_r = get_or_reason(inv, "kms", f"key_rotation/{key_id}", region)
            if why_r is not None:
                yield not_evaluated(arn, why_r, region)
            elif status.get("KeyRotationEnabled"):
                yield passed(arn, "automatic rotation is on", region)
            else:
                yield failed(arn, "automatic rotation is off for this customer-managed symmetric key", region)
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, "kms", "enabled customer-managed symmetric KMS keys")
