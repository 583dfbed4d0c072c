"""The inventory: everything collectors fetched in one scan of one account, keyed by
(service, region, key). Checks read it; they never call AWS.

Values are plain JSON-like data in the shape of the boto3 response they came from (datetimes stay
`datetime`), so a check's author can read the AWS API reference to know what is there. Each collector
module documents the keys it writes and their shapes in its docstring.

When a fetch fails, the collector records a `CollectionFailure` under the same key instead of a value.
`Inventory.get` then raises `NotCollected`, which the scan runner turns into NOT_EVALUATED results with
the reason (AccessDenied, API unavailable, region disabled), so a failed fetch can never pass a check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GLOBAL = "global"  # region key for global services (IAM, Organizations, CloudFront, account)


@dataclass(frozen=True)
class CollectionFailure:
    service: str
    region: str
    operation: str  # the API operation that failed, e.g. "GetCredentialReport"
    code: str  # AccessDenied | ApiUnavailable | RegionDisabled | Throttled | InvalidData | Error
    message: str

    @property
    def reason(self) -> str:
        return f"{self.service}:{self.operation} in {self.region}: {self.code}: {self.message}"


class NotCollected(Exception):
    """Raised by Inventory.get when the data is missing or its fetch failed."""

    def __init__(self, failure: CollectionFailure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


@dataclass
class Inventory:
    account_id: str
    partition: str = "aws"
    regions: list[str] = field(default_factory=list)  # the enabled regions this scan covered
    data: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    failures: dict[tuple[str, str, str], CollectionFailure] = field(default_factory=dict)

    def put(self, service: str, key: str, value: Any, region: str = GLOBAL) -> None:
        self.data[(service, region, key)] = value
        self.failures.pop((service, region, key), None)

    def fail(self, service: str, key: str, failure: CollectionFailure, region: str = GLOBAL) -> None:
        self.failures[(service, region, key)] = failure
        self.data.pop((service, region, key), None)

    def get(self, service: str, key: str, region: str = GLOBAL) -> Any:
        k = (service, region, key)
        if k in self.data:
            return self.data[k]
        # (service, region, "*") records a whole collector that failed, so every key it owns says why.
        failure = self.failures.get(k) or self.failures.get((service, region, "*")) or CollectionFailure(
            service, region, key, "NotCollected", "this scan did not collect it"
        )
        raise NotCollected(failure)

    def has(self, service: str, key: str, region: str = GLOBAL) -> bool:
        return (service, region, key) in self.data

    def arn(self, service: str, region: str, resource: str) -> str:
        """Build an ARN in this inventory's partition and account."""
        reg = "" if region == GLOBAL else region
        return f"arn:{self.partition}:{service}:{reg}:{self.account_id}:{resource}"
