"""A simulated small company's AWS estate and Linux fleet: weeks of realistic benign activity.

`generate_estate(days, seed)` returns raw CloudTrail records (the dicts CloudTrail writes, so they go through
the real parsing path), `HostEvent`s from eight machines, and labels for the attack scenarios laid on top
(`demo/attacks.py`). Everything is deterministic for a seed.

The company: two accounts (prod, staging), regions us-east-1 and eu-west-1; six developers (four in the US,
one in the UK, one in Canada) working office hours from the office or home; two admins with MFA; a CI
deployer role driven by Terraform from GitHub's runners; a nightly data pipeline; three Lambda function
roles serving traffic all day; an EC2 instance role on the web servers (Netflix's credential-exfiltration
case); a daily read-only security scan; a nightly backup role. Hosts: five web servers, a database, a
batch machine and a bastion.
"""

from __future__ import annotations

import gzip
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from cloudwarden.models.host_event import HostEvent

PROD = "111122223333"
STAGING = "444455556666"
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
OFFICE_NET = "71.202.40."  # office egress (Comcast business)
GITHUB_RUNNERS = "20.42.12."  # Microsoft ASN (GitHub-hosted runners)
LAMBDA_IPS = ("3.80.", "34.201.", "54.86.")  # AWS (us-east-1) addresses Lambda calls come from
WEB_PUBLIC = {f"web-{i}": f"54.86.31.{10 + i}" for i in range(1, 6)}
AWS_PREFIXES = ("3.80.0.0/12", "34.201.0.0/16", "54.86.0.0/15")  # cover LAMBDA_IPS and WEB_PUBLIC


def simulated_aws_ranges() -> dict[str, Any]:
    """The AWS address ranges this simulated estate's instances and Lambda calls come from, in the shape of AWS's
    ip-ranges.json: our own small file for the demo (the real one is downloaded by `trail update-ranges`)."""
    return {"syncToken": "0", "createDate": "simulated-estate",
            "prefixes": [{"ip_prefix": p, "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"}
                         for p in AWS_PREFIXES],
            "ipv6_prefixes": []}


@dataclass
class Estate:
    """Benign + attack activity, time-ordered, with labels kept outside the records."""

    start: datetime
    days: int
    seed: int
    cloudtrail_events: list[dict[str, Any]] = field(default_factory=list)
    host_events: list[HostEvent] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # event id -> scenario name (attacks only)
    scenarios: list[dict[str, Any]] = field(default_factory=list)  # name, kind, start, description, techniques
    holdout: dict[str, Any] = field(default_factory=dict)  # the held-out legitimate workload, when generated
    benign_tags: dict[str, str] = field(default_factory=dict)  # event id -> benign tag (held-out workload, fleet change)

    def write_cloudtrail(self, root: Path, per_file: int = 500) -> list[Path]:
        """Write the records the way CloudTrail does: AWSLogs/<acct>/CloudTrail/<region>/Y/M/D/*.json.gz."""
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for rec in self.cloudtrail_events:
            day = rec["eventTime"][:10].replace("-", "/")
            groups.setdefault((rec["recipientAccountId"], rec["awsRegion"], day), []).append(rec)
        paths: list[Path] = []
        for (acct, region, day), recs in sorted(groups.items()):
            folder = root / "AWSLogs" / acct / "CloudTrail" / region / day
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(0, len(recs), per_file):
                chunk = recs[i : i + per_file]
                stamp = chunk[0]["eventTime"].replace("-", "").replace(":", "")[:13] + "Z"
                path = folder / f"{acct}_CloudTrail_{region}_{stamp}_{i // per_file:04d}.json.gz"
                path.write_bytes(gzip.compress(orjson.dumps({"Records": chunk})))
                paths.append(path)
        return paths


# --------------------------------------------------------------------------------------------- identities
@dataclass
class Actor:
    name: str
    kind: str  # user | role
    account: str = PROD
    key: str = ""  # long-term key (users)
    home_ips: list[str] = field(default_factory=list)
    ua: str = ""
    apis: list[tuple[str, str, str]] = field(default_factory=list)  # (service, api, region)
    tz: int = 0  # hours behind UTC
    mfa: bool = False


def _id(rng: random.Random, prefix: str, n: int = 16) -> str:
    return prefix + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(n))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


CLI_UA = "aws-cli/2.15.{v} Python/3.11.6 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/{cmd}"
BOTO_UA = "Boto3/1.34.{v} md/Botocore#1.34.{v} ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.{v}"
TF_UA = "APN/1.0 HashiCorp/1.0 Terraform/1.7.{v} (+https://www.terraform.io) terraform-provider-aws/5.40.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.0"
CONSOLE_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36"
LAMBDA_UA = "Boto3/1.34.{v} md/Botocore#1.34.{v} ua/2.0 os/linux#5.10.209-218.812.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 exec-env/AWS_Lambda_python3.12 Botocore/1.34.{v}"

