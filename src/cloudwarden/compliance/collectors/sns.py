"""SNS collector (regional). Inventory keys, service "sns", per region:

- `topics`: list of ListTopics entries {"TopicArn"}.
- `subscriptions`: list of ListSubscriptions `Subscription` dicts (SubscriptionArn — "PendingConfirmation"
  until confirmed —, TopicArn, Protocol, Endpoint, Owner).
"""

from __future__ import annotations

from cloudwarden.compliance.collectors._fetch import fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector("sns", actions=["sns:ListTopics", "sns:ListSubscriptions"], regional=True, description="topics and subscriptions")
def collect_sns(ctx: CollectContext) -> None:
    client = ctx.client("sns")
    fetch_list(ctx, "topics", client, "ListTopics", "Topics")
    fetch_list(ctx, "subscriptions", client, "ListSubscriptions", "Subscriptions")
