"""Collector registry. One module per AWS service under `compliance/collectors/`.

A collector is a function `collect(ctx: CollectContext) -> None` that fetches every resource of its
service once and writes it into `ctx.inventory`. It is registered with the IAM actions it may call, so
`cloudwarden permissions` can print the least-privilege policy and a test can compare the declared
actions with the calls actually made.

    @collector("s3", actions=["s3:ListAllMyBuckets", "s3:GetBucketPolicy", ...], regional=False)
    def collect_s3(ctx: CollectContext) -> None: ...

Regional collectors (`regional=True`) are called once per enabled region with `ctx.region` set; global
ones once per account with `ctx.region == GLOBAL`. The runner calls them concurrently (bounded).
Failures: catch botocore ClientError per call and record `ctx.fail(key, operation, exc)`; never let one
resource's failure stop the rest of the service.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudwarden.compliance.inventory import GLOBAL, CollectionFailure, Inventory

CollectFn = Callable[["CollectContext"], None]


@dataclass
class CollectContext:
    inventory: Inventory
    region: str
    client_factory: Callable[[str, str], Any]  # (service_name, region) -> boto3 client
    service: str = ""

    def client(self, service_name: str, region: str | None = None) -> Any:
        return self.client_factory(service_name, region or (self.region if self.region != GLOBAL else "us-east-1"))

    def put(self, key: str, value: Any) -> None:
        self.inventory.put(self.service, key, value, self.region)

    def fail(self, key: str, operation: str, exc: BaseException) -> None:
        self.inventory.fail(self.service, key, failure_from_exception(self.service, self.region, operation, exc), self.region)


def failure_from_exception(service: str, region: str, operation: str, exc: BaseException) -> CollectionFailure:
    code = "Error"
    message = str(exc)
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        raw = str(err.get("Code", "Error"))
        message = str(err.get("Message", message))
        if raw in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "UnauthorizedAccess"):
            code = "AccessDenied"
        elif raw in ("Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"):
            code = "Throttled"
        elif raw in ("OptInRequired", "InvalidClientTokenId", "UnrecognizedClientException") and region != GLOBAL:
            code = "RegionDisabled"
        elif raw in ("InvalidAction", "UnknownOperationException", "NotImplemented", "InvalidRequest",
                     "404", "405", "501"):
            code = "ApiUnavailable"
        else:
            code = raw
    elif type(exc).__name__ in ("EndpointConnectionError", "UnknownServiceError"):
        code = "ApiUnavailable"
    elif type(exc).__name__ == "ResponseParserError":
        code = "InvalidResponse"  # the endpoint answered something that is not this API (e.g. an HTML error page)
        message = message.split("\n", 1)[0]
    if message.lstrip().startswith("<"):
        message = "the endpoint answered with an HTML error page instead of the API response"
        if code.isdigit():
            code = "ApiUnavailable"  # an emulator (moto_server, LocalStack) without this API
    return CollectionFailure(service, region, operation, code, message)


@dataclass(frozen=True)
class CollectorSpec:
    service: str
    fn: CollectFn
    actions: tuple[str, ...]
    regional: bool
    description: str = ""


_REGISTRY: dict[str, CollectorSpec] = {}


def collector(service: str, *, actions: list[str], regional: bool, description: str = "") -> Callable[[CollectFn], CollectFn]:
    def register(fn: CollectFn) -> CollectFn:
        if service in _REGISTRY:
            raise ValueError(f"collector {service!r} registered twice")
        _REGISTRY[service] = CollectorSpec(service, fn, tuple(sorted(set(actions))), regional, description)
        return fn

    return register


def all_collectors() -> dict[str, CollectorSpec]:
    """Every collector, importing each collector module once."""
    import cloudwarden.compliance.collectors as pkg
    from cloudwarden.compliance.collectors import load_all

    load_all(pkg)
    return dict(_REGISTRY)


@dataclass
class RequestCounter:
    """Counts API requests made (botocore 'before-call' events) for benchmarks and the permissions test."""

    calls: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, service: str, operation: str) -> None:
        key = f"{service}:{operation}"
        with self._lock:  # clients on many threads share one counter
            self.calls[key] = self.calls.get(key, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())