DEV_POOL = [
    ("ec2.amazonaws.com", "DescribeInstances"), ("ec2.amazonaws.com", "DescribeSecurityGroups"),
    ("ec2.amazonaws.com", "DescribeSubnets"), ("logs.amazonaws.com", "FilterLogEvents"),
    ("logs.amazonaws.com", "DescribeLogGroups"), ("logs.amazonaws.com", "GetLogEvents"),
    ("s3.amazonaws.com", "ListBuckets"), ("s3.amazonaws.com", "ListObjects"), ("s3.amazonaws.com", "GetObject"),
    ("lambda.amazonaws.com", "ListFunctions20150331"), ("lambda.amazonaws.com", "GetFunction20150331v2"),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2"), ("lambda.amazonaws.com", "Invoke"),
    ("ecr.amazonaws.com", "GetAuthorizationToken"), ("ecr.amazonaws.com", "DescribeRepositories"),
    ("sts.amazonaws.com", "GetCallerIdentity"), ("monitoring.amazonaws.com", "GetMetricData"),
    ("dynamodb.amazonaws.com", "DescribeTable"), ("dynamodb.amazonaws.com", "Query"),
    ("sqs.amazonaws.com", "GetQueueAttributes"), ("cloudformation.amazonaws.com", "DescribeStacks"),
    ("ssm.amazonaws.com", "GetParameter"), ("ecs.amazonaws.com", "DescribeServices"),
    ("ecs.amazonaws.com", "ListTasks"), ("athena.amazonaws.com", "StartQueryExecution"),
    ("athena.amazonaws.com", "GetQueryResults"), ("rds.amazonaws.com", "DescribeDBInstances"),
]
ADMIN_ROUTINE = [
    ("iam.amazonaws.com", "ListUsers"), ("iam.amazonaws.com", "GetUser"), ("iam.amazonaws.com", "ListRoles"),
    ("iam.amazonaws.com", "GetRole"), ("iam.amazonaws.com", "ListAttachedRolePolicies"),
    ("iam.amazonaws.com", "GetAccountSummary"), ("cloudtrail.amazonaws.com", "DescribeTrails"),
    ("cloudtrail.amazonaws.com", "GetTrailStatus"), ("kms.amazonaws.com", "ListKeys"),
    ("kms.amazonaws.com", "DescribeKey"), ("organizations.amazonaws.com", "ListAccounts"),
    ("organizations.amazonaws.com", "DescribeOrganization"), ("guardduty.amazonaws.com", "ListDetectors"),
    ("s3.amazonaws.com", "GetBucketPolicy"), ("s3.amazonaws.com", "ListBuckets"),
    ("ec2.amazonaws.com", "DescribeInstances"), ("ce.amazonaws.com", "GetCostAndUsage"),
    ("config.amazonaws.com", "DescribeConfigRules"), ("securityhub.amazonaws.com", "GetFindings"),
]
ADMIN_WRITES = [
    ("iam.amazonaws.com", "CreateRole"), ("iam.amazonaws.com", "AttachRolePolicy"),
    ("iam.amazonaws.com", "PutRolePolicy"), ("iam.amazonaws.com", "UpdateAssumeRolePolicy"),
    ("iam.amazonaws.com", "CreatePolicyVersion"), ("iam.amazonaws.com", "TagRole"),
    ("s3.amazonaws.com", "PutBucketPolicy"), ("kms.amazonaws.com", "CreateKey"),
    ("kms.amazonaws.com", "EnableKeyRotation"), ("iam.amazonaws.com", "DeleteAccessKey"),
    ("iam.amazonaws.com", "UpdateAccessKey"), ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
]
CI_READS = [
    ("ec2.amazonaws.com", "DescribeVpcs"), ("ec2.amazonaws.com", "DescribeSubnets"),
    ("ec2.amazonaws.com", "DescribeSecurityGroups"), ("ec2.amazonaws.com", "DescribeLaunchTemplates"),
    ("ec2.amazonaws.com", "DescribeRouteTables"), ("iam.amazonaws.com", "GetRole"),
    ("iam.amazonaws.com", "GetRolePolicy"), ("iam.amazonaws.com", "ListAttachedRolePolicies"),
    ("iam.amazonaws.com", "ListRolePolicies"), ("iam.amazonaws.com", "GetPolicy"),
    ("iam.amazonaws.com", "GetPolicyVersion"), ("lambda.amazonaws.com", "GetFunction20150331v2"),
    ("lambda.amazonaws.com", "ListVersionsByFunction20150331"), ("s3.amazonaws.com", "GetBucketPolicy"),
    ("s3.amazonaws.com", "GetBucketVersioning"), ("s3.amazonaws.com", "GetBucketAcl"),
    ("s3.amazonaws.com", "GetBucketTagging"), ("ecs.amazonaws.com", "DescribeServices"),
    ("ecs.amazonaws.com", "DescribeTaskDefinition"), ("elasticloadbalancing.amazonaws.com", "DescribeTargetGroups"),
    ("elasticloadbalancing.amazonaws.com", "DescribeLoadBalancers"), ("kms.amazonaws.com", "DescribeKey"),
    ("kms.amazonaws.com", "GetKeyPolicy"), ("dynamodb.amazonaws.com", "DescribeTable"),
    ("sqs.amazonaws.com", "GetQueueAttributes"), ("logs.amazonaws.com", "DescribeLogGroups"),
    ("cloudwatch.amazonaws.com", "DescribeAlarms"), ("sts.amazonaws.com", "GetCallerIdentity"),
]
CI_WRITES = [
    ("ecs.amazonaws.com", "RegisterTaskDefinition"), ("ecs.amazonaws.com", "UpdateService"),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2"), ("lambda.amazonaws.com", "PublishVersion20150331"),
    ("s3.amazonaws.com", "PutObject"), ("iam.amazonaws.com", "PassRole"), ("iam.amazonaws.com", "PutRolePolicy"),
    ("ecr.amazonaws.com", "PutImage"), ("ec2.amazonaws.com", "CreateLaunchTemplateVersion"),
    ("iam.amazonaws.com", "TagRole"), ("ssm.amazonaws.com", "PutParameter"),
]
PIPELINE = [
    ("glue.amazonaws.com", "StartJobRun"), ("glue.amazonaws.com", "GetJobRun"), ("athena.amazonaws.com", "StartQueryExecution"),
    ("athena.amazonaws.com", "GetQueryExecution"), ("athena.amazonaws.com", "GetQueryResults"),
    ("s3.amazonaws.com", "GetObject"), ("s3.amazonaws.com", "PutObject"), ("s3.amazonaws.com", "ListObjects"),
    ("kms.amazonaws.com", "Decrypt"), ("kms.amazonaws.com", "GenerateDataKey"), ("glue.amazonaws.com", "GetTable"),
    ("glue.amazonaws.com", "GetPartitions"),
]
SCANNER = [
    (svc, api) for svc, api in ADMIN_ROUTINE + CI_READS + DEV_POOL[:12] if api.startswith(("Describe", "List", "Get"))
] + [("iam.amazonaws.com", "GetAccountPasswordPolicy"), ("iam.amazonaws.com", "GenerateCredentialReport"),
     ("iam.amazonaws.com", "GetCredentialReport"), ("ec2.amazonaws.com", "DescribeFlowLogs"),
     ("config.amazonaws.com", "DescribeConfigurationRecorders"), ("s3.amazonaws.com", "GetBucketLogging"),
     ("s3.amazonaws.com", "GetBucketEncryption"), ("s3.amazonaws.com", "GetPublicAccessBlock")]
