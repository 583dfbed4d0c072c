"""A role (or other principal) holds AWSSupportAccess so incidents can be raised with AWS Support."""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.iam.common import CIS, account_arn, entities_with_policy
from cloudwarden.compliance.inventory import Inventory


@check(
    id="iam_support_role_created",
    title="A support role with AWSSupportAccess exists for managing incidents with AWS Support",
    service="iam", severity="medium", resource_type="AwsIamRole",
    cis={"7.0": ["2.15"], "5.0": ["1.16"], "3.0": ["1.17"]},
    remediation=(
        "Create an IAM role that your incident responders can assume, attach the AWS-managed policy "
        "AWSSupportAccess to it, and document who may assume it."
    ),
    references=["https://docs.aws.amazon.com/awssupport/latest/user/accessing-support.html", CIS],
)
def support_role(inv: Inventory) -> Iterable[CheckResult]:
    holders = entities_with_policy(inv, "AWSSupportAccess")
    roles = [e for e in holders if e.kind == "role"]
    if roles:
        yield passed(roles[0].arn, f"role {roles[0].name} has AWSSupportAccess",
                     holders=[e.arn for e in holders])
    elif holders:
        yield passed(holders[0].arn, f"{holders[0].kind} {holders[0].name} has AWSSupportAccess (a role is preferable)",
                     holders=[e.arn for e in holders])
    else:
        yield failed(account_arn(inv), "no user, group or role has the AWSSupportAccess policy attached")
