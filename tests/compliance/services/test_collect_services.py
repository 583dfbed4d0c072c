"""Every service collector of the Storage/Logging/Monitoring/Networking sections through boto3 -> moto_server."""

from __future__ import annotations

import json

import boto3

from cloudwarden.compliance.collectors.s3 import strip_account_host
from tests.compliance.services.helpers import ACCOUNT, collect, undeclared_calls

R = "us-east-1"


def client(moto, name: str, region: str = R):
    c = boto3.client(name, region_name=region, endpoint_url=moto.url)
    # s3control puts the account id in the host name; moto on 127.0.0.1 needs it left out
    c.meta.events.register("before-sign.s3-control", strip_account_host)
    return c


def test_s3_collector(moto) -> None:
    s3 = client(moto, "s3")
    s3.create_bucket(Bucket="open-data")
    s3.create_bucket(Bucket="locked-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
              "Resource": ["arn:aws:s3:::locked-eu", "arn:aws:s3:::locked-eu/*"],
              "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    eu = client(moto, "s3", "eu-west-1")
    eu.put_bucket_policy(Bucket="locked-eu", Policy=json.dumps(policy))
    eu.put_public_access_block(Bucket="locked-eu", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    eu.put_bucket_versioning(Bucket="locked-eu", VersioningConfiguration={"Status": "Enabled"})
    eu.put_bucket_encryption(Bucket="locked-eu", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    eu.create_bucket(Bucket="access-logs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    eu.put_bucket_acl(Bucket="access-logs", ACL="log-delivery-write")
    eu.put_bucket_logging(Bucket="locked-eu", BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": "access-logs", "TargetPrefix": "logs/"}})
    client(moto, "s3control").put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": True})

    got = collect(moto.url, ["s3"])
    inv = got.inventory
    buckets = {b["Name"]: b for b in inv.get("s3", "buckets")}
    assert buckets["open-data"]["Region"] == "us-east-1" and buckets["locked-eu"]["Region"] == "eu-west-1"
    assert inv.get("s3", "account_public_access_block")["BlockPublicPolicy"] is False
    assert inv.get("s3", "bucket_policy/open-data") is None
    assert inv.get("s3", "bucket_policy/locked-eu")["Statement"][0]["Effect"] == "Deny"
    assert inv.get("s3", "bucket_public_access_block/open-data") is None
    assert inv.get("s3", "bucket_public_access_block/locked-eu")["BlockPublicAcls"] is True
    assert inv.get("s3", "bucket_encryption/locked-eu")["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert inv.get("s3", "bucket_versioning/locked-eu")["Status"] == "Enabled"
    assert "Status" not in inv.get("s3", "bucket_versioning/open-data")
    assert inv.get("s3", "bucket_logging/locked-eu")["TargetBucket"] == "access-logs"
    assert inv.get("s3", "bucket_logging/open-data") is None
    assert inv.get("s3", "bucket_object_lock/open-data") is None
    assert inv.get("s3", "bucket_acl/access-logs")["Grants"], inv.get("s3", "bucket_acl/access-logs")
    assert not inv.failures
    assert undeclared_calls(["s3"], got.counter) == set()


def test_cloudtrail_config_kms_collectors(moto) -> None:
    client(moto, "s3").create_bucket(Bucket="trail-logs")
    ct = client(moto, "cloudtrail")
    arn = ct.create_trail(Name="org", S3BucketName="trail-logs", IsMultiRegionTrail=True,
                          EnableLogFileValidation=True)["TrailARN"]
    ct.start_logging(Name="org")
    ct.put_event_selectors(TrailName="org", EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True,
                           "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}])
    cfg = client(moto, "config")
    cfg.put_configuration_recorder(ConfigurationRecorder={"name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/c",
                                   "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}})
    cfg.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "trail-logs"})
    cfg.start_configuration_recorder(ConfigurationRecorderName="default")
    kms = client(moto, "kms")
    rotated = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=rotated)
    plain = kms.create_key()["KeyMetadata"]["KeyId"]
    asym = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]

    services = ["cloudtrail", "config", "kms"]
    got = collect(moto.url, services, regions=[R, "eu-west-1"])
    inv = got.inventory
    trails_eu = inv.get("cloudtrail", "trails", "eu-west-1")
    assert [t["TrailARN"] for t in trails_eu] == [arn] and trails_eu[0]["HomeRegion"] == R
    assert inv.get("cloudtrail", f"trail_status/{arn}", R)["IsLogging"] is True
    assert not inv.has("cloudtrail", f"trail_status/{arn}", "eu-west-1")  # fetched once, in its home region
    sel = inv.get("cloudtrail", f"event_selectors/{arn}", R)["EventSelectors"][0]
    assert sel["DataResources"][0]["Type"] == "AWS::S3::Object"
    assert inv.get("config", "recorders", R)[0]["recordingGroup"]["allSupported"] is True
    assert inv.get("config", "recorder_statuses", R)[0]["recording"] is True
    assert inv.get("config", "delivery_channels", R)[0]["s3BucketName"] == "trail-logs"
    assert inv.get("config", "recorders", "eu-west-1") == []
    assert {k["KeyId"] for k in inv.get("kms", "keys", R)} == {rotated, plain, asym}
    assert inv.get("kms", f"key_rotation/{rotated}", R)["KeyRotationEnabled"] is True
    assert inv.get("kms", f"key_rotation/{plain}", R)["KeyRotationEnabled"] is False
    assert not inv.has("kms", f"key_rotation/{asym}", R)  # rotation does not apply to asymmetric keys
    assert inv.get("kms", f"key_metadata/{asym}", R)["KeySpec"] == "RSA_2048"
    assert not inv.failures
    assert undeclared_calls(services, got.counter) == set()


def test_monitoring_collectors(moto) -> None:
    logs = client(moto, "logs")
    logs.create_log_group(logGroupName="trail")
    logs.put_metric_filter(logGroupName="trail", filterName="root", filterPattern='{ $.userIdentity.type = "Root" }',
                           metricTransformations=[{"metricName": "RootUsage", "metricNamespace": "CIS", "metricValue": "1"}])
    sns = client(moto, "sns")
    topic = sns.create_topic(Name="sec")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="sec@example.com")
    client(moto, "cloudwatch").put_metric_alarm(
        AlarmName="root", MetricName="RootUsage", Namespace="CIS", Statistic="Sum", Period=300, EvaluationPeriods=1,
        Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[topic])
    services = ["logs", "cloudwatch", "sns"]
    got = collect(moto.url, services)
    inv = got.inventory
    assert inv.get("logs", "metric_filters", R)[0]["metricTransformations"][0]["metricName"] == "RootUsage"
    assert inv.get("cloudwatch", "alarms", R)[0]["AlarmActions"] == [topic]
    assert inv.get("sns", "topics", R) == [{"TopicArn": topic}]
    assert inv.get("sns", "subscriptions", R)[0]["TopicArn"] == topic
    assert not inv.failures
    assert undeclared_calls(services, got.counter) == set()


def test_storage_and_frontend_collectors(moto) -> None:
    rds = client(moto, "rds")
    rds.create_db_instance(DBInstanceIdentifier="db1", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20,
                           StorageEncrypted=True, PubliclyAccessible=False)
    efs = client(moto, "efs")
    efs.create_file_system(CreationToken="fs1", Encrypted=False)
    ec2 = client(moto, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    elb = client(moto, "elbv2")
    lb = elb.create_load_balancer(Name="web", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    apigw = client(moto, "apigateway")
    api = apigw.create_rest_api(name="shop")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    dep = apigw.create_deployment(restApiId=api)["id"]
    apigw.create_stage(restApiId=api, stageName="prod", deploymentId=dep)
    v2 = client(moto, "apigatewayv2")
    http_api = v2.create_api(Name="h", ProtocolType="HTTP")["ApiId"]
    v2.create_stage(ApiId=http_api, StageName="live", AccessLogSettings={"DestinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:x", "Format": "$context.requestId"})
    cf = client(moto, "cloudfront")
    dist = cf.create_distribution(DistributionConfig={
        "CallerReference": "r1", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "example.com",
                    "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https",
                                 "MinTTL": 0, "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}},
        "Logging": {"Enabled": True, "IncludeCookies": False, "Bucket": "logs.s3.amazonaws.com", "Prefix": "cf/"},
    })["Distribution"]["Id"]

    services = ["rds", "efs", "elbv2", "apigateway", "apigatewayv2", "cloudfront"]
    got = collect(moto.url, services)
    inv = got.inventory
    db = inv.get("rds", "db_instances", R)[0]
    assert db["StorageEncrypted"] is True and db["PubliclyAccessible"] is False
    assert isinstance(inv.get("rds", "db_clusters", R), list)
    assert inv.get("efs", "file_systems", R)[0]["Encrypted"] is False
    attrs = {a["Key"]: a["Value"] for a in inv.get("elbv2", f"load_balancer_attributes/{lb}", R)}
    assert attrs.get("access_logs.s3.bucket") == ""
    assert inv.get("apigateway", "rest_apis", R)[0]["id"] == api
    assert inv.get("apigateway", f"stages/{api}", R)[0]["stageName"] == "prod"
    assert inv.get("apigatewayv2", f"stages/{http_api}", R)[0]["AccessLogSettings"]["Format"]
    assert inv.get("cloudfront", "distributions")[0]["Id"] == dist
    assert inv.get("cloudfront", f"distribution_config/{dist}")["Logging"]["Enabled"] is True
    assert not inv.failures, inv.failures
    assert undeclared_calls(services, got.counter) == set()
