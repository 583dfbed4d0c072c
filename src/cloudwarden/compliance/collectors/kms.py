"""KMS collector (regional). Inventory keys, service "kms", per region:

- `keys`: list of ListKeys entries {"KeyId", "KeyArn"}.
- `key_metadata/<KeyId>`: DescribeKey `KeyMetadata` (KeyManager, KeySpec, KeyState, Origin, KeyUsage, ...).
- `key_rotation/<KeyId>`: GetKeyRotationStatus response {"KeyRotationEnabled": bool, ...}, fetched only for
  customer-managed symmetric keys with AWS_KMS origin that are not pending deletion (the only keys rotation
  applies to).
"""

from __future__ import annotations

from functools import partial

from cloudwarden.compliance.collectors._fetch import call_all, call_field, fetch, fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector


def rotation_applies(meta: dict[str, object]) -> bool:
    return (
        meta.get("KeyManager") == "CUSTOMER"
        and meta.get("KeySpec", meta.get("CustomerMasterKeySpec")) == "SYMMETRIC_DEFAULT"
        and meta.get("Origin", "AWS_KMS") == "AWS_KMS"
        and meta.get("KeyState") not in ("PendingDeletion", "PendingReplicaDeletion")
    )


@collector(
    "kms",
    actions=["kms:ListKeys", "kms:DescribeKey", "kms:GetKeyRotationStatus"],
    regional=True,
    description="keys, key metadata, rotation status of customer-managed symmetric keys",
)
def collect_kms(ctx: CollectContext) -> None:
    client = ctx.client("kms")
    keys = fetch_list(ctx, "keys", client, "ListKeys", "Keys")
    for key in keys or []:
        key_id = key["KeyId"]
        ok, meta = fetch(ctx, f"key_metadata/{key_id}", "DescribeKey",
                         partial(call_field, client, "DescribeKey", "KeyMetadata", KeyId=key_id))
        if ok and rotation_applies(meta):
            fetch(ctx, f"key_rotation/{key_id}", "GetKeyRotationStatus",
                  partial(call_all, client, "GetKeyRotationStatus", KeyId=key_id))