SCANNER_DENIED = [("macie2.amazonaws.com", "GetMacieSession"), ("ds.amazonaws.com", "DescribeDirectories"),
                  ("shield.amazonaws.com", "GetSubscriptionState"), ("account.amazonaws.com", "GetAlternateContact"),
                  ("support.amazonaws.com", "DescribeTrustedAdvisorChecks"), ("inspector2.amazonaws.com", "BatchGetAccountStatus")]
FUNCTIONS = {
    "orders-api-fn": [("dynamodb.amazonaws.com", "GetItem"), ("dynamodb.amazonaws.com", "PutItem"),
                      ("dynamodb.amazonaws.com", "Query"), ("sqs.amazonaws.com", "SendMessage"), ("kms.amazonaws.com", "Decrypt")],
    "thumbnailer-fn": [("s3.amazonaws.com", "GetObject"), ("s3.amazonaws.com", "PutObject"), ("kms.amazonaws.com", "Decrypt")],
    "billing-fn": [("dynamodb.amazonaws.com", "Query"), ("secretsmanager.amazonaws.com", "GetSecretValue"),
                   ("sqs.amazonaws.com", "ReceiveMessage"), ("sqs.amazonaws.com", "DeleteMessage"), ("sns.amazonaws.com", "Publish")],
}
INSTANCE_ROLE = [("s3.amazonaws.com", "GetObject"), ("ssm.amazonaws.com", "GetParameters"),
                 ("secretsmanager.amazonaws.com", "GetSecretValue"), ("monitoring.amazonaws.com", "PutMetricData"),
                 ("logs.amazonaws.com", "PutLogEvents"), ("sqs.amazonaws.com", "SendMessage")]
BACKUP = [("ec2.amazonaws.com", "CreateSnapshot"), ("ec2.amazonaws.com", "DescribeSnapshots"),
          ("ec2.amazonaws.com", "DeleteSnapshot"), ("rds.amazonaws.com", "CreateDBSnapshot"),
          ("rds.amazonaws.com", "DescribeDBSnapshots"), ("ec2.amazonaws.com", "CreateTags")]
REPORTING = [("athena.amazonaws.com", "StartQueryExecution"), ("athena.amazonaws.com", "GetQueryExecution"),
             ("athena.amazonaws.com", "GetQueryResults"), ("s3.amazonaws.com", "GetObject"), ("s3.amazonaws.com", "PutObject"),
             ("glue.amazonaws.com", "GetTable"), ("kms.amazonaws.com", "Decrypt"), ("quicksight.amazonaws.com", "CreateIngestion"),
             ("glue.amazonaws.com", "GetPartitions")]

DATA_APIS = {"GetObject", "PutObject", "ListObjects"}


class CloudTrailWriter:
    """Builds CloudTrail-shaped records."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.out: list[dict[str, Any]] = []

    def identity_user(self, name: str, account: str, key: str, console: bool = False, mfa: bool = False) -> dict[str, Any]:
        ident: dict[str, Any] = {
            "type": "IAMUser", "principalId": "AIDA" + name.upper().ljust(17, "X")[:17],
            "arn": f"arn:aws:iam::{account}:user/{name}", "accountId": account, "accessKeyId": key, "userName": name,
        }
        if console:
            ident["sessionContext"] = {"attributes": {"creationDate": "2026-01-01T00:00:00Z",
                                                      "mfaAuthenticated": "true" if mfa else "false"}}
        return ident

    def identity_role(self, role: str, session: str, account: str, key: str, path: str = "") -> dict[str, Any]:
        rid = "AROA" + role.upper().replace("-", "")[:17].ljust(17, "Z")
        return {
            "type": "AssumedRole", "principalId": f"{rid}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}", "accountId": account, "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": rid, "arn": f"arn:aws:iam::{account}:role/{path}{role}",
                                  "accountId": account, "userName": role},
                "webIdFederationData": {},
                "attributes": {"creationDate": "2026-01-01T00:00:00Z", "mfaAuthenticated": "false"},
            },
        }

    def event(
        self,
        ts: float,
        identity: dict[str, Any],
        service: str,
        api: str,
        region: str,
        ip: str,
        ua: str,
        account: str,
        *,
        error: str = "",
        params: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        resources: list[dict[str, Any]] | None = None,
        event_type: str = "AwsApiCall",
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        read = api.startswith(("Describe", "List", "Get", "Head", "Lookup", "Query", "Scan", "BatchGet", "Filter", "Generate"))
        if api in ("GenerateDataKey", "GenerateCredentialReport"):
            read = api == "GenerateDataKey"
        data = service == "s3.amazonaws.com" and api in DATA_APIS
        rec: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": _iso(ts),
            "eventSource": service,
            "eventName": api,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": ua,
            "requestParameters": params,
            "responseElements": response,
            "requestID": _uuid(self.rng),
            "eventID": _uuid(self.rng),
            "readOnly": read,
            "eventType": event_type,
            "managementEvent": not data,
            "recipientAccountId": account,
            "eventCategory": "Data" if data else "Management",
        }
        if resources:
            rec["resources"] = resources
        if error:
            rec["errorCode"] = error
            rec["errorMessage"] = (
                f"User: {identity.get('arn', '')} is not authorized to perform: {service.split('.')[0]}:{api}"
                if "AccessDenied" in error or "Unauthorized" in error else "The specified resource does not exist."
            )
        if event_type == "AwsApiCall" and ip and ip[0].isdigit():
            rec["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                                 "clientProvidedHostHeader": f"{service.split('.')[0]}.{region}.amazonaws.com"}
        if extra:
            rec.update(extra)
        self.out.append(rec)
        return rec


def _params(service: str, api: str, rng: random.Random, account: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]] | None]:
    if service == "s3.amazonaws.com" and api not in ("ListBuckets",):
        bucket = rng.choice(["acme-prod-assets", "acme-data-lake", "acme-build-artifacts", "acme-reports"])
        params: dict[str, Any] = {"bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com"}
        res = [{"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}", "accountId": account}]
        if api in DATA_APIS - {"ListObjects"}:
            key = f"data/{rng.randrange(10**6):06d}.parquet"
            params["key"] = key
            res.insert(0, {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"})
        return params, res
    if service == "kms.amazonaws.com" and api in ("Decrypt", "GenerateDataKey", "DescribeKey", "GetKeyPolicy"):
        key = f"arn:aws:kms:us-east-1:{account}:key/0f1e2d3c-aaaa-bbbb-cccc-{rng.randrange(16**4):04x}00000000"
        return {"keyId": key, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, [{"type": "AWS::KMS::Key", "ARN": key}]
    if service == "iam.amazonaws.com" and "Role" in api:
        role = rng.choice(["orders-api-fn", "thumbnailer-fn", "billing-fn", "ecs-task-web", "data-pipeline"])
        return {"roleName": role}, None
    return None, None


def _working_times(rng: random.Random, day0: float, tz: int, n: int) -> list[float]:
    """n call times during a person's working day (local 08:30-18:30, lunch dip)."""
    out = []
    for _ in range(n):
        hour = rng.choice([9, 9.5, 10, 10.5, 11, 11.5, 13.5, 14, 14.5, 15, 15.5, 16, 16.5, 17, 17.5])
        out.append(day0 + (hour + tz) * 3600 + rng.uniform(0, 1800))
    return sorted(out)


