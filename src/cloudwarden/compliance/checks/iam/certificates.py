"""Expired SSL/TLS server certificates are removed from IAM."""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.checks.iam.common import CIS, account_arn, now, parse_time
from cloudwarden.compliance.inventory import Inventory


@check(
    id="iam_no_expired_server_certificates_stored",
    title="No expired SSL/TLS certificates are stored in IAM",
    service="iam", severity="medium", resource_type="AwsIamServerCertificate",
    cis={"7.0": ["2.17"], "5.0": ["1.18"], "3.0": ["1.19"]},
    remediation=(
        "Make sure no load balancer or CloudFront distribution still uses the certificate, then delete it "
        "(aws iam delete-server-certificate --server-certificate-name NAME). Prefer ACM, which renews certificates."
    ),
    references=["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_server-certs.html", CIS],
)
def expired_certificates(inv: Inventory) -> Iterable[CheckResult]:
    certs = [c for c in inv.get("iam", "server_certificates") if isinstance(c, dict)]
    if not certs:
        yield passed(account_arn(inv), "no server certificates are stored in IAM")
        return
    t = now()
    for c in certs:
        arn = str(c.get("Arn", ""))
        name = c.get("ServerCertificateName", "")
        expires = parse_time(c.get("Expiration"))
        if expires is None:
            yield not_evaluated(arn, f"certificate {name} has no readable expiration date")
        elif expires < t:
            yield failed(arn, f"certificate {name} expired on {expires.date().isoformat()}")
        else:
            yield passed(arn, f"certificate {name} is valid until {expires.date().isoformat()}")
