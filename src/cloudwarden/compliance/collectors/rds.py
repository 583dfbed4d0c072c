"""RDS collector (regional). Inventory keys, service "rds", per region:

- `db_instances`: list of DescribeDBInstances `DBInstance` dicts (DBInstanceArn, Engine, StorageEncrypted,
  PubliclyAccessible, AutoMinorVersionUpgrade, MultiAZ, DBClusterIdentifier, ...).
- `db_clusters`: list of DescribeDBClusters `DBCluster` dicts (DBClusterArn, MultiAZ, StorageEncrypted, ...).
"""

from __future__ import annotations

from cloudwarden.compliance.collectors._fetch import fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector("rds", actions=["rds:DescribeDBInstances", "rds:DescribeDBClusters"], regional=True,
           description="DB instances and clusters")
def collect_rds(ctx: CollectContext) -> None:
    client = ctx.client("rds")
    fetch_list(ctx, "db_instances", client, "DescribeDBInstances", "DBInstances")
    fetch_list(ctx, "db_clusters", client, "DescribeDBClusters", "DBClusters")
