"""Raw CloudTrail record -> `ApiActivity`. Pure functions, no I/O.

The record is the dict CloudTrail wrote (camelCase keys). Only `eventID`, `eventTime`, `eventSource` and
`eventName` are required; everything else is optional in practice (AWS service events, Insights, older
event versions) and normalises to an empty value. A record that cannot be normalised raises
`RecordError` naming the field, which the ingest pipeline counts and sets aside.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cloudwarden.models.api_activity import ApiActivity

REQUIRED = ("eventID", "eventTime", "eventSource", "eventName")

# Substrings of a lower-cased user agent naming offensive tooling / attack distributions. Kali, Parrot and
# Pentoo are what GuardDuty's PenTest:IAMUser findings key on; the rest are public AWS attack tools.
OFFENSIVE_UA = (
    "kali",
    "parrot",
    "pentoo",
    "pacu",
    "stratus-red-team",
    "stratus red team",
    "trufflehog",
    "cloudfox",
    "weirdaal",
    "cloudgoat",
    "endgame",
    "s3scanner",
    "aws_consoler",
    "nimbostratus",
)
SDK_OTHER_UA = (
    "aws-sdk-",
    "awspowershell",
    "aws-powershell",
    "aws-toolkit",
    "aws-cdk",
    "aws-amplify",
    "aws-chalice",
    "aws-sam",
    "copilot",
)
READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "Search", "Query", "Scan", "BatchGet", "Check", "View")

_ERROR_KINDS = (
    (("AccessDenied", "UnauthorizedOperation", "Client.UnauthorizedOperation", "UnauthorizedAccess", "Forbidden"), "access-denied"),
    (("Throttl", "RequestLimitExceeded", "TooManyRequests", "SlowDown", "Client.RequestLimitExceeded"), "throttling"),
    (("NoSuch", "NotFound", "Client.InvalidInstanceID.NotFound"), "not-found"),
    (("InvalidClientTokenId", "ExpiredToken", "SignatureDoesNotMatch", "InvalidAccessKeyId", "AuthFailure", "IncompleteSignature"), "auth"),
    (("Validation", "InvalidParameter", "MalformedPolicy", "Invalid"), "invalid-request"),
    (("EntityAlreadyExists", "AlreadyExists", "Conflict", "BucketAlreadyOwnedByYou"), "conflict"),
    (("LimitExceeded", "ServiceQuota"), "limit"),
    (("InternalError", "ServiceUnavailable", "InternalFailure"), "aws-error"),
)

# requestParameters keys that name the resource an API call touches (beyond the `resources` list).
RESOURCE_KEYS = (
    "bucketName",
    "userName",
    "roleName",
    "groupName",
    "policyArn",
    "keyId",
    "secretId",
    "name",
    "trailName",
    "groupId",
    "instanceId",
    "snapshotId",
    "imageId",
    "dBSnapshotIdentifier",
    "dBInstanceIdentifier",
    "routeTableId",
    "networkInterfaceId",
    "networkAclId",
    "internetGatewayId",
    "natGatewayId",
    "detectorId",
    "configurationRecorderName",
    "functionName",
    "accessKeyId",
    "serialNumber",
    "roleArn",
)
_RESOURCE_KEY_SET = frozenset(RESOURCE_KEYS)
_DIGITS = frozenset("0123456789")
MAX_RESOURCES = 32
MAX_TEXT = 4096  # user agents and error messages are attacker-controlled: bound what we keep per row


# The order of `normalize_values`' tuple: ApiActivity's leading fields (and LAKE_COLUMNS' order).
VALUE_COLUMNS: tuple[str, ...] = (
    "event_id", "time", "account", "region", "service", "api", "principal", "principal_type",
    "session_name", "principal_account", "cross_account", "read_only", "error_code", "error_message",
    "source_ip", "user_agent", "ua_family", "mfa", "access_key_id", "credential_kind", "event_type",
    "resources", "raw", "source_kind", "error_kind", "invoked_by",
)


class RecordError(ValueError):
    """A record that cannot be normalised; `field` names what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _s(value: Any) -> str:
    if value is None:
        return ""
    if value.__class__ is str:
        return value[:MAX_TEXT] if len(value) > MAX_TEXT else value  # type: ignore[no-any-return]
    return str(value)[:MAX_TEXT]


