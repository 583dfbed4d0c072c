"""Storage section checks over moto-seeded accounts (and hand-built inventories where moto cannot show a case)."""

from __future__ import annotations

import json

from cloudwarden.compliance.inventory import CollectionFailure, Inventory
from tests.compliance.services.helpers import ACCOUNT, boto, collect, run_check, statuses

PAB_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def deny_http(bucket: str, **cond_override: object) -> str:
    cond = cond_override or {"Bool": {"aws:SecureTransport": "false"}}
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Sid": "tls", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"], "Condition": cond}]})


def test_s3_checks_pass_and_fail_per_bucket(moto) -> None:
    s3 = boto(moto.url, "s3")
    for name in ("secure", "plain", "wrong-cond", "pab"):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_policy(Bucket="secure", Policy=deny_http("secure"))
    s3.put_bucket_policy(Bucket="wrong-cond", Policy=deny_http("wrong-cond", Bool={"aws:SecureTransport": "true"}))
    s3.put_public_access_block(Bucket="pab", PublicAccessBlockConfiguration=PAB_ALL)
    s3.put_bucket_versioning(Bucket="secure", VersioningConfiguration={"Status": "Enabled"})
    inv = collect(moto.url, ["s3"]).inventory

    tls = statuses(run_check(inv, "s3_bucket_secure_transport_policy"))
    assert tls == {"secure": "PASS", "plain": "FAIL", "wrong-cond": "FAIL", "pab": "FAIL"}
    pab = statuses(run_check(inv, "s3_bucket_level_public_access_block"))
    assert pab["pab"] == "PASS" and pab["plain"] == "FAIL"
    assert [str(r.status) for r in run_check(inv, "s3_account_level_public_access_blocks")] == ["FAIL"]
    mfa = run_check(inv, "s3_bucket_no_mfa_delete")
    assert {str(r.status) for r in mfa} == {"FAIL"} and any("versioning Enabled" in r.reason for r in mfa)

    boto(moto.url, "s3control").put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration=PAB_ALL)
    inv = collect(moto.url, ["s3"]).inventory
    assert [str(r.status) for r in run_check(inv, "s3_account_level_public_access_blocks")] == ["PASS"]
    pab = run_check(inv, "s3_bucket_level_public_access_block")
    assert {str(r.status) for r in pab} == {"PASS"}
    assert any("account-level" in r.reason for r in pab)


def test_mfa_delete_enabled_passes() -> None:
    """moto refuses MFADelete=Enabled without a real MFA serial/token pair, so this case is hand-built."""
    inv = Inventory(ACCOUNT, regions=["us-east-1"])
    inv.put("s3", "buckets", [{"Name": "vault", "Region": "us-east-1"}, {"Name": "loose", "Region": "us-east-1"}])
    inv.put("s3", "bucket_versioning/vault", {"Status": "Enabled", "MFADelete": "Enabled"})
    inv.put("s3", "bucket_versioning/loose", {})
    assert statuses(run_check(inv, "s3_bucket_no_mfa_delete")) == {"vault": "PASS", "loose": "FAIL"}


def test_one_unreadable_bucket_is_not_evaluated_and_others_still_judged() -> None:
    """AccessDenied on one bucket's policy cannot be produced by moto (no IAM enforcement by default)."""
    inv = Inventory(ACCOUNT, regions=["us-east-1"])
    inv.put("s3", "buckets", [{"Name": "a", "Region": "us-east-1"}, {"Name": "b", "Region": "eu-west-1"}])
    inv.put("s3", "bucket_policy/a", json.loads(deny_http("a")))
    inv.fail("s3", "bucket_policy/b", CollectionFailure("s3", "global", "GetBucketPolicy", "AccessDenied", "no"))
    inv.put("s3", "buckets", [*inv.get("s3", "buckets"), {"Name": "odd", "Region": "us-east-1"}])
    inv.put("s3", "bucket_policy/odd", ["not", "a", "policy"])
    res = run_check(inv, "s3_bucket_secure_transport_policy")
    assert statuses(res) == {"a": "PASS", "b": "NOT_EVALUATED", "odd": "NOT_EVALUATED"}
    assert [r.region for r in res] == ["us-east-1", "eu-west-1", "us-east-1"]
    assert "AccessDenied" in res[1].reason


