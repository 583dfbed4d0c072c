"""Logging section checks over moto-seeded accounts (hand-built inventories where moto cannot show a case)."""

from __future__ import annotations

from cloudwarden.compliance.checks.logging._trails import TrailView, covers_s3_objects, logs_all_management_events
from cloudwarden.compliance.inventory import CollectionFailure, Inventory
from tests.compliance.services.helpers import ACCOUNT, boto, collect, run_check, statuses

R, EU = "us-east-1", "eu-west-1"
CF_ORIGIN = {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "example.com", "CustomOriginConfig": {
    "HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]}
CF_BEHAVIOR = {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https", "MinTTL": 0,
               "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}}


def seed_trails(url: str, *, good: bool = True) -> None:
    s3 = boto(url, "s3")
    for b in ("trail-good", "trail-bad", "access-logs", "data1", "data2"):
        s3.create_bucket(Bucket=b)
    s3.put_bucket_acl(Bucket="access-logs", ACL="log-delivery-write")
    s3.put_bucket_logging(Bucket="trail-good", BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": "access-logs", "TargetPrefix": "t/"}})
    ct = boto(url, "cloudtrail")
    if good:
        key = boto(url, "kms").create_key()["KeyMetadata"]["Arn"]
        ct.create_trail(Name="main", S3BucketName="trail-good", IsMultiRegionTrail=True, EnableLogFileValidation=True,
                        KmsKeyId=key)
        ct.start_logging(Name="main")
        ct.put_event_selectors(TrailName="main", EventSelectors=[
            {"ReadWriteType": "All", "IncludeManagementEvents": True},
            {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": False,
             "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::data1/"]}]},
            {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False,
             "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::data2/"]}]}])
    ct.create_trail(Name="side", S3BucketName="trail-bad")  # single region, never started


def test_trail_checks_with_a_good_and_a_bad_trail(moto) -> None:
    seed_trails(moto.url)
    inv = collect(moto.url, ["s3", "cloudtrail"], regions=[R, EU]).inventory
    multi = run_check(inv, "cloudtrail_multi_region_enabled")
    assert [str(r.status) for r in multi] == ["PASS"] and "main" in multi[0].reason
    assert statuses(run_check(inv, "cloudtrail_log_file_validation_enabled")) == {"main": "PASS", "side": "FAIL"}
    assert statuses(run_check(inv, "cloudtrail_kms_encryption_enabled")) == {"main": "PASS", "side": "FAIL"}
    logging = statuses(run_check(inv, "cloudtrail_logs_s3_bucket_access_logging_enabled"))
    assert logging == {"trail-good": "PASS", "trail-bad": "FAIL"}
    write = statuses(run_check(inv, "cloudtrail_s3_dataevents_write_enabled"))
    assert write["data1"] == "PASS" and write["data2"] == "FAIL"
    read = statuses(run_check(inv, "cloudtrail_s3_dataevents_read_enabled"))
    assert read["data1"] == "FAIL" and read["data2"] == "PASS"


def test_scan_without_the_trails_home_region_still_reads_its_status(moto) -> None:
    seed_trails(moto.url)
    inv = collect(moto.url, ["s3", "cloudtrail"], regions=[EU, "us-west-2"]).inventory
    res = run_check(inv, "cloudtrail_multi_region_enabled")
    assert [(str(r.status), r.region) for r in res] == [("PASS", R)]


def test_no_multi_region_trail_fails_with_what_each_trail_lacks(moto) -> None:
    seed_trails(moto.url, good=False)
    inv = collect(moto.url, ["s3", "cloudtrail"], regions=[R]).inventory
    res = run_check(inv, "cloudtrail_multi_region_enabled")
    assert [str(r.status) for r in res] == ["FAIL"]
    assert "side (single-region, not logging)" in res[0].reason


def test_trails_unreadable_everywhere_is_not_evaluated() -> None:
    """AccessDenied on DescribeTrails: moto does not enforce IAM, so the inventory is hand-built."""
    inv = Inventory(ACCOUNT, regions=[R, EU])
    for region in (R, EU):
        inv.fail("cloudtrail", "trails", CollectionFailure("cloudtrail", region, "DescribeTrails", "AccessDenied", "no"), region)
    res = run_check(inv, "cloudtrail_multi_region_enabled")
    assert {str(r.status) for r in res} == {"NOT_EVALUATED"} and len(res) == 2
    assert "AccessDenied" in res[0].reason


