"""Amazon Macie collector (regional). Inventory keys, service "macie2", per region:

- `session`: GetMacieSession response minus metadata (status ENABLED/PAUSED, createdAt, ...), or
  {"status": "DISABLED"} when Macie was never enabled in the region (AWS answers AccessDeniedException
  "Macie is not enabled" for that, which is data, not a permission problem).
"""

from __future__ import annotations

from cloudwarden.compliance.collectors._fetch import AWS_ERRORS, call_all, error_code
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector(
    "macie2",
    actions=["macie2:GetMacieSession"],
    regional=True,
    description="Macie status per region",
)
def collect_macie(ctx: CollectContext) -> None:
    client = ctx.client("macie2")
    try:
        ctx.put("session", call_all(client, "GetMacieSession"))
    except AWS_ERRORS as exc:
        message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", ""))
        code = error_code(exc)
        if code == "ResourceNotFoundException" or (code == "AccessDeniedException" and "not enabled" in message.lower()):
            ctx.put("session", {"status": "DISABLED"})
        else:
            ctx.fail("session", "GetMacieSession", exc)