def _burst(rng: random.Random, t0: float, n: int, spread: float = 300.0) -> list[float]:
    return sorted(t0 + rng.uniform(0, spread) for _ in range(n))


def generate_cloud(rng: random.Random, start: datetime, days: int, holdout: bool, holdout_day: int,
                   holdout_rng: random.Random | None = None) -> tuple[list[dict[str, Any]], set[str]]:
    w = CloudTrailWriter(rng)
    # the held-out workload draws from its own generator so the benign history is identical with or without it
    hrng = holdout_rng or random.Random(0)
    hw = CloudTrailWriter(hrng)
    holdout_ids: set[str] = set()
    t_start = start.timestamp()
    devs = [
        Actor("alice", "user", home_ips=["73.162.10.24"], tz=5), Actor("bob", "user", home_ips=["98.207.44.3"], tz=5),
        Actor("carol", "user", home_ips=["71.202.88.17"], tz=8), Actor("dan", "user", home_ips=["73.162.200.9"], tz=6),
        Actor("erin", "user", home_ips=["86.153.12.40"], tz=0), Actor("frank", "user", home_ips=["24.48.77.5"], tz=5),
    ]
    for d in devs:
        d.key = _id(rng, "AKIA")
        d.apis = [(s, a, "us-east-1") for s, a in rng.sample(DEV_POOL, k=int(len(DEV_POOL) * 0.75))]
        d.ua = CLI_UA
    admins = [Actor("grace", "user", home_ips=["73.162.77.2"], tz=5, mfa=True),
              Actor("heidi", "user", home_ips=["98.207.2.200"], tz=8, mfa=True)]
    for a in admins:
        a.key = _id(rng, "AKIA")
    ci_key_ids = [_id(rng, "ASIA") for _ in range(days * 20)]
    web_instances = {f"web-{i}": f"i-0{rng.getrandbits(60):015x}" for i in range(1, 6)}

    for day in range(days):
        d0 = t_start + day * 86400
        weekday = (start + timedelta(days=day)).weekday()
        workday = weekday < 5
        # developers
        for dev in devs:
            if not workday or rng.random() < 0.08:
                continue
            at_office = dev.tz in (5, 6, 8) and dev.name in ("alice", "bob", "carol") and rng.random() < 0.6
            ip = OFFICE_NET + str(rng.randrange(2, 30)) if at_office else dev.home_ips[0]
            if rng.random() < 0.5:  # console sign-in in the morning
                t = d0 + (8.8 + dev.tz) * 3600 + rng.uniform(0, 1200)
                w.event(t, w.identity_user(dev.name, PROD, ""), "signin.amazonaws.com", "ConsoleLogin", "us-east-1", ip,
                        CONSOLE_UA, PROD, response={"ConsoleLogin": "Success"}, event_type="AwsConsoleSignIn",
                        extra={"additionalEventData": {"MFAUsed": "No", "MobileVersion": "No",
                                                       "LoginTo": "https://console.aws.amazon.com/console/home"}})
            v = rng.randrange(1, 30)
            for t in _working_times(rng, d0, dev.tz, rng.randrange(25, 70)):
                svc, api, region = rng.choice(dev.apis)
                params, res = _params(svc, api, rng, STAGING)
                acct = STAGING if rng.random() < 0.7 else PROD
                err = "AccessDenied" if acct == PROD and rng.random() < 0.02 else ""
                w.event(t, w.identity_user(dev.name, acct, dev.key), svc, api, region, ip,
                        dev.ua.format(v=v, cmd=api.lower()), acct, error=err, params=params, resources=res)
        # admins: routine reads most days, a few writes a week, from the console with MFA
        for adm in admins:
            if not workday:
                continue
            ip = OFFICE_NET + str(rng.randrange(2, 30)) if rng.random() < 0.5 else adm.home_ips[0]
            t = d0 + (8.5 + adm.tz) * 3600 + rng.uniform(0, 1800)
            w.event(t, w.identity_user(adm.name, PROD, ""), "signin.amazonaws.com", "ConsoleLogin", "us-east-1", ip,
                    CONSOLE_UA, PROD, response={"ConsoleLogin": "Success"}, event_type="AwsConsoleSignIn",
                    extra={"additionalEventData": {"MFAUsed": "Yes", "MobileVersion": "No"}})
            for t2 in _working_times(rng, d0, adm.tz, rng.randrange(15, 40)):
                svc, api = rng.choice(ADMIN_ROUTINE)
                region = "us-east-1" if rng.random() < 0.85 else "eu-west-1"
                params, res = _params(svc, api, rng, PROD)
                w.event(t2, w.identity_user(adm.name, PROD, "ASIA" + adm.key[4:], console=True, mfa=True), svc, api,
                        region, ip, CONSOLE_UA, PROD, params=params, resources=res)
            if rng.random() < 0.6:
                svc, api = rng.choice(ADMIN_WRITES)
                params, res = _params(svc, api, rng, PROD)
                w.event(t + rng.uniform(3600, 7 * 3600), w.identity_user(adm.name, PROD, "ASIA" + adm.key[4:], console=True, mfa=True),
                        svc, api, "us-east-1", ip, CONSOLE_UA, PROD, params=params, resources=res)
        # CI deployer: Terraform plans/applies from GitHub runners on workdays
        if workday:
            for run in range(rng.randrange(4, 12)):
                t = d0 + (14 + rng.uniform(0, 9)) * 3600
                key = ci_key_ids[(day * 20 + run) % len(ci_key_ids)]
                runner = GITHUB_RUNNERS + str(rng.randrange(1, 250))
                session = f"GitHubActions-{rng.getrandbits(32):08x}"
                w.event(t - 5, {"type": "WebIdentityUser", "principalId": "token.actions.githubusercontent.com:repo:acme/infra",
                                "userName": "repo:acme/infra:ref:refs/heads/main",
                                "identityProvider": "token.actions.githubusercontent.com"},
                        "sts.amazonaws.com", "AssumeRoleWithWebIdentity", "us-east-1", runner, "aws-sdk-js/3.0", PROD,
                        params={"roleArn": f"arn:aws:iam::{PROD}:role/deploy-ci", "roleSessionName": session},
                        resources=[{"type": "AWS::IAM::Role", "ARN": f"arn:aws:iam::{PROD}:role/deploy-ci", "accountId": PROD}])
                ident = w.identity_role("deploy-ci", session, PROD, key)
                v = rng.randrange(1, 9)
                reads = rng.sample(CI_READS, k=rng.randrange(14, len(CI_READS)))
                for i, (svc, api) in enumerate(reads):
                    params, res = _params(svc, api, rng, PROD)
                    w.event(t + i * rng.uniform(0.2, 2), ident, svc, api, "us-east-1", runner, TF_UA.format(v=v), PROD,
                            params=params, resources=res)
                if rng.random() < 0.7:
                    for j, (svc, api) in enumerate(rng.sample(CI_WRITES, k=rng.randrange(1, 4))):
                        params, res = _params(svc, api, rng, PROD)
                        w.event(t + 80 + j * 3, ident, svc, api, "us-east-1", runner, TF_UA.format(v=v), PROD,
                                params=params, resources=res)
        # data pipeline: nightly, both regions, service-driven
        for hour in (1, 2):
            ident = w.identity_role("data-pipeline", f"pipeline-{day}-{hour}", PROD, _id(rng, "ASIA"))
            ip = rng.choice(LAMBDA_IPS) + f"{rng.randrange(256)}.{rng.randrange(1, 255)}"
            for t in _burst(rng, d0 + hour * 3600, rng.randrange(120, 260), 3000):
                svc, api = rng.choice(PIPELINE)
                region = "eu-west-1" if rng.random() < 0.2 else "us-east-1"
                params, res = _params(svc, api, rng, PROD)
                w.event(t, ident, svc, api, region, ip, BOTO_UA.format(v=40), PROD, params=params, resources=res)
        # lambda function roles: traffic all day with a daily curve
        for fn, apis in FUNCTIONS.items():
            for hour in range(24):
                local = (hour - 5) % 24
                n = int((12 if 8 <= local <= 22 else 3) * rng.uniform(0.6, 1.4))
                ident = w.identity_role(fn, fn, PROD, _id(rng, "ASIA"))
                ip = rng.choice(LAMBDA_IPS) + f"{rng.randrange(256)}.{rng.randrange(1, 255)}"
                for t in _burst(rng, d0 + hour * 3600, n, 3500):
                    svc, api = rng.choice(apis)
                    params, res = _params(svc, api, rng, PROD)
                    err = "ConditionalCheckFailedException" if api == "PutItem" and rng.random() < 0.03 else ""
                    w.event(t, ident, svc, api, "us-east-1", ip, LAMBDA_UA.format(v=50), PROD, params=params,
                            resources=res, error=err)
        # EC2 instance role on the web servers: credentials rotate every 6 hours, used from the instance's IP
        for host, instance in web_instances.items():
            for block in range(4):
                key = _id(rng, "ASIA")
                ident = w.identity_role("web-instance-role", instance, PROD, key)
                for t in _burst(rng, d0 + block * 6 * 3600, rng.randrange(10, 25), 6 * 3600 - 60):
                    svc, api = rng.choice(INSTANCE_ROLE)
                    params, res = _params(svc, api, rng, PROD)
                    w.event(t, ident, svc, api, "us-east-1", WEB_PUBLIC[host], BOTO_UA.format(v=33), PROD,
                            params=params, resources=res)
        # daily security scan (read-only role assumed from the office scanner), some AccessDenied by design
        scan_ip = OFFICE_NET + "250"
        ident = w.identity_role("security-audit", "cloudwarden-scan", PROD, _id(rng, "ASIA"))
        t = d0 + 6 * 3600 + rng.uniform(0, 600)
        w.event(t - 2, w.identity_user("grace", PROD, admins[0].key), "sts.amazonaws.com", "AssumeRole", "us-east-1",
                scan_ip, BOTO_UA.format(v=60), PROD,
                params={"roleArn": f"arn:aws:iam::{PROD}:role/security-audit", "roleSessionName": "cloudwarden-scan"},
                resources=[{"type": "AWS::IAM::Role", "ARN": f"arn:aws:iam::{PROD}:role/security-audit", "accountId": PROD}])
        for region in ("us-east-1", "eu-west-1"):
            for svc, api in SCANNER:
                params, res = _params(svc, api, rng, PROD)
                w.event(t, ident, svc, api, region, scan_ip, BOTO_UA.format(v=60), PROD, params=params, resources=res)
                t += rng.uniform(0.05, 0.4)
            for svc, api in SCANNER_DENIED:
                w.event(t, ident, svc, api, region, scan_ip, BOTO_UA.format(v=60), PROD, error="AccessDeniedException")
                t += 0.1
        # nightly backups by a service role
        ident = w.identity_role("backup-role", "AWSBackup", PROD, _id(rng, "ASIA"))
        for t in _burst(rng, d0 + 3 * 3600, rng.randrange(10, 25), 1200):
            svc, api = rng.choice(BACKUP)
            w.event(t, ident, svc, api, "us-east-1", "backup.amazonaws.com", "backup.amazonaws.com", PROD)
        # AWS services acting on the account's behalf
        for t in _burst(rng, d0, 8, 86000):
            w.event(t, {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}, "sts.amazonaws.com", "AssumeRole", "us-east-1",
                    "ec2.amazonaws.com", "ec2.amazonaws.com", PROD,
                    params={"roleArn": f"arn:aws:iam::{PROD}:role/web-instance-role", "roleSessionName": "i-web"},
                    resources=[{"type": "AWS::IAM::Role", "ARN": f"arn:aws:iam::{PROD}:role/web-instance-role", "accountId": PROD}])
        w.event(d0 + 4 * 3600, {"type": "AWSService", "invokedBy": "kms.amazonaws.com"}, "kms.amazonaws.com", "RotateKey",
                "us-east-1", "kms.amazonaws.com", "kms.amazonaws.com", PROD, event_type="AwsServiceEvent")
        # held-out legitimate workload: a new reporting role from `holdout_day` on
        if holdout and day >= holdout_day:
            ident = hw.identity_role("reporting-etl", f"reporting-{day}", PROD, _id(hrng, "ASIA"))
            ip = hrng.choice(LAMBDA_IPS) + f"{hrng.randrange(256)}.{hrng.randrange(1, 255)}"
            for t in _burst(hrng, d0 + 4 * 3600, hrng.randrange(60, 140), 2400):
                svc, api = hrng.choice(REPORTING)
                params, res = _params(svc, api, hrng, PROD)
                rec = hw.event(t, ident, svc, api, "us-east-1", ip, BOTO_UA.format(v=40), PROD, params=params,
                               resources=res)
                holdout_ids.add(rec["eventID"])
    return w.out + hw.out, holdout_ids


