from __future__ import annotations

from cloudwarden.baseline.features import error_bucket, is_enumeration_api, sensitivity, ua_family
from cloudwarden.baseline.geo import NoGeo, PackagedGeo, StaticGeo, distance_km
from cloudwarden.baseline.stats import RateStat, active_days, new_record, robust_threshold, touch

DAY = 86400.0


def test_sensitivity_orders_crown_jewels_above_reads() -> None:
    assert sensitivity("kms.amazonaws.com", "ScheduleKeyDeletion") == 1.0
    assert sensitivity("cloudtrail.amazonaws.com", "StopLogging") == 1.0
    assert sensitivity("iam.amazonaws.com", "AttachUserPolicy") > 0.8
    assert sensitivity("s3.amazonaws.com", "PutBucketPolicy") > 0.8
    assert sensitivity("ec2.amazonaws.com", "DescribeInstances") < 0.1
    assert sensitivity("iam.amazonaws.com", "ListUsers") < 0.3
    assert sensitivity("dynamodb.amazonaws.com", "PutItem") < sensitivity("iam.amazonaws.com", "CreateUser")


def test_error_buckets_and_enumeration() -> None:
    assert error_bucket("AccessDenied") == error_bucket("Client.UnauthorizedOperation") == "AccessDenied"
    assert error_bucket("AccessDeniedException") == "AccessDenied"
    assert error_bucket("ThrottlingException") == "Throttling"
    assert error_bucket("NoSuchBucket") == "NotFound"
    assert error_bucket("") == ""
    assert is_enumeration_api("DescribeInstances") and not is_enumeration_api("RunInstances")


def test_ua_family_fallback() -> None:
    assert ua_family("aws-cli/2.13.0 Python/3.11.4 Linux/6.1.0-kali7-amd64") == "offensive"
    assert ua_family("Boto3/1.34.1 md/Botocore#1.34.1") == "sdk-python"
    assert ua_family("") == "other"


def test_active_days_counts_distinct_days_in_window() -> None:
    t0 = 20000 * DAY
    rec = new_record(t0)
    for d in (0, 0, 1, 5, 30):
        touch(rec, t0 + d * DAY + 3600)
    assert active_days(rec, t0 + 30 * DAY, window=28) == 2  # days 5 and 30; 0 and 1 fell out of the window
    assert active_days(rec, t0 + 30 * DAY, window=31) == 4
    assert rec[3] == 6
    touch(rec, t0 + 200 * DAY)  # a long gap clears the ring
    assert active_days(rec, t0 + 200 * DAY, window=28) == 1


def test_rate_threshold_needs_history_and_is_robust() -> None:
    r = RateStat()
    for h in range(30):
        for _ in range(10 + h % 3):
            r.add(h, error=False)
    r.add(31, error=False)
    assert r.threshold is not None and 60 <= r.threshold < 100
    assert robust_threshold([10] * 30, floor=5) >= 15  # a flat history still needs a real jump


def test_geo_static_private_and_absent() -> None:
    g = StaticGeo({"5.188.10.0/24": ("Green Floid LLC", "RU")})
    assert g.lookup("5.188.10.7").country == "RU"
    assert g.lookup("10.1.2.3").asn == "private"
    assert g.lookup("ec2.amazonaws.com").asn == "aws-service"
    assert NoGeo().lookup("5.188.10.7").asn == ""
    assert distance_km("US", "DE") is not None and distance_km("US", "DE") > 5000  # type: ignore[operator]
    assert distance_km("US", "ZZ") is None


def test_packaged_geo_offline_file() -> None:
    g = PackagedGeo()
    info = g.lookup("8.8.8.8")
    if not g.available:  # the package is a dependency; without it lookups degrade to unknown
        assert info.asn == ""
        return
    assert info.country == "US" and "GOOGLE" in info.asn
    assert g.lookup("not-an-ip").asn == ""
