"""ELBv2 collector (regional). Inventory keys, service "elbv2", per region:

- `load_balancers`: list of DescribeLoadBalancers `LoadBalancer` dicts (LoadBalancerArn, Type, Scheme, ...).
- `load_balancer_attributes/<LoadBalancerArn>`: DescribeLoadBalancerAttributes `Attributes` list of
  {"Key", "Value"} (e.g. access_logs.s3.enabled = "true").
"""

from __future__ import annotations

from functools import partial

from cloudwarden.compliance.collectors._fetch import call_all, fetch, fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector(
    "elbv2",
    actions=["elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes"],
    regional=True,
    description="application/network/gateway load balancers and their attributes",
)
def collect_elbv2(ctx: CollectContext) -> None:
    client = ctx.client("elbv2")
    for lb in fetch_list(ctx, "load_balancers", client, "DescribeLoadBalancers", "LoadBalancers") or []:
        arn = lb["LoadBalancerArn"]
        fetch(ctx, f"load_balancer_attributes/{arn}", "DescribeLoadBalancerAttributes",
              partial(call_all, client, "DescribeLoadBalancerAttributes", "Attributes", LoadBalancerArn=arn))