# --------------------------------------------------------------------------------------------- hosts
HOSTS = {
    **{f"web-{i}": ("web", f"10.0.1.{10 + i}") for i in range(1, 6)},
    "db-1": ("db", "10.0.2.10"),
    "batch-1": ("batch", "10.0.3.10"),
    "bastion-1": ("bastion", "10.0.0.5"),
}
HOLDOUT_HOST = ("cache-1", "cache", "10.0.2.20")
ALB_IPS = ["10.0.0.20", "10.0.0.21"]
S3_IP = "52.216.8.34"


class HostWriter:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.out: list[HostEvent] = []
        self.seq: dict[str, int] = {}
        self.pid: dict[str, int] = {}

    def ev(self, host: str, ts: float, kind: str, action: str, **kw: Any) -> HostEvent:
        n = self.seq.get(host, 0) + 1
        self.seq[host] = n
        source = {"process": "audit", "network": "sock_diag", "transfer": "sock_diag", "auth": "authlog",
                  "privilege": "audit", "file": "fanotify"}[kind]
        e = HostEvent(event_id=f"{host}-boot1:{source}:{n}", host_id=host, hostname=host, time=ts, kind=kind,
                      action=action, source=source, **kw)
        self.out.append(e)
        return e

    def newpid(self, host: str) -> int:
        p = self.pid.get(host, 1000) + self.rng.randrange(1, 40)
        self.pid[host] = p if p < 4_000_000 else 1000
        return self.pid[host]

    def exec(self, host: str, ts: float, exe: str, argv: list[str], parent: str, user: str = "root", uid: int = 0,
             auid: int = -1, session: int = -1, ancestors: list[str] | None = None) -> HostEvent:
        return self.ev(host, ts, "process", "exec", pid=self.newpid(host), ppid=self.newpid(host), uid=uid, euid=uid,
                       auid=auid, session_id=session, user=user, exe=exe, argv=argv, parent_exe=parent,
                       ancestors=ancestors or [parent], cwd="/")

    def connect(self, host: str, ts: float, exe: str, ip: str, port: int, dns: str = "", user: str = "root",
                external: bool = False, bytes_out: int = 0) -> None:
        self.ev(host, ts, "network", "connect", pid=self.newpid(host), exe=exe, user=user, dst_ip=ip, dst_port=port,
                protocol="tcp", direction="outbound", dns_name=dns, external=external, src_ip=HOSTS.get(host, ("", HOLDOUT_HOST[2]))[1])
        if bytes_out:
            self.ev(host, ts + 60, "transfer", "bytes", exe=exe, user=user, dst_ip=ip, dst_port=port, dns_name=dns,
                    bytes_out=bytes_out, bytes_in=bytes_out // 20, external=external, direction="outbound")

    def listen(self, host: str, ts: float, exe: str, port: int, user: str = "root") -> None:
        self.ev(host, ts, "network", "listen", exe=exe, user=user, src_port=port, protocol="tcp", direction="listen")

    def accept(self, host: str, ts: float, exe: str, port: int, src: str, user: str = "root") -> None:
        self.ev(host, ts, "network", "accept", exe=exe, user=user, src_ip=src, dst_port=port, protocol="tcp",
                direction="inbound", external=False)

    def login(self, host: str, ts: float, user: str, src: str, uid: int, session: int) -> None:
        self.ev(host, ts, "auth", "login_success", user=user, uid=uid, auid=uid, session_id=session, src_ip=src,
                exe="/usr/sbin/sshd", auth_method="publickey", success=True, target_user=user)


def _ops_session(h: HostWriter, host: str, ts: float, rng: random.Random, user: str, uid: int, src: str, restart: str) -> None:
    session = rng.randrange(100, 9999)
    h.login(host, ts, user, src, uid, session)
    t = ts + 2
    h.exec(host, t, "/bin/bash", ["-bash"], "/usr/sbin/sshd", user, uid, uid, session)
    for cmd in rng.sample([["systemctl", "status", restart], ["journalctl", "-u", restart, "-n", "100"],
                           ["tail", "-n", "50", "/var/log/syslog"], ["df", "-h"], ["uptime"], ["free", "-m"],
                           ["ps", "aux"]], k=3):
        t += rng.uniform(5, 60)
        exe = {"systemctl": "/usr/bin/systemctl", "journalctl": "/usr/bin/journalctl", "tail": "/usr/bin/tail",
               "df": "/usr/bin/df", "uptime": "/usr/bin/uptime", "free": "/usr/bin/free", "ps": "/usr/bin/ps"}[cmd[0]]
        h.exec(host, t, exe, cmd, "/bin/bash", user, uid, uid, session, ["/bin/bash", "/usr/sbin/sshd"])
    if rng.random() < 0.4:
        t += 20
        h.exec(host, t, "/usr/bin/sudo", ["sudo", "systemctl", "restart", restart], "/bin/bash", user, uid, uid, session)
        h.ev(host, t + 0.1, "privilege", "sudo", user=user, uid=uid, euid=0, auid=uid, session_id=session,
             target_user="root", exe="/usr/bin/sudo", argv=["systemctl", "restart", restart])
        h.exec(host, t + 0.2, "/usr/bin/systemctl", ["systemctl", "restart", restart], "/usr/bin/sudo", "root", 0, uid,
               session, ["/usr/bin/sudo", "/bin/bash", "/usr/sbin/sshd"])
    h.ev(host, t + 30, "auth", "session_close", user=user, uid=uid, auid=uid, session_id=session, src_ip=src)


def generate_hosts(rng: random.Random, start: datetime, days: int, holdout: bool, holdout_day: int,
                   fleet_change_day: int | None, cache_seed: int = 0) -> tuple[list[HostEvent], set[str]]:
    main_h, main_rng = HostWriter(rng), rng
    # the held-out host draws from its own generator so the rest of the fleet is identical with or without it
    cache_rng = random.Random(cache_seed)
    cache_h = HostWriter(cache_rng)
    h = main_h
    tags: set[str] = set()
    t0 = start.timestamp()
    hosts = dict(HOSTS)
    for day in range(days):
        d0 = t0 + day * 86400
        active = dict(hosts)
        if holdout and day >= holdout_day:
            active[HOLDOUT_HOST[0]] = (HOLDOUT_HOST[1], HOLDOUT_HOST[2])
        for host, (kind, _ip) in active.items():
            h, rng = (cache_h, cache_rng) if kind == "cache" else (main_h, main_rng)
            mark = len(h.out)
            # every machine: sshd, node_exporter, time sync, hourly cron
            h.listen(host, d0 + 60, "/usr/sbin/sshd", 22)
            h.listen(host, d0 + 61, "/usr/local/bin/node_exporter", 9100, "prometheus")
            h.connect(host, d0 + 120, "/lib/systemd/systemd-timesyncd", "169.254.169.123", 123, user="systemd-timesync")
            for hour in range(24):
                t = d0 + hour * 3600 + 17 * 60
                h.exec(host, t, "/bin/sh", ["/bin/sh", "-c", "cd / && run-parts --report /etc/cron.hourly"], "/usr/sbin/cron")
                h.exec(host, t + 0.01, "/usr/bin/run-parts", ["run-parts", "--report", "/etc/cron.hourly"], "/bin/sh",
                       ancestors=["/bin/sh", "/usr/sbin/cron"])
                h.accept(host, t + 5, "/usr/local/bin/node_exporter", 9100, "10.0.0.8", "prometheus")
            h.exec(host, d0 + 6 * 3600 + 25 * 60, "/usr/sbin/logrotate", ["/usr/sbin/logrotate", "/etc/logrotate.conf"], "/bin/sh",
                   ancestors=["/bin/sh", "/usr/sbin/cron"])
            if kind == "web":
                h.listen(host, d0 + 62, "/usr/sbin/nginx", 80)
                h.listen(host, d0 + 63, "/usr/sbin/nginx", 443)
                h.listen(host, d0 + 64, "/usr/bin/python3.11", 8000, "www-data")
                for hour in range(24):
                    t = d0 + hour * 3600
                    local = (hour - 5) % 24
                    load = 1.0 if 8 <= local <= 22 else 0.3
                    h.accept(host, t + rng.uniform(0, 60), "/usr/sbin/nginx", 443, rng.choice(ALB_IPS), "www-data")
                    h.connect(host, t + rng.uniform(0, 3000), "/usr/bin/python3.11", HOSTS["db-1"][1], 5432, user="www-data",
                              bytes_out=int(rng.uniform(2e5, 2e6) * load))
                    if rng.random() < 0.6:
                        h.connect(host, t + rng.uniform(0, 3000), "/usr/bin/python3.11", S3_IP, 443,
                                  "acme-prod-assets.s3.amazonaws.com", "www-data", True, int(rng.uniform(1e5, 5e6) * load))
                    if rng.random() < 0.3 * load:
                        h.connect(host, t + rng.uniform(0, 3000), "/usr/bin/python3.11", "54.187.174.169", 443,
                                  "api.stripe.com", "www-data", True, int(rng.uniform(1e3, 2e4)))
                    h.ev(host, t + 3599, "transfer", "bytes", exe="/usr/sbin/nginx", user="www-data", dst_ip=rng.choice(ALB_IPS),
                         dst_port=443, bytes_out=int(rng.uniform(5e6, 5e7) * load), direction="outbound", external=False)
                    if rng.random() < 0.25 * load:
                        h.exec(host, t + rng.uniform(0, 3000), "/usr/bin/convert", ["convert", "in.png", "-resize", "256x256", "out.png"],
                               "/usr/bin/python3.11", "www-data", 33)
                if fleet_change_day is not None and day >= fleet_change_day:
                    # a new release adds a PDF renderer: new for every web server at once
                    for k in range(3):
                        e = h.exec(host, d0 + (15 + k) * 3600 + rng.uniform(0, 600), "/usr/bin/wkhtmltopdf",
                                   ["wkhtmltopdf", "-", "/tmp/invoice.pdf"], "/usr/bin/python3.11", "www-data", 33)
                        tags.add(e.event_id)
                if workday(start, day) and rng.random() < 0.3:
                    _ops_session(h, host, d0 + (15 + rng.uniform(0, 6)) * 3600, rng, "ops", 1001, HOSTS["bastion-1"][1], "nginx")
            elif kind == "db":
                h.listen(host, d0 + 62, "/usr/lib/postgresql/15/bin/postgres", 5432, "postgres")
                for hour in range(24):
                    for src in [HOSTS[f"web-{i}"][1] for i in range(1, 6)]:
                        h.accept(host, d0 + hour * 3600 + rng.uniform(0, 3000), "/usr/lib/postgresql/15/bin/postgres", 5432, src, "postgres")
                    h.exec(host, d0 + hour * 3600 + 100, "/usr/lib/postgresql/15/bin/postgres",
                           ["postgres: autovacuum worker"], "/usr/lib/postgresql/15/bin/postgres", "postgres", 109)
                t = d0 + 2 * 3600
                h.exec(host, t, "/bin/sh", ["/bin/sh", "-c", "/usr/local/bin/pg-backup.sh"], "/usr/sbin/cron")
                h.exec(host, t + 1, "/usr/bin/pg_dump", ["pg_dump", "-Fc", "shop"], "/bin/sh", "postgres", 109,
                       ancestors=["/bin/sh", "/usr/sbin/cron"])
                h.exec(host, t + 400, "/usr/local/bin/aws", ["aws", "s3", "cp", "/backup/shop.dump", "s3://acme-backups/"], "/bin/sh",
                       ancestors=["/bin/sh", "/usr/sbin/cron"])
                h.connect(host, t + 401, "/usr/local/bin/aws", S3_IP, 443, "acme-backups.s3.amazonaws.com", "root", True,
                          int(rng.uniform(1.8e9, 2.2e9)))
                if workday(start, day) and rng.random() < 0.3:
                    _ops_session(h, host, d0 + (16 + rng.uniform(0, 4)) * 3600, rng, "ops", 1001, HOSTS["bastion-1"][1], "postgresql")
            elif kind == "batch":
                t = d0 + 1 * 3600
                h.exec(host, t, "/bin/sh", ["/bin/sh", "-c", "/opt/etl/run.sh"], "/usr/sbin/cron")
                h.exec(host, t + 1, "/usr/bin/python3.11", ["python3", "/opt/etl/run.py", "--nightly"], "/bin/sh", "etl", 1500,
                       ancestors=["/bin/sh", "/usr/sbin/cron"])
                h.connect(host, t + 5, "/usr/bin/python3.11", HOSTS["db-1"][1], 5432, user="etl", bytes_out=int(rng.uniform(1e6, 5e6)))
                h.connect(host, t + 600, "/usr/bin/python3.11", S3_IP, 443, "acme-data-lake.s3.amazonaws.com", "etl", True,
                          int(rng.uniform(3e8, 6e8)))
                h.connect(host, t + 900, "/usr/bin/python3.11", "198.51.100.40", 22, "sftp.partner-logistics.example", "etl", True,
                          int(rng.uniform(1e7, 3e7)))
                for k in range(rng.randrange(3, 8)):
                    h.exec(host, t + 30 + k * 60, "/usr/bin/gzip", ["gzip", "-9", f"/var/etl/part-{k}.csv"], "/usr/bin/python3.11",
                           "etl", 1500, ancestors=["/usr/bin/python3.11", "/bin/sh", "/usr/sbin/cron"])
            elif kind == "bastion":
                if workday(start, day):
                    for _ in range(rng.randrange(2, 6)):
                        user, uid = rng.choice([("ops", 1001), ("alice", 1002), ("bob", 1003)])
                        ts = d0 + (14 + rng.uniform(0, 8)) * 3600
                        session = rng.randrange(100, 9999)
                        src = OFFICE_NET + str(rng.randrange(2, 30))
                        h.accept(host, ts - 1, "/usr/sbin/sshd", 22, src)
                        h.login(host, ts, user, src, uid, session)
                        h.exec(host, ts + 1, "/bin/bash", ["-bash"], "/usr/sbin/sshd", user, uid, uid, session)
                        target = rng.choice([f"web-{i}" for i in range(1, 6)] + (["db-1"] if user == "ops" else []))
                        h.exec(host, ts + 5, "/usr/bin/ssh", ["ssh", target], "/bin/bash", user, uid, uid, session,
                               ["/bin/bash", "/usr/sbin/sshd"])
                        h.connect(host, ts + 5, "/usr/bin/ssh", HOSTS[target][1], 22, user=user)
            elif kind == "cache":
                h.listen(host, d0 + 62, "/usr/bin/redis-server", 6379, "redis")
                for hour in range(24):
                    for i in range(1, 6):
                        h.accept(host, d0 + hour * 3600 + rng.uniform(0, 3000), "/usr/bin/redis-server", 6379, HOSTS[f"web-{i}"][1], "redis")
                h.exec(host, d0 + 3 * 3600, "/usr/bin/redis-cli", ["redis-cli", "BGSAVE"], "/bin/sh", ancestors=["/bin/sh", "/usr/sbin/cron"])
            if kind == "cache":
                tags.update(e.event_id for e in h.out[mark:])
    return main_h.out + cache_h.out, tags


def workday(start: datetime, day: int) -> bool:
    return (start + timedelta(days=day)).weekday() < 5


def generate_estate(
    days: int = 28,
    seed: int = 7,
    *,
    start: datetime | None = None,
    attacks: bool = True,
    holdout: bool = False,
    holdout_day: int | None = None,
    fleet_change: bool = True,
    attack_day: int | None = None,
) -> Estate:
    """Benign history for `days` days; attack scenarios (`demo/attacks.py`) in the last part when `attacks`.

    `holdout` adds a legitimate workload that starts after training (a new `reporting-etl` role and a new
    `cache-1` host) so an evaluation can measure how a new legitimate workload is received.
    """
    if days < 2:
        raise ValueError("an estate needs at least 2 days")
    start = start or DEFAULT_START
    rng = random.Random(seed)
    h_day = holdout_day if holdout_day is not None else max(1, days - 6)
    fleet_day = max(1, days - 4) if fleet_change else None
    records, holdout_ids = generate_cloud(rng, start, days, holdout, h_day, random.Random(seed + 3))
    host_events, tags = generate_hosts(random.Random(seed + 1), start, days, holdout, h_day, fleet_day, seed + 4)
    estate = Estate(start=start, days=days, seed=seed)
    estate.cloudtrail_events = records
    estate.host_events = host_events
    for eid in holdout_ids:
        estate.benign_tags[eid] = "holdout:reporting-etl"
    for eid in tags:
        estate.benign_tags[eid] = "fleet-change:wkhtmltopdf" if "web" in eid else "holdout:cache-1"
    if holdout:
        estate.holdout = {"role": f"arn:aws:iam::{PROD}:role/reporting-etl", "host": HOLDOUT_HOST[0],
                          "start": (start + timedelta(days=h_day)).isoformat()}
    if attacks:
        from cloudwarden.demo.attacks import add_attacks

        add_attacks(estate, random.Random(seed + 2), attack_day if attack_day is not None else max(1, days - 5))
    estate.cloudtrail_events.sort(key=lambda r: (r["eventTime"], r["eventID"]))
    estate.host_events.sort(key=lambda e: (e.time, e.event_id))
    return estate


def iter_days(estate: Estate) -> Iterator[str]:
    seen: set[str] = set()
    for rec in estate.cloudtrail_events:
        d = rec["eventTime"][:10]
        if d not in seen:
            seen.add(d)
            yield d
