"""The normalised CloudTrail record (OCSF API Activity 6003 in spirit) and its lake columns.

`cloudtrail/normalize.py` builds these from raw CloudTrail events; the lake stores one row per event
with exactly the columns in `LAKE_COLUMNS` (plus partition columns `event_date` and `account`), and
baselines and the dashboard read those columns by name. `raw` keeps the original event as JSON text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class ApiActivity:
    event_id: str  # CloudTrail eventID; the idempotency key of every ingest
    time: datetime  # eventTime, UTC
    account: str  # recipientAccountId
    region: str  # awsRegion
    service: str  # eventSource, e.g. "iam.amazonaws.com"
    api: str  # eventName
    principal: str  # user ARN | role ARN (session issuer) | "root:<account>" | "service:<invokedBy>"
    principal_type: str  # IAMUser | AssumedRole | Root | AWSService | FederatedUser | Unknown
    session_name: str = ""  # for assumed roles
    principal_account: str = ""  # userIdentity.accountId
    cross_account: bool = False
    read_only: bool | None = None
    error_code: str = ""
    error_message: str = ""
    source_ip: str = ""  # IP, or the AWS service DNS name when AWS called on the principal's behalf
    user_agent: str = ""
    ua_family: str = ""  # aws-cli | sdk-python | sdk-other | console | terraform | cloudformation | aws-internal | offensive | other
    mfa: bool | None = None
    access_key_id: str = ""
    credential_kind: str = ""  # long-term (AKIA) | temporary (ASIA) | none
    event_type: str = ""  # AwsApiCall | AwsConsoleSignIn | AwsServiceEvent ...
    resources: list[str] = field(default_factory=list)  # ARNs or names touched
    raw: str = ""  # the original event, JSON text
    source_kind: str = ""  # ip | aws-service | other | "" (what source_ip holds)
    error_kind: str = ""  # access-denied | throttling | not-found | auth | invalid-request | conflict | limit | aws-error | other
    invoked_by: str = ""  # userIdentity.invokedBy: the AWS service that made the call for the principal


LAKE_COLUMNS: tuple[str, ...] = (
    "event_id", "time", "account", "region", "service", "api", "principal", "principal_type",
    "session_name", "principal_account", "cross_account", "read_only", "error_code", "error_message",
    "source_ip", "user_agent", "ua_family", "mfa", "access_key_id", "credential_kind", "event_type",
    "resources", "raw", "source_kind", "error_kind", "invoked_by",
)