def test_policy_variants_for_deny_http() -> None:
    from cloudwarden.compliance.checks.storage.s3_bucket_secure_transport_policy import denies_http

    base = json.loads(deny_http("b"))
    assert denies_http(base, "b")
    star = {"Statement": {"Effect": "Deny", "Principal": "*", "Action": ["*"], "Resource": "arn:aws:s3:::b*",
                          "Condition": {"BoolIfExists": {"AWS:SECURETRANSPORT": [False]}}}}
    assert denies_http(star, "b")
    only_bucket = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b",
                                  "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    assert not denies_http(only_bucket, "b")  # objects are not covered
    narrow_action = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                                    "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    assert not denies_http(narrow_action, "b")
    assert not denies_http(None, "b")


def test_no_buckets_is_an_explicit_pass(moto) -> None:
    inv = collect(moto.url, ["s3"]).inventory
    res = run_check(inv, "s3_bucket_secure_transport_policy")
    assert len(res) == 1 and str(res[0].status) == "PASS" and "no S3 buckets" in res[0].reason


def test_rds_checks(moto) -> None:
    rds = boto(moto.url, "rds")
    common = {"DBInstanceClass": "db.t3.micro", "Engine": "postgres", "MasterUsername": "admin",
              "MasterUserPassword": "password123", "AllocatedStorage": 20}
    rds.create_db_instance(DBInstanceIdentifier="good", StorageEncrypted=True, PubliclyAccessible=False,
                           AutoMinorVersionUpgrade=True, MultiAZ=True, **common)
    rds.create_db_instance(DBInstanceIdentifier="bad", StorageEncrypted=False, PubliclyAccessible=True,
                           AutoMinorVersionUpgrade=False, MultiAZ=False, **common)
    rds.create_db_cluster(DBClusterIdentifier="aurora", Engine="aurora-postgresql", MasterUsername="admin",
                          MasterUserPassword="password123")
    rds.create_db_instance(DBInstanceIdentifier="member", DBClusterIdentifier="aurora", Engine="aurora-postgresql",
                           DBInstanceClass="db.r5.large")
    inv = collect(moto.url, ["rds"]).inventory
    enc = statuses(run_check(inv, "rds_instance_storage_encrypted"))
    assert enc["good"] == "PASS" and enc["bad"] == "FAIL"
    assert statuses(run_check(inv, "rds_instance_no_public_access"))["bad"] == "FAIL"
    assert statuses(run_check(inv, "rds_instance_no_public_access"))["good"] == "PASS"
    upg = statuses(run_check(inv, "rds_instance_minor_version_upgrade_enabled"))
    assert upg["good"] == "PASS" and upg["bad"] == "FAIL"
    maz = statuses(run_check(inv, "rds_instance_multi_az"))
    assert maz == {"good": "PASS", "bad": "FAIL"}  # the cluster member is judged through its cluster
    cluster = run_check(inv, "rds_cluster_multi_az")
    assert [(r.resource_arn.rsplit(":", 1)[-1], str(r.status)) for r in cluster] == [("aurora", "FAIL")]


def test_rds_cluster_multi_az_pass() -> None:
    """moto reports MultiAZ=False for every cluster it creates, so the passing case is hand-built."""
    inv = Inventory(ACCOUNT, regions=["us-east-1"])
    inv.put("rds", "db_clusters", [{"DBClusterArn": "arn:aws:rds:us-east-1:123456789012:cluster:ha", "MultiAZ": True}],
            "us-east-1")
    assert statuses(run_check(inv, "rds_cluster_multi_az")) == {"ha": "PASS"}


def test_efs_encryption(moto) -> None:
    efs = boto(moto.url, "efs")
    enc = efs.create_file_system(CreationToken="a", Encrypted=True)["FileSystemId"]
    plain = efs.create_file_system(CreationToken="b", Encrypted=False)["FileSystemId"]
    inv = collect(moto.url, ["efs"]).inventory
    assert statuses(run_check(inv, "efs_encryption_at_rest_enabled")) == {enc: "PASS", plain: "FAIL"}


def test_macie_enabled_per_region(moto) -> None:
    """moto starts with Macie enabled everywhere; disabling it in one region gives the failing case."""
    boto(moto.url, "macie2", "us-east-1").disable_macie()
    inv = collect(moto.url, ["macie2"], regions=["us-east-1", "eu-west-1"]).inventory
    res = {r.region: str(r.status) for r in run_check(inv, "macie_is_enabled")}
    assert res == {"us-east-1": "FAIL", "eu-west-1": "PASS"}
