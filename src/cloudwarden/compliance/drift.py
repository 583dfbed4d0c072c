"""Drift between two scans of the same scope: a pure function over their results.

Findings are matched by their stable uid (check, account, region, resource ARN). Resources are the
(account, region, ARN) triples that some check actually evaluated (PASS or FAIL): a resource that only
appears in NOT_EVALUATED results (its service was AccessDenied, say) is neither added nor removed, and a
resource that only checks now NOT_EVALUATED had seen is not "removed": a permission problem never looks
like the estate shrinking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cloudwarden.compliance.checks.base import CheckResult, Status
from cloudwarden.compliance.results import result_uid


@dataclass(frozen=True)
class Change:
    uid: str
    check_id: str
    account_id: str
    region: str
    resource_arn: str
    before: Status | None  # None: the finding did not exist in the previous scan
    after: Status | None  # None: the finding is gone in the current scan
    reason: str = ""  # the current reason (or the previous one when the finding is gone)


@dataclass(frozen=True)
class ResourceRef:
    account_id: str
    region: str
    arn: str


@dataclass
class Drift:
    previous_id: str | None
    current_id: str
    new_failures: list[Change] = field(default_factory=list)  # FAIL now, not FAIL before (incl. new findings)
    fixed: list[Change] = field(default_factory=list)  # FAIL before, PASS now
    status_changes: list[Change] = field(default_factory=list)  # every finding present in both whose status changed
    resources_added: list[ResourceRef] = field(default_factory=list)
    resources_removed: list[ResourceRef] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.new_failures or self.fixed or self.status_changes or self.resources_added or self.resources_removed)

    def summary(self) -> dict[str, int]:
        return {
            "new_failures": len(self.new_failures),
            "fixed": len(self.fixed),
            "status_changes": len(self.status_changes),
            "resources_added": len(self.resources_added),
            "resources_removed": len(self.resources_removed),
        }


def _index(results: Iterable[CheckResult]) -> dict[str, CheckResult]:
    out: dict[str, CheckResult] = {}
    for r in results:
        uid = result_uid(r)
        prev = out.get(uid)
        # Duplicate (check, resource) results: the worst status wins so a failure is never hidden.
        if prev is None or _rank(r.status) > _rank(prev.status):
            out[uid] = r
    return out


def _rank(s: Status) -> int:
    return {Status.PASS: 0, Status.MANUAL: 1, Status.NOT_EVALUATED: 2, Status.FAIL: 3}[s]


def _resources(results: Iterable[CheckResult]) -> set[ResourceRef]:
    return {
        ResourceRef(r.account_id, r.region, r.resource_arn)
        for r in results
        if r.status in (Status.PASS, Status.FAIL) and r.resource_arn
    }


def _change(uid: str, before: CheckResult | None, after: CheckResult | None) -> Change:
    ref = after or before
    assert ref is not None
    return Change(
        uid=uid,
        check_id=ref.check_id,
        account_id=ref.account_id,
        region=ref.region,
        resource_arn=ref.resource_arn,
        before=before.status if before else None,
        after=after.status if after else None,
        reason=ref.reason,
    )


def diff(
    previous: Iterable[CheckResult] | None,
    current: Iterable[CheckResult],
    *,
    previous_id: str | None = None,
    current_id: str = "",
) -> Drift:
    """What changed from `previous` to `current`. With no previous scan every current failure is new."""
    prev = _index(previous or [])
    cur = _index(current)
    drift = Drift(previous_id, current_id)
    for uid in sorted(cur, key=lambda u: (cur[u].check_id, cur[u].resource_arn, u)):
        after = cur[uid]
        before = prev.get(uid)
        if after.status is Status.FAIL and (before is None or before.status is not Status.FAIL):
            drift.new_failures.append(_change(uid, before, after))
        if before is not None and before.status is not after.status:
            ch = _change(uid, before, after)
            drift.status_changes.append(ch)
            if before.status is Status.FAIL and after.status is Status.PASS:
                drift.fixed.append(ch)
    if previous is not None:
        prev_res = _resources(prev.values())
        cur_res = _resources(cur.values())
        # Checks that could not look this time (AccessDenied, region disabled): what only they saw
        # before is unknown now, not removed.
        blind = {(r.check_id, r.account_id) for r in cur.values() if r.status is Status.NOT_EVALUATED}
        seen_by: dict[ResourceRef, set[tuple[str, str]]] = {}
        for r in prev.values():
            if r.status in (Status.PASS, Status.FAIL) and r.resource_arn:
                seen_by.setdefault(ResourceRef(r.account_id, r.region, r.resource_arn), set()).add((r.check_id, r.account_id))
        key = lambda r: (r.account_id, r.region, r.arn)  # noqa: E731
        drift.resources_added = sorted(cur_res - prev_res, key=key)
        drift.resources_removed = sorted((x for x in prev_res - cur_res if not seen_by.get(x, set()) <= blind), key=key)
    return drift
