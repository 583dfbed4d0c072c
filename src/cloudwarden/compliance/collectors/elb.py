"""Classic Load Balancer collector (regional). Inventory keys, service "elb", per region:

- `load_balancers`: list of DescribeLoadBalancers `LoadBalancerDescription` dicts (LoadBalancerName,
  DNSName, Scheme, VPCId, ...).
- `load_balancer_attributes/<LoadBalancerName>`: DescribeLoadBalancerAttributes `LoadBalancerAttributes`
  ({"AccessLog": {"Enabled": bool, "S3BucketName": ...}, ...}).
"""

from __future__ import annotations

from functools import partial

from cloudwarden.compliance.collectors._fetch import call_field, fetch, fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector(
    "elb",
    actions=["elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes"],
    regional=True,
    description="classic load balancers and their access log settings",
)
def collect_elb(ctx: CollectContext) -> None:
    client = ctx.client("elb")
    for lb in fetch_list(ctx, "load_balancers", client, "DescribeLoadBalancers", "LoadBalancerDescriptions") or []:
        name = lb["LoadBalancerName"]
        fetch(ctx, f"load_balancer_attributes/{name}", "DescribeLoadBalancerAttributes",
              partial(call_field, client, "DescribeLoadBalancerAttributes", "LoadBalancerAttributes", LoadBalancerName=name))
