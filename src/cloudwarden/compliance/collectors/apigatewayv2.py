"""API Gateway v2 (HTTP and WebSocket APIs) collector (regional). Inventory keys, service "apigatewayv2":

- `apis`: list of GetApis `Api` dicts (ApiId, Name, ProtocolType, ...).
- `stages/<ApiId>`: GetStages `Items` list of `Stage` dicts (StageName, AccessLogSettings
  {DestinationArn, Format}, ...).
"""

from __future__ import annotations

from functools import partial

from cloudwarden.compliance.collectors._fetch import call_all, fetch, fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector("apigatewayv2", actions=["apigateway:GET"], regional=True, description="HTTP/WebSocket APIs and their stages")
def collect_apigatewayv2(ctx: CollectContext) -> None:
    client = ctx.client("apigatewayv2")
    for api in fetch_list(ctx, "apis", client, "GetApis", "Items") or []:
        fetch(ctx, f"stages/{api['ApiId']}", "GetStages",
              partial(call_all, client, "GetStages", "Items", ApiId=api["ApiId"]))
