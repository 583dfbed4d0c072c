"""Account contacts collector (global). Inventory keys, service "account", region "global":

- `security_contact`: GetAlternateContact(AlternateContactType=SECURITY) `AlternateContact` dict
  (Name, Title, EmailAddress, PhoneNumber), or None when no security contact is registered.
- `contact_information`: GetContactInformation `ContactInformation` dict (FullName, PhoneNumber,
  AddressLine1, City, CountryCode, PostalCode, CompanyName, WebsiteUrl ...).
"""

from __future__ import annotations

from cloudwarden.compliance.collectors._fetch import fetch
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector(
    "account",
    actions=["account:GetAlternateContact", "account:GetContactInformation"],
    regional=False,
    description="primary and security contact details",
)
def collect_account(ctx: CollectContext) -> None:
    client = ctx.client("account")
    fetch(
        ctx, "security_contact", "GetAlternateContact",
        lambda: client.get_alternate_contact(AlternateContactType="SECURITY")["AlternateContact"],
        absent=("ResourceNotFoundException",),
    )
    fetch(
        ctx, "contact_information", "GetContactInformation",
        lambda: client.get_contact_information()["ContactInformation"],
        absent=("ResourceNotFoundException",),
    )
