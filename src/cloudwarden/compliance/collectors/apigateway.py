"""API Gateway (REST, v1) collector (regional). Inventory keys, service "apigateway", per region:

- `rest_apis`: list of GetRestApis `RestApi` dicts (id, name, ...).
- `stages/<restApiId>`: GetStages `item` list of `Stage` dicts (stageName, accessLogSettings
  {destinationArn, format}, methodSettings {"*/*": {loggingLevel, ...}}, ...).
"""

from __future__ import annotations

from functools import partial

from cloudwarden.compliance.collectors._fetch import call_all, fetch, fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector("apigateway", actions=["apigateway:GET"], regional=True, description="REST APIs and their stages")
def collect_apigateway(ctx: CollectContext) -> None:
    client = ctx.client("apigateway")
    for api in fetch_list(ctx, "rest_apis", client, "GetRestApis", "items") or []:
        fetch(ctx, f"stages/{api['id']}", "GetStages",
              partial(call_all, client, "GetStages", "item", restApiId=api["id"]))