@lru_cache(maxsize=4096)
def ua_family(user_agent: str) -> str:
    """aws-cli | sdk-python | sdk-other | console | terraform | cloudformation | aws-internal | offensive | other."""
    if not user_agent:
        return ""
    ua = user_agent.lower()
    if any(tool in ua for tool in OFFENSIVE_UA):
        return "offensive"
    if "terraform" in ua or "hashicorp" in ua:
        return "terraform"
    if "cloudformation" in ua:
        return "cloudformation"
    if ua.startswith("aws-cli/") or " aws-cli/" in ua:
        return "aws-cli"
    if ua.startswith(("console.", "signin.")) and ".amazonaws.com" in ua:
        return "console"
    if ua == "aws internal" or ua.startswith("aws internal") or (ua.endswith(".amazonaws.com") and " " not in ua):
        return "aws-internal"
    if "boto3/" in ua or "botocore/" in ua or "aws-sdk-python" in ua:
        return "sdk-python"
    if any(sdk in ua for sdk in SDK_OTHER_UA):
        return "sdk-other"
    if ua.startswith("mozilla/") or "console.amazonaws.com" in ua:
        return "console"
    return "other"


@lru_cache(maxsize=4096)
def offensive_tool(user_agent: str) -> str:
    """The offensive tool or distribution named in a user agent, or ''."""
    ua = user_agent.lower()
    for tool in OFFENSIVE_UA:
        if tool in ua:
            return tool
    return ""


@lru_cache(maxsize=1024)
def error_kind(error_code: str) -> str:
    if not error_code:
        return ""
    for prefixes, kind in _ERROR_KINDS:
        if any(p in error_code for p in prefixes):
            return kind
    return "other"


def source_kind(source_ip: str) -> str:
    """'ip' for an address, 'aws-service' when AWS called on the principal's behalf, '' when absent."""
    if not source_ip:
        return ""
    if source_ip[0] in _DIGITS or ":" in source_ip:
        return "ip"
    if source_ip.endswith(".amazonaws.com") or source_ip.startswith("AWS Internal"):
        return "aws-service"
    return "other"


def credential_kind(access_key_id: str) -> str:
    if access_key_id.startswith("AKIA"):
        return "long-term"
    if access_key_id.startswith("ASIA"):
        return "temporary"
    return "none" if not access_key_id else "other"


@lru_cache(maxsize=65536)
def parse_time(value: str) -> datetime:
    # CloudTrail writes second precision; many events share a second, hence the cache.
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise RecordError("eventTime", f"not an ISO 8601 time: {value[:40]!r}") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _truthy(value: Any) -> bool | None:
    if value is None:
        return None
    if value is True or value is False:
        return value
    if value == "true":  # what CloudTrail writes for mfaAuthenticated (MFAUsed is "Yes"/"No")
        return True
    if value == "false":
        return False
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    return None


def principal_of(identity: Any, account: str) -> tuple[str, str, str]:
    """(principal, principal_type, session_name) from userIdentity."""
    if identity.__class__ is not dict:
        return "", "Unknown", ""
    kind = identity.get("type")
    arn = identity.get("arn", "")
    if kind.__class__ is str and arn.__class__ is str and arn:
        # the two common shapes first, without the general path's checks
        if kind == "IAMUser":
            return arn, kind, ""
        if kind == "AssumedRole":
            context = identity.get("sessionContext")
            if context.__class__ is dict:
                issuer = context.get("sessionIssuer")
                if issuer.__class__ is dict:
                    issuer_arn = issuer.get("arn")
                    if issuer_arn.__class__ is str and issuer_arn:
                        return issuer_arn, kind, arn.rsplit("/", 1)[-1] if "/" in arn else ""
    kind = _s(kind) or "Unknown"
    arn = _s(arn)
    ident_account = _s(identity.get("accountId")) or account
    if kind == "IAMUser":
        if not arn and identity.get("userName"):
            arn = f"arn:aws:iam::{ident_account}:user/{_s(identity.get('userName'))}"
        return arn, kind, ""
    if kind in ("AssumedRole", "FederatedUser"):
        context = identity.get("sessionContext")
        issuer = context.get("sessionIssuer") if isinstance(context, dict) else None
        issuer_arn = _s(issuer.get("arn")) if isinstance(issuer, dict) else ""
        # assumed-role/<role>/<session> or federated-user/<name>
        session = arn.rsplit("/", 1)[-1] if "/" in arn else ""
        if kind == "FederatedUser" and not issuer_arn:
            return arn, kind, session
        return issuer_arn or arn, kind, session
    if kind == "Root":
        return f"root:{ident_account}", kind, ""
    if kind == "AWSService":
        return f"service:{_s(identity.get('invokedBy'))}", kind, ""
    if kind == "AWSAccount":
        return f"account:{ident_account}", kind, ""
    if arn:
        return arn, kind, ""
    user = _s(identity.get("userName") or identity.get("principalId"))
    return (f"{kind.lower()}:{user}" if user else ""), kind, ""


