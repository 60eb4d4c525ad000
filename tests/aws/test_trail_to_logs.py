"""Security properties of the CloudTrail half, asserted on what the real program registers under mocks."""

import json
import re

import pytest

from stacks import policy_doc, run_stack

BUCKET = "aws:s3/bucket:Bucket"
TRAIL = "aws:cloudtrail/trail:Trail"


@pytest.fixture(scope="module")
def rec():
    return run_stack()


def test_trail_is_multi_region_validated_encrypted_and_delivers_to_logs(rec):
    trail = rec.one(TRAIL).inputs
    assert trail["isMultiRegionTrail"] is True
    assert trail["includeGlobalServiceEvents"] is True
    assert trail["enableLogFileValidation"] is True
    assert trail["kmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/trailwatch-key-key-id"
    log_group_arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/cloudtrail/trailwatch-test"
    assert trail["cloudWatchLogsGroupArn"] == log_group_arn + ":*"
    assert trail["cloudWatchLogsRoleArn"]


def test_trail_waits_for_the_bucket_policy(rec):
    trail = rec.one(TRAIL)
    policy = rec.one("aws:s3/bucketPolicy:BucketPolicy")
    assert policy.urn in trail.depends_on


def test_bucket_public_access_fully_blocked(rec):
    block = rec.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert block[flag] is True, flag


def test_bucket_encrypted_with_the_trail_key_and_bucket_key(rec):
    sse = rec.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs
    (rule,) = sse["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
    assert rule["bucketKeyEnabled"] is True


def test_bucket_versioned_owned_and_lifecycled(rec):
    assert rec.one("aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"]["status"] == "Enabled"
    owner = rec.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert owner["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    (rule,) = rec.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert rule["expiration"]["days"] == 365
    assert rule["transitions"] == [{"days": 90, "storageClass": "GLACIER"}]


def test_bucket_policy_scopes_cloudtrail_to_this_trail_and_denies_plain_http(rec):
    doc = policy_doc(rec.one("aws:s3/bucketPolicy:BucketPolicy"))
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    trail_arn = "arn:aws:cloudtrail:us-east-1:123456789012:trail/trailwatch-test"
    write = by_sid["AWSCloudTrailWrite"]
    assert write["Action"] == "s3:PutObject"
    assert write["Condition"]["StringEquals"] == {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}
    assert write["Resource"] == ["arn:aws:s3:::trailwatch-bucket-0000000/AWSLogs/123456789012/*"]
    assert by_sid["AWSCloudTrailAclCheck"]["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    deny = by_sid["DenyInsecureTransport"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"arn:aws:s3:::trailwatch-bucket-0000000", "arn:aws:s3:::trailwatch-bucket-0000000/*"} == set(deny["Resource"])


def test_kms_key_rotates_and_its_policy_is_scoped(rec):
    key = rec.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    doc = policy_doc(key)
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    encrypt = by_sid["CloudTrailEncryptsLogs"]
    assert encrypt["Condition"]["StringLike"]["kms:EncryptionContext:aws:cloudtrail:arn"] == \
        "arn:aws:cloudtrail:*:123456789012:trail/*"
    assert encrypt["Condition"]["StringEquals"]["aws:SourceArn"].endswith(":trail/trailwatch-test")
    logs = by_sid["CloudWatchLogsEncryptsLogGroup"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == \
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/cloudtrail/trailwatch-test"


def test_log_group_retention_and_encryption(rec):
    group = rec.one("aws:cloudwatch/logGroup:LogGroup").inputs
    assert group["retentionInDays"] == 90
    assert group["kmsKeyId"].startswith("arn:aws:kms:")
    assert group["name"] == "/aws/cloudtrail/trailwatch-test"


def test_delivery_role_trust_is_this_trail_only(rec):
    doc = policy_doc(rec.one("aws:iam/role:Role"), "assumeRolePolicy")
    (stmt,) = doc["Statement"]
    assert stmt["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert stmt["Condition"]["StringEquals"] == {
        "aws:SourceArn": "arn:aws:cloudtrail:us-east-1:123456789012:trail/trailwatch-test",
        "aws:SourceAccount": "123456789012",
    }


def test_delivery_role_may_only_write_this_log_groups_streams(rec):
    doc = policy_doc(rec.one("aws:iam/rolePolicy:RolePolicy"))
    (stmt,) = doc["Statement"]
    assert sorted(stmt["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert stmt["Resource"] == \
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/cloudtrail/trailwatch-test:log-stream:*"
    assert "*" not in stmt["Resource"].split(":log-stream:")[0]


def test_every_child_is_parented_to_its_component_and_names_are_unique(rec):
    components = {r.urn: r for r in rec.resources if r.type.startswith("trailwatch:index:")}
    for r in rec.resources:
        if r.type.startswith("aws:"):
            assert r.parent in components, f"{r.type} {r.name} is not parented to a component"
            assert r.name.startswith(components[r.parent].name + "-")
    keys = [(r.type, r.name) for r in rec.resources]
    assert len(keys) == len(set(keys))


def test_partition_aware_arns(monkeypatch):
    from trailwatch import mockrun

    china = dict(mockrun._INVOKES)
    china["aws:index/getPartition:getPartition"] = lambda a: {
        "partition": "aws-cn", "dnsSuffix": "amazonaws.com.cn", "reverseDnsPrefix": "cn.com.amazonaws", "id": "aws-cn"}
    monkeypatch.setattr(mockrun, "_INVOKES", china)
    rec = run_stack(**{"aws:region": "cn-north-1"})
    role = policy_doc(rec.one("aws:iam/rolePolicy:RolePolicy"))
    assert role["Statement"][0]["Resource"].startswith("arn:aws-cn:logs:cn-north-1:")
    key = policy_doc(rec.one("aws:kms/key:Key"))
    assert key["Statement"][0]["Principal"] == {"AWS": "arn:aws-cn:iam::123456789012:root"}
    logs = next(s for s in key["Statement"] if s["Sid"] == "CloudWatchLogsEncryptsLogGroup")
    assert logs["Principal"] == {"Service": "logs.cn-north-1.amazonaws.com.cn"}


def test_settings_reach_the_resources():
    rec = run_stack(logRetentionDays=365, multiRegionTrail=False, bucketTransitionDays=0, bucketExpirationDays=0)
    assert rec.one("aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == 365
    assert rec.one(TRAIL).inputs["isMultiRegionTrail"] is False
    assert rec.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration") == []


def test_organization_trail_allows_the_org_prefix():
    rec = run_stack(organizationTrail=True)
    assert rec.one(TRAIL).inputs["isOrganizationTrail"] is True
    write = next(s for s in policy_doc(rec.one("aws:s3/bucketPolicy:BucketPolicy"))["Statement"]
                 if s["Sid"] == "AWSCloudTrailWrite")
    assert any("/AWSLogs/o-exampleorg1/*" in r for r in write["Resource"])


def test_bring_your_own_log_group_creates_no_trail():
    rec = run_stack(existingLogGroupName="/org/cloudtrail")
    created = {r.type for r in rec.resources}
    for absent in (TRAIL, BUCKET, "aws:kms/key:Key", "aws:cloudwatch/logGroup:LogGroup", "aws:iam/role:Role"):
        assert absent not in created
    filters = rec.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    assert filters and {f.inputs["logGroupName"] for f in filters} == {"/org/cloudtrail"}
    assert rec.outputs["logGroupName"] == "/org/cloudtrail"
    assert json.dumps(rec.outputs).count("trailArn") == 0


def test_kms_alias_is_valid_for_stack_names_with_periods():
    # Pulumi stack names may contain '.', CloudTrail trail names too, KMS alias names may not.
    rec = run_stack("prod.eu")
    assert rec.one(TRAIL).inputs["name"] == "trailwatch-prod.eu"
    alias = rec.one("aws:kms/alias:Alias").inputs["name"]
    assert alias == "alias/trailwatch-prod-eu"
    assert re.fullmatch(r"alias/[a-zA-Z0-9/_-]+", alias) and not alias.startswith("alias/aws/")
