"""EFS collector (regional). Inventory keys, service "efs", per region:

- `file_systems`: list of DescribeFileSystems `FileSystemDescription` dicts (FileSystemId, FileSystemArn,
  Encrypted, KmsKeyId, Name, ...).
"""

from __future__ import annotations

from cloudwarden.compliance.collectors._fetch import fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector("efs", actions=["elasticfilesystem:DescribeFileSystems"], regional=True, description="file systems")
def collect_efs(ctx: CollectContext) -> None:
    fetch_list(ctx, "file_systems", ctx.client("efs"), "DescribeFileSystems", "FileSystems")