def view(selectors: dict) -> TrailView:
    return TrailView({"TrailARN": "arn:aws:cloudtrail:us-east-1:1:trail/t", "IsMultiRegionTrail": True},
                     {"IsLogging": True}, selectors)


def test_advanced_event_selectors() -> None:
    """Advanced selectors are evaluated purely; moto's support for them is partial."""
    mgmt = {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}
    mgmt_read_only = {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]},
                                         {"Field": "readOnly", "Equals": ["true"]}]}
    assert logs_all_management_events(view({"AdvancedEventSelectors": [mgmt]}))
    assert not logs_all_management_events(view({"AdvancedEventSelectors": [mgmt_read_only]}))
    assert logs_all_management_events(view({"EventSelectors": []}))  # CloudTrail's default for a new trail
    no_mgmt = {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False}]}
    assert not logs_all_management_events(view(no_mgmt))
    data_all = {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                                   {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}]}
    assert covers_s3_objects(view({"AdvancedEventSelectors": [data_all]}), "any", "aws", write=True)
    writes_of_b = {"FieldSelectors": [*data_all["FieldSelectors"], {"Field": "readOnly", "Equals": ["false"]},
                                      {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::b/"]}]}
    v = view({"AdvancedEventSelectors": [writes_of_b]})
    assert covers_s3_objects(v, "b", "aws", write=True)
    assert not covers_s3_objects(v, "b", "aws", write=False)
    assert not covers_s3_objects(v, "c", "aws", write=True)
    excluded = {"FieldSelectors": [*data_all["FieldSelectors"], {"Field": "resources.ARN", "NotStartsWith": ["arn:aws:s3:::b/"]}]}
    assert not covers_s3_objects(view({"AdvancedEventSelectors": [excluded]}), "b", "aws", write=True)
    classic_all = {"EventSelectors": [{"ReadWriteType": "ReadOnly", "DataResources": [
        {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}]}
    assert covers_s3_objects(view(classic_all), "x", "aws", write=False)
    assert not covers_s3_objects(view(classic_all), "x", "aws", write=True)


def test_config_recorder_per_region(moto) -> None:
    cfg = boto(moto.url, "config")
    cfg.put_configuration_recorder(ConfigurationRecorder={"name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/c",
                                   "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}})
    boto(moto.url, "s3").create_bucket(Bucket="cfg")
    cfg.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "cfg"})
    cfg.start_configuration_recorder(ConfigurationRecorderName="default")
    partial = boto(moto.url, "config", "us-west-2")
    partial.put_configuration_recorder(ConfigurationRecorder={"name": "p", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/c",
                                       "recordingGroup": {"allSupported": False, "includeGlobalResourceTypes": False,
                                                          "resourceTypes": ["AWS::EC2::Instance"]}})
    inv = collect(moto.url, ["config"], regions=[R, EU, "us-west-2"]).inventory
    results = run_check(inv, "config_recorder_all_regions_enabled")
    res = {r.region: r for r in results}
    assert str(res["global"].status) == "PASS" and "global resource types" in res["global"].reason
    assert str(res[R].status) == "PASS"
    assert str(res[EU].status) == "FAIL" and "no configuration recorder" in res[EU].reason
    assert str(res["us-west-2"].status) == "FAIL"
    assert "not recording" in res["us-west-2"].reason and "selected resource types" in res["us-west-2"].reason


def test_config_without_global_resource_types_anywhere() -> None:
    """Hand-built: a recording recorder in one region that leaves out IAM's global resource types."""
    inv = Inventory(ACCOUNT, regions=[R])
    inv.put("config", "recorders", [{"name": "d", "recordingGroup": {"allSupported": True,
                                                                    "includeGlobalResourceTypes": False}}], R)
    inv.put("config", "recorder_statuses", [{"name": "d", "recording": True, "lastStatus": "SUCCESS"}], R)
    inv.put("config", "delivery_channels", [{"name": "d"}], R)
    res = {r.region: str(r.status) for r in run_check(inv, "config_recorder_all_regions_enabled")}
    assert res == {R: "PASS", "global": "FAIL"}


def test_kms_rotation(moto) -> None:
    kms = boto(moto.url, "kms")
    on = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=on)
    off = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")  # rotation does not apply
    disabled = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=disabled)
    inv = collect(moto.url, ["kms"]).inventory
    assert statuses(run_check(inv, "kms_cmk_rotation_enabled")) == {on: "PASS", off: "FAIL"}


def test_vpc_flow_logs(moto) -> None:
    ec2 = boto(moto.url, "ec2")
    logged = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    boto(moto.url, "logs").create_log_group(logGroupName="flows")
    ec2.create_flow_logs(ResourceIds=[logged], ResourceType="VPC", TrafficType="REJECT", LogGroupName="flows",
                         DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/flows")
    dark = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    inv = collect(moto.url, ["ec2"]).inventory
    res = statuses(run_check(inv, "vpc_flow_logs_enabled"))
    assert res[logged] == "PASS" and res[dark] == "FAIL"


def test_web_frontends_access_logging(moto) -> None:
    cf = boto(moto.url, "cloudfront")
    on = cf.create_distribution(DistributionConfig={
        "CallerReference": "a", "Comment": "", "Enabled": True, "Origins": CF_ORIGIN, "DefaultCacheBehavior": CF_BEHAVIOR,
        "Logging": {"Enabled": True, "IncludeCookies": False, "Bucket": "logs.s3.amazonaws.com", "Prefix": "cf/"},
    })["Distribution"]["Id"]
    off = cf.create_distribution(DistributionConfig={
        "CallerReference": "b", "Comment": "", "Enabled": True, "Origins": CF_ORIGIN, "DefaultCacheBehavior": CF_BEHAVIOR,
    })["Distribution"]["Id"]
    ec2 = boto(moto.url, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    elb = boto(moto.url, "elbv2")
    logged = elb.create_load_balancer(Name="logged", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    elb.modify_load_balancer_attributes(LoadBalancerArn=logged, Attributes=[
        {"Key": "access_logs.s3.enabled", "Value": "true"}, {"Key": "access_logs.s3.bucket", "Value": "lb-logs"}])
    elb.create_load_balancer(Name="silent", Subnets=subnets)
    api = boto(moto.url, "apigateway")
    rest = api.create_rest_api(name="shop")["id"]
    root = api.get_resources(restApiId=rest)["items"][0]["id"]
    api.put_method(restApiId=rest, resourceId=root, httpMethod="GET", authorizationType="NONE")
    api.put_integration(restApiId=rest, resourceId=root, httpMethod="GET", type="MOCK")
    dep = api.create_deployment(restApiId=rest)["id"]
    api.create_stage(restApiId=rest, stageName="prod", deploymentId=dep)
    api.update_stage(restApiId=rest, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": "arn:aws:logs:us-east-1:123456789012:log-group:api"},
        {"op": "replace", "path": "/accessLogSettings/format", "value": "$context.requestId"}])
    api.create_stage(restApiId=rest, stageName="dev", deploymentId=dep)
    v2 = boto(moto.url, "apigatewayv2")
    http = v2.create_api(Name="h", ProtocolType="HTTP")["ApiId"]
    v2.create_stage(ApiId=http, StageName="live", AccessLogSettings={
        "DestinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:h", "Format": "$context.requestId"})
    v2.create_stage(ApiId=http, StageName="test")

    inv = collect(moto.url, ["cloudfront", "elbv2", "apigateway", "apigatewayv2"]).inventory
    assert statuses(run_check(inv, "cloudfront_distributions_logging_enabled")) == {on: "PASS", off: "FAIL"}
    lbs = {r.resource_arn.split("/")[-2]: str(r.status) for r in run_check(inv, "elbv2_logging_enabled")}
    assert lbs == {"logged": "PASS", "silent": "FAIL"}
    assert statuses(run_check(inv, "apigateway_restapi_logging_enabled")) == {"prod": "PASS", "dev": "FAIL"}
    assert statuses(run_check(inv, "apigatewayv2_api_access_logging_enabled")) == {"live": "PASS", "test": "FAIL"}


def test_classic_elb_access_logging(moto) -> None:
    elb = boto(moto.url, "elb")
    listeners = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}]
    for name in ("logged-clb", "silent-clb"):
        elb.create_load_balancer(LoadBalancerName=name, Listeners=listeners, AvailabilityZones=["us-east-1a"])
    boto(moto.url, "s3").create_bucket(Bucket="clb-logs")
    elb.modify_load_balancer_attributes(LoadBalancerName="logged-clb", LoadBalancerAttributes={
        "AccessLog": {"Enabled": True, "S3BucketName": "clb-logs", "EmitInterval": 5}})
    got = collect(moto.url, ["elb"])
    assert statuses(run_check(got.inventory, "elb_logging_enabled")) == {"logged-clb": "PASS", "silent-clb": "FAIL"}
    from tests.compliance.services.helpers import undeclared_calls

    assert undeclared_calls(["elb"], got.counter) == set()
