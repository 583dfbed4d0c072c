"""Check registry and result model.

One small module per check (or per closely related family) under `compliance/checks/<section>/`. A check
is metadata plus a pure function over the inventory:

    @check(
        id="iam_root_mfa_enabled",
        title="MFA is enabled for the root user",
        service="iam", severity="critical", resource_type="AwsIamUser",
        cis={"7.0": ["2.5"], "5.0": ["1.4"], "3.0": ["1.5"]},
        remediation="...our own words...", references=["https://docs.aws.amazon.com/..."],
    )
    def root_mfa(inv: Inventory) -> Iterable[CheckResult]:
        report = inv.get("iam", "credential_report")   # raises NotCollected -> NOT_EVALUATED
        ...
        yield passed(resource_arn, "root has MFA", region=GLOBAL)

`cis` lists the control ids this check evaluates in each CIS version; frameworks files list the
controls of each version, and any control no check claims is reported MANUAL with what a person must
verify. A check yields one result per resource it looked at; a check that finds nothing to look at
yields a PASS on the account with a reason (e.g. "no IAM users"), never nothing at all.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cloudwarden.compliance.inventory import GLOBAL, Inventory, NotCollected


class Status(enum.StrEnum):
    PASS = "PASS"  # noqa: S105 - a status, not a password
    FAIL = "FAIL"
    NOT_EVALUATED = "NOT_EVALUATED"
    MANUAL = "MANUAL"


SEVERITIES = ("informational", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class CheckMeta:
    id: str
    title: str
    service: str
    severity: str
    resource_type: str  # ASFF/OCSF-style resource type, e.g. AwsS3Bucket
    remediation: str
    cis: dict[str, list[str]] = field(default_factory=dict)  # CIS version -> control ids
    references: tuple[str, ...] = ()
    description: str = ""


@dataclass
class CheckResult:
    """One (check, resource) outcome. `check_id`, `account_id` are filled in by the runner."""

    status: Status
    resource_arn: str
    reason: str
    region: str = GLOBAL
    resource_type: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    check_id: str = ""
    account_id: str = ""


def passed(resource_arn: str, reason: str, region: str = GLOBAL, **details: Any) -> CheckResult:
    return CheckResult(Status.PASS, resource_arn, reason, region, details=details)


def failed(resource_arn: str, reason: str, region: str = GLOBAL, **details: Any) -> CheckResult:
    return CheckResult(Status.FAIL, resource_arn, reason, region, details=details)


def not_evaluated(resource_arn: str, reason: str, region: str = GLOBAL) -> CheckResult:
    return CheckResult(Status.NOT_EVALUATED, resource_arn, reason, region)


EvaluateFn = Callable[[Inventory], Iterable[CheckResult]]


@dataclass(frozen=True)
class Check:
    meta: CheckMeta
    evaluate_fn: EvaluateFn

    def evaluate(self, inv: Inventory) -> list[CheckResult]:
        """Run the check; a NotCollected becomes NOT_EVALUATED with the reason, never a pass."""
        out: list[CheckResult] = []
        try:
            for r in self.evaluate_fn(inv):
                r.check_id = self.meta.id
                r.account_id = inv.account_id
                r.resource_type = r.resource_type or self.meta.resource_type
                out.append(r)
        except NotCollected as exc:
            f = exc.failure
            out = [r for r in out if r.status is not Status.PASS]  # partial passes are not trusted
            out.append(
                CheckResult(
                    Status.NOT_EVALUATED,
                    f"arn:{inv.partition}:{f.service}:{'' if f.region == GLOBAL else f.region}:{inv.account_id}:",
                    f.reason,
                    f.region,
                    self.meta.resource_type,
                    check_id=self.meta.id,
                    account_id=inv.account_id,
                )
            )
        return out


_REGISTRY: dict[str, Check] = {}


def check(**meta: Any) -> Callable[[EvaluateFn], EvaluateFn]:
    def register(fn: EvaluateFn) -> EvaluateFn:
        m = CheckMeta(**{**meta, "references": tuple(meta.get("references", ()))})
        if m.id in _REGISTRY:
            raise ValueError(f"check {m.id!r} registered twice")
        if m.severity not in SEVERITIES:
            raise ValueError(f"check {m.id!r}: severity {m.severity!r} not in {SEVERITIES}")
        _REGISTRY[m.id] = Check(m, fn)
        return fn

    return register


def all_checks() -> dict[str, Check]:
    """Every registered check, importing every module under compliance/checks once."""
    import importlib
    import pkgutil

    import cloudwarden.compliance.checks as pkg

    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg.__name__}."):
        if not info.name.endswith(".base"):
            importlib.import_module(info.name)
    return dict(_REGISTRY)
