"""Keep compliance current between scans: re-collect the service a CloudTrail change touched, re-run the
checks that read it, update the posture, and raise a compliance alert for every new failure."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from cloudwarden.compliance.inventory import GLOBAL, Inventory
from cloudwarden.models.alert import Alert
from cloudwarden.server.change_map import ChangeTarget, affected_checks
from cloudwarden.server.posture_store import Change, result_from

log = logging.getLogger("cloudwarden.server.live")


def compliance_alert(change: Change, target: ChangeTarget | None) -> Alert:
    t = datetime.now(UTC)
    why = f"{change.title} now fails for {change.resource_arn}: {change.reason}."
    if target is not None:
        why += f" Caused by {target.reason}."
    return Alert(
        rule_id=change.check_id, title=f"Compliance: {change.title}", severity=change.severity, source="compliance",
        explanation=why, first_seen=t, last_seen=t, entity=change.resource_arn, account=change.account,
        region="" if change.region == GLOBAL else change.region,
        evidence=[{"check_id": change.check_id, "resource": change.resource_arn, "previous": change.old_status or "new",
                   "status": change.new_status, "cause": change.cause}],
        evidence_ids=[f"{change.check_id}|{change.resource_arn}|{target.event_id if target else change.cause}"],
    )


def _identity(ctx: Any, acct: Any, session: Any) -> str:
    """The account id behind an account entry without one, asked once per entry."""
    cache: dict[str, str] = ctx.__dict__.setdefault("_account_ids", {})
    if acct.name not in cache:
        cache[acct.name] = str(session.caller_identity().account_id)
    return cache[acct.name]


def recheck(ctx: Any, target: ChangeTarget) -> dict[str, Any]:
    """Runs in a job worker. Returns a summary for the job record."""
    from cloudwarden.aws.session import AwsSession
    from cloudwarden.compliance.checks.base import all_checks
    from cloudwarden.compliance.collectors.base import CollectContext, all_collectors

    t0 = time.perf_counter()
    spec = all_collectors().get(target.service)
    if spec is None:
        return {"skipped": f"no collector registered for service {target.service!r}"}
    checks = all_checks()
    ids = affected_checks(target, [c.meta for c in checks.values()])
    if not ids:
        return {"skipped": f"no checks read service {target.service!r}"}
    acct = ctx.account_for(target.account)
    session = AwsSession(profile=acct.profile or None, endpoint_url=acct.endpoint_url or None)
    region = target.region if spec.regional else GLOBAL
    account_id = acct.account_id or _identity(ctx, acct, session)
    if target.account and target.account != account_id:
        # the event is about an account these credentials do not reach: re-collecting would check the wrong one
        return {"skipped": f"event account {target.account} is not configured (credentials reach {account_id})"}
    inv = Inventory(account_id=account_id, regions=[target.region] if spec.regional else list(acct.regions or (target.region,)))
    spec.fn(CollectContext(inventory=inv, region=region, client_factory=session.client, service=spec.service))
    results = []
    for cid in ids:
        chk = checks[cid]
        try:
            for r in chk.evaluate(inv):
                results.append(result_from(r, chk.meta))
        except Exception as exc:  # noqa: BLE001 - a check bug leaves that check's posture as it was
            log.warning("live check failed", extra={"fields": {"check": cid, "error": f"{type(exc).__name__}: {exc}"}})
            ids = [i for i in ids if i != cid]
    # A regional re-collection only speaks for its own region (and global resources of that service).
    regions = [region, GLOBAL] if spec.regional else None
    changes = ctx.posture.apply(results, account=account_id, checks=ids, cause=target.reason, kind="live", regions=regions)
    new_failures = [c for c in changes if c.new_failure]
    ctx.raise_alerts([compliance_alert(c, target) for c in new_failures])
    elapsed = time.perf_counter() - t0
    ctx.metrics.live_seconds.observe(elapsed)
    log.info("live re-check", extra={"fields": {"service": target.service, "region": region, "checks": len(ids),
                                                 "changes": len(changes), "new_failures": len(new_failures), "s": round(elapsed, 3)}})
    return {"checks": len(ids), "changes": len(changes), "new_failures": len(new_failures), "seconds": round(elapsed, 3)}
