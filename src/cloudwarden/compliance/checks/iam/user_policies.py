"""IAM users get permissions only through groups (no managed or inline policies on users)."""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.iam.common import CIS, account_arn, attached_policy_arns, entities, inline_policies
from cloudwarden.compliance.inventory import Inventory


@check(
    id="iam_policy_attached_only_to_group_or_roles",
    title="IAM users receive permissions only through groups",
    service="iam", severity="low", resource_type="AwsIamUser",
    cis={"7.0": ["2.13"], "5.0": ["1.14"], "3.0": ["1.15"]},
    remediation=(
        "Create groups that match job functions, attach the policies to the groups, add users to them, then "
        "detach managed policies from the users and delete their inline policies."
    ),
    references=["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups_manage_attach-policy.html", CIS],
)
def only_through_groups(inv: Inventory) -> Iterable[CheckResult]:
    users = [e for e in entities(inv) if e.kind == "user"]
    if not users:
        yield passed(account_arn(inv), "no IAM users")
        return
    for u in users:
        attached = attached_policy_arns(u)
        inline = [str(p.get("PolicyName", "")) for p in inline_policies(u)]
        if attached or inline:
            yield failed(u.arn, f"user {u.name} has {len(attached)} attached and {len(inline)} inline policies directly",
                         attached=attached, inline=inline)
        else:
            yield passed(u.arn, f"user {u.name} has no policies of its own")
