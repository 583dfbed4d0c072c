"""Account contact details (primary contact and the security alternate contact) are registered.

Whether the details are *current* needs a person: these checks verify what the API shows (contacts
exist and are filled in) and say so in the reason."""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.iam.common import CIS, account_arn
from cloudwarden.compliance.inventory import Inventory

REFS = ["https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-update-contact.html", CIS]
PRIMARY_FIELDS = ("FullName", "PhoneNumber", "AddressLine1", "City", "CountryCode")


@check(
    id="account_maintain_current_contact_details",
    title="The account's primary contact details are filled in (a person confirms they are current)",
    service="account", severity="medium", resource_type="AwsAccount",
    cis={"7.0": ["2.2"], "5.0": ["1.1"], "3.0": ["1.1"]},
    remediation=(
        "In Billing and Cost Management > Account (or aws account put-contact-information), set a primary "
        "contact whose phone and e-mail reach a monitored team mailbox, not one person. Review it twice a year."
    ),
    references=REFS,
)
def primary_contact(inv: Inventory) -> Iterable[CheckResult]:
    info = inv.get("account", "contact_information")
    arn = account_arn(inv)
    if not info:
        yield failed(arn, "no primary contact information is registered")
        return
    missing = [f for f in PRIMARY_FIELDS if not info.get(f)]
    if missing:
        yield failed(arn, f"primary contact is missing {', '.join(missing)}", missing=missing)
    else:
        yield passed(arn, f"primary contact is registered ({info.get('FullName')}); a person must confirm it is current")


@check(
    id="account_security_contact_information_is_registered",
    title="A security contact is registered for the account",
    service="account", severity="medium", resource_type="AwsAccount",
    cis={"7.0": ["2.3"], "5.0": ["1.2"], "3.0": ["1.2"]},
    remediation=(
        "Register a security alternate contact (aws account put-alternate-contact --alternate-contact-type "
        "SECURITY ...) pointing at your security team's shared mailbox and phone, so AWS can reach them."
    ),
    references=REFS,
)
def security_contact(inv: Inventory) -> Iterable[CheckResult]:
    contact = inv.get("account", "security_contact")
    arn = account_arn(inv)
    if not contact:
        yield failed(arn, "no security alternate contact is registered")
    elif not contact.get("EmailAddress") or not contact.get("PhoneNumber"):
        yield failed(arn, "the security contact lacks an e-mail address or phone number")
    else:
        yield passed(arn, f"security contact registered: {contact.get('Name', '')} <{contact.get('EmailAddress')}>")