def _mfa(record: dict[str, Any], identity: Any) -> bool | None:
    extra = record.get("additionalEventData")
    if extra is None and identity.__class__ is dict and "sessionContext" not in identity:
        return None  # the common case: nothing to say about MFA
    if extra.__class__ is dict and "MFAUsed" in extra:  # type: ignore[operator]
        return _truthy(extra["MFAUsed"])
    if identity.__class__ is dict:
        context = identity.get("sessionContext")
        if context.__class__ is dict:
            attrs = context.get("attributes")
            if attrs.__class__ is dict and "mfaAuthenticated" in attrs:
                return _truthy(attrs["mfaAuthenticated"])
    return None


def resources_of(record: dict[str, Any]) -> list[str]:
    out: list[str] = []
    listed = record.get("resources")
    if listed.__class__ is list:
        for item in listed:  # type: ignore[union-attr]
            if item.__class__ is dict:
                arn = item.get("ARN") or item.get("arn")
                if arn:
                    out.append(_s(arn))
    params = record.get("requestParameters")
    if params.__class__ is dict:
        for key in params:  # type: ignore[union-attr]
            if key in _RESOURCE_KEY_SET:
                value = params[key]  # type: ignore[index]
                if value.__class__ is str and value:
                    out.append(_s(value))
    if len(out) > 1:
        out = list(dict.fromkeys(out))
        if len(out) > MAX_RESOURCES:
            out = out[:MAX_RESOURCES]
    return out


def _text(value: Any) -> str:
    return value if value.__class__ is str else _s(value)  # type: ignore[no-any-return]


def normalize_values(record: Any) -> tuple[Any, ...]:
    """The values of one record in `LAKE_COLUMNS` order (raw left empty): the pipeline's hot path, which
    builds Arrow columns from these tuples without an object per event. `normalize` wraps it."""
    if record.__class__ is not dict:
        raise RecordError("record", f"expected a JSON object, got {type(record).__name__}")
    get = record.get
    event_id: Any = get("eventID")
    event_time: Any = get("eventTime")
    service: Any = get("eventSource")
    api: Any = get("eventName")
    if not (event_id and event_time and service and api) or not (
        event_id.__class__ is str and event_time.__class__ is str and service.__class__ is str and api.__class__ is str
    ):
        for name in REQUIRED:
            value = get(name)
            if not value or value.__class__ is not str:
                raise RecordError(name, "missing" if value is None else "empty or not a string")
    account = get("recipientAccountId", "")
    if account.__class__ is not str:
        account = _s(account)
    identity = get("userIdentity")
    principal, principal_type, session_name = principal_of(identity, account)
    if identity.__class__ is dict:
        principal_account = identity.get("accountId", "")
        access_key = identity.get("accessKeyId", "")
        invoked_by = identity.get("invokedBy", "")
        if principal_account.__class__ is not str or access_key.__class__ is not str or invoked_by.__class__ is not str:
            principal_account, access_key, invoked_by = _s(principal_account), _s(access_key), _s(invoked_by)
    else:
        principal_account = access_key = invoked_by = ""
    if not account:
        account = principal_account
    read_only = get("readOnly")
    if read_only is not True and read_only is not False:
        read_only = _truthy(read_only)
        if read_only is None and get("eventType", "AwsApiCall") == "AwsApiCall":
            read_only = api.startswith(READ_PREFIXES)
    user_agent = get("userAgent", "")
    if user_agent.__class__ is not str or len(user_agent) > MAX_TEXT:
        user_agent = _s(user_agent)
    error_code = get("errorCode")
    if error_code:
        error_code = _text(error_code)
        error_message = _s(get("errorMessage"))
    else:
        error_code = error_message = ""
    source_ip = get("sourceIPAddress", "")
    if source_ip.__class__ is not str:
        source_ip = _s(source_ip)
    region = get("awsRegion", "")
    if region.__class__ is not str:
        region = _s(region)
    event_type = get("eventType", "")
    if event_type.__class__ is not str:
        event_type = _s(event_type)
    return (
        event_id,
        parse_time(event_time),
        account,
        region,
        service,
        api,
        principal,
        principal_type,
        session_name,
        principal_account,
        bool(principal_account and account and principal_account != account),
        read_only,
        error_code,
        error_message,
        source_ip,
        user_agent,
        ua_family(user_agent),
        _mfa(record, identity),
        access_key,
        credential_kind(access_key),
        event_type,
        resources_of(record),
        "",
        source_kind(source_ip),
        error_kind(error_code),
        invoked_by,
    )


def normalize(record: Any, raw: str = "") -> ApiActivity:
    """One CloudTrail record (dict) -> ApiActivity; `raw` is its JSON text (built by the caller once)."""
    row = ApiActivity(*normalize_values(record))
    row.raw = raw
    return row
