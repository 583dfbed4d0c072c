"""Small helpers shared by the service collectors: one API call (all pages) into one inventory key,
with the failure recorded under that key instead of raised.

Module name starts with "_" so the collector loader does not treat it as a service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from cloudwarden.compliance.collectors.base import CollectContext

AWS_ERRORS: tuple[type[BaseException], ...] = (ClientError, BotoCoreError)


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def strip_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def call_all(client: Any, operation: str, result_key: str | None = None, **kwargs: Any) -> Any:
    """Call `operation` (API name, e.g. "DescribeInstances"), following every page.

    With `result_key` the lists under that key are concatenated; without it the (single-page)
    response is returned minus ResponseMetadata.
    """
    method = xform_name(operation)
    if result_key is None:
        return strip_metadata(getattr(client, method)(**kwargs))
    if client.can_paginate(method):
        out: list[Any] = []
        for page in client.get_paginator(method).paginate(**kwargs):
            out.extend(page.get(result_key) or [])
        return out
    return list(getattr(client, method)(**kwargs).get(result_key) or [])


def fetch(
    ctx: CollectContext,
    key: str,
    operation: str,
    call: Callable[[], Any],
    *,
    absent: Iterable[str] = (),
    absent_value: Any = None,
) -> tuple[bool, Any]:
    """Run `call` and store its result under `key`; on an AWS error record the failure.

    Error codes in `absent` mean "not configured" (e.g. NoSuchBucketPolicy): `absent_value` is stored
    instead, because for a check "no policy" is data, not a failed fetch. Returns (ok, value).
    """
    try:
        value = call()
    except AWS_ERRORS as exc:
        if error_code(exc) in set(absent):
            ctx.put(key, absent_value)
            return True, absent_value
        ctx.fail(key, operation, exc)
        return False, None
    ctx.put(key, value)
    return True, value


def fetch_list(ctx: CollectContext, key: str, client: Any, operation: str, result_key: str, **kwargs: Any) -> list[Any] | None:
    """Every item of a paginated list operation into `key`; None when the fetch failed."""
    ok, value = fetch(ctx, key, operation, lambda: call_all(client, operation, result_key, **kwargs))
    return value if ok else None


def call_field(client: Any, operation: str, field: str, **kwargs: Any) -> Any:
    """One field of a single-page response (e.g. DescribeKey -> KeyMetadata); None when absent."""
    return getattr(client, xform_name(operation))(**kwargs).get(field)
