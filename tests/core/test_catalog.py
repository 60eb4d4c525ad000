"""Catalog validation: every bad entry fails with one CatalogError line naming the detection and field."""

import copy

import pytest
import yaml

from trailwatch.catalog import DEFAULT_CATALOG, load_catalog, parse_detection
from trailwatch.errors import CatalogError

GOOD = {"id": "x_test", "title": "T", "severity": "high", "pattern": '{ $.eventName = "X" }', "metric": "XTest",
        "description": "d", "runbook": "r"}


def write_catalog(tmp_path, entries):
    path = tmp_path / "detections.yaml"
    path.write_text(yaml.safe_dump({"detections": entries}))
    return path


def test_shipped_catalog_loads_with_guide_cis_and_heartbeat():
    catalog = load_catalog()
    ids = {d.id for d in catalog}
    assert {"access_denied", "console_login_failures", "suspicious_source_ips", "cloudtrail_heartbeat"} <= ids
    assert sum(1 for d in catalog if d.is_cis) == 15
    assert sum(1 for d in catalog if d.heartbeat) == 1
    assert {d.security_hub_control for d in catalog if d.security_hub_control} == {f"CloudWatch.{n}" for n in range(1, 15)}


@pytest.mark.parametrize("change, message", [
    ({"severity": "urgent"}, "field 'severity' must be one of critical, high, warning, info"),
    ({"id": "Bad-Id"}, "field 'id' must match"),
    ({"metric": "1bad"}, "field 'metric' must start with a letter"),
    ({"namespace": "AWS/Logs"}, "field 'namespace' must not start with 'AWS/'"),
    ({"threshold": 0}, "field 'threshold' must be a whole number >= 1"),
    ({"threshold": True}, "field 'threshold' must be a whole number >= 1"),
    ({"pattern": "{ $.a = " + "x" * 1100 + " }"}, "AWS allows at most 1024"),
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"title": ""}, "field 'title' is required"),
    ({"security_hub_control": "CIS.1"}, "field 'security_hub_control' must look like CloudWatch.N"),
    ({"enabled": "yes"}, "field 'enabled' must be true or false"),
    ({"target_parameters": "bucketName"}, "field 'target_parameters' must be a non-empty list"),
    ({"target_parameters": []}, "field 'target_parameters' must be a non-empty list"),
    ({"target_parameters": ["bucket-name"]}, "'target_parameters' 'bucket-name' is not a requestParameters member"),
    ({"target_parameters": ["a.b.c.d"]}, "at most 3 names joined by '.'"),
    ({"target_parameters": ["name", "name"]}, "field 'target_parameters' names a member twice"),
    ({"target_parameters": [f"m{i}" for i in range(13)]}, "field 'target_parameters' has 13 members; at most 12"),
    ({"target_parameters": [7]}, "field 'target_parameters' must be member names (got 7)"),
])
def test_bad_entries(change, message):
    raw = {**GOOD, **change}
    with pytest.raises(CatalogError) as err:
        parse_detection(raw, "detections.yaml detection #1")
    text = str(err.value)
    assert message in text
    assert "\n" not in text
    if "id" not in change:
        assert "'x_test'" in text


@pytest.mark.parametrize("member", [
    "policyDocument", "assumeRolePolicyDocument", "secretString", "SecretBinary", "password", "newPassword",
    "bucketPolicy", "policy", "content", "userData", "privateKey", "sSHPublicKey", "sessionToken",
    "certificateBody", "value", "parameters", "environment", "deliveryChannel.password", "configuration.Policy",
])
def test_target_members_that_may_hold_a_document_or_a_secret_are_refused_at_load_time(member):
    with pytest.raises(CatalogError) as err:
        parse_detection({**GOOD, "target_parameters": ["bucketName", member]}, "detections.yaml detection #1")
    assert str(err.value) == (f"detections.yaml detection #1 'x_test': field 'target_parameters' {member!r} may "
                              "hold a policy document or a secret; only names and ids may be shown")


def test_shipped_target_members_are_names_and_ids_where_cloudtrail_names_the_target():
    targets = {d.id: d.target_parameters for d in load_catalog()}
    assert targets["cloudtrail_config_changes"] == ("name",)
    assert targets["cmk_disable_or_deletion"] == ("keyId",)
    assert targets["s3_bucket_policy_changes"] == ("bucketName",)
    assert {"policyArn", "roleName", "userName", "groupName"} <= set(targets["iam_policy_changes"])
    assert "groupId" in targets["security_group_changes"] and "networkAclId" in targets["nacl_changes"]
    assert "routeTableId" in targets["route_table_changes"] and "vpcId" in targets["vpc_changes"]
    # Detections about who called, not what was changed, name no target (any API call can match them).
    assert not any(targets[i] for i in ("root_usage", "unauthorized_api_calls", "console_auth_failures",
                                        "console_signin_without_mfa", "cloudtrail_heartbeat"))


def test_pattern_and_pattern_from_are_exclusive():
    with pytest.raises(CatalogError, match="exactly one of 'pattern' or 'pattern_from'"):
        parse_detection({**GOOD, "pattern_from": "suspicious_ips"}, "d")
    raw = dict(GOOD)
    del raw["pattern"]
    with pytest.raises(CatalogError, match="exactly one of"):
        parse_detection(raw, "d")


@pytest.mark.parametrize("pattern", ['{ $.eventName = "X"', '{ ($.a = 1 }', '[a, b', '{ $.a = "x }'])
def test_unbalanced_patterns_rejected_with_position(pattern):
    with pytest.raises(CatalogError) as err:
        parse_detection({**GOOD, "pattern": pattern}, "d")
    assert "field 'pattern' is invalid" in str(err.value)
    assert "position" in str(err.value)


def test_duplicate_ids_metrics_and_exported_names(tmp_path):
    other = {**GOOD, "id": "y_test", "metric": "YTest"}
    with pytest.raises(CatalogError, match="'x_test': field 'id' is duplicated"):
        load_catalog(write_catalog(tmp_path, [GOOD, {**GOOD, "metric": "Other"}]))
    with pytest.raises(CatalogError, match="field 'metric' CloudTrailMetrics/XTest is already used by 'x_test'"):
        load_catalog(write_catalog(tmp_path, [GOOD, {**other, "metric": "XTest"}]))
    # XTest and Xtest both export as cloudtrailmetrics_xtest_sum: the exporter would break the scrape.
    with pytest.raises(CatalogError, match="exports as cloudtrailmetrics_xtest_sum, the same Prometheus name as .x_test."):
        load_catalog(write_catalog(tmp_path, [GOOD, {**other, "metric": "Xtest"}]))


def test_unreadable_and_malformed_catalog_files(tmp_path):
    with pytest.raises(CatalogError, match="cannot read catalog"):
        load_catalog(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("detections: [\n")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(bad)
    bad.write_text("- 1\n")
    with pytest.raises(CatalogError, match="must be a mapping with a 'detections' list"):
        load_catalog(bad)


def test_shipped_catalog_file_round_trips_every_field():
    raw = yaml.safe_load(DEFAULT_CATALOG.read_text())["detections"]
    parsed = {d.id: d for d in load_catalog()}
    for entry in raw:
        det = parsed[entry["id"]]
        for key, value in entry.items():
            if isinstance(value, list):
                value = tuple(value)
            assert getattr(det, key) == (value.strip() if isinstance(value, str) and key != "pattern" else value), key
    assert copy.deepcopy(raw) == raw
