"""Run service collectors against moto_server through real boto3 clients, recording every API call."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import boto3
from botocore.config import Config

from cloudwarden.aws.actions import iam_action
from cloudwarden.compliance.collectors.base import CollectContext, RequestCounter, all_collectors
from cloudwarden.compliance.inventory import GLOBAL, Inventory

ACCOUNT = "123456789012"  # moto's default account

class Collected:
    def __init__(self, inventory: Inventory, counter: RequestCounter) -> None:
        self.inventory = inventory
        self.counter = counter


def collect(moto_url: str, services: Iterable[str], regions: Iterable[str] = ("us-east-1",)) -> Collected:
    """Run the named collectors (regional ones once per region) against moto; count API calls."""
    regions = list(regions)
    inv = Inventory(account_id=ACCOUNT, regions=regions)
    counter = RequestCounter()
    cache: dict[tuple[str, str], Any] = {}

    def factory(name: str, region: str) -> Any:
        if (name, region) not in cache:
            client = boto3.client(
                name, region_name=region, endpoint_url=moto_url,
                config=Config(retries={"mode": "standard", "max_attempts": 2}),
            )
            client.meta.events.register(
                "before-call", lambda model, **_: counter.record(client.meta.service_model.service_name, model.name)
            )
            cache[(name, region)] = client
        return cache[(name, region)]

    specs = all_collectors()
    for service in services:
        spec = specs[service]
        for region in regions if spec.regional else [GLOBAL]:
            spec.fn(CollectContext(inventory=inv, region=region, client_factory=factory, service=service))
    return Collected(inv, counter)


def undeclared_calls(services: Iterable[str], counter: RequestCounter) -> set[str]:
    """API calls made that no collector among `services` declared as an IAM action."""
    specs = all_collectors()
    declared = {a for s in services for a in specs[s].actions}
    made = set()
    for key in counter.calls:
        svc, op = key.split(":", 1)
        made.add(iam_action(svc, op))
    return made - declared


def run_check(inv: Inventory, check_id: str) -> list[Any]:
    from cloudwarden.compliance.checks.base import all_checks

    return all_checks()[check_id].evaluate(inv)


def statuses(results: Iterable[Any]) -> dict[str, str]:
    """resource ARN (last path part) -> status string, for compact assertions."""
    return {r.resource_arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]: str(r.status) for r in results}


def boto(moto_url: str, name: str, region: str = "us-east-1") -> Any:
    from cloudwarden.compliance.collectors.s3 import strip_account_host

    c = boto3.client(name, region_name=region, endpoint_url=moto_url)
    c.meta.events.register("before-sign.s3-control", strip_account_host)
    return c
