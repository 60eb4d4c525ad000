"""Metric filters and Security Hub alarms, asserted on the real program's registrations."""

from pathlib import Path

import pytest
import yaml

from stacks import deployer_exception, make_stack, run_stack
from trailwatch.stack import stack_excepted_filters
from trailwatch.catalog import DEFAULT_CATALOG

FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
REFERENCE = "cis_securityhub_filters.yaml"  # copied verbatim from the shared reference
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def rec():
    return run_stack()


def reference_patterns():
    doc = yaml.safe_load((FIXTURES / REFERENCE).read_text())
    return {c["id"]: c["pattern"] for c in doc["controls"]}


def test_one_filter_per_enabled_detection(rec):
    stack = make_stack()
    filters = rec.of_type(FILTER)
    assert sorted(f.inputs["name"] for f in filters) == sorted(f"trailwatch-test-{d.id}" for d in stack.detections)
    for f in filters:
        t = f.inputs["metricTransformation"]
        assert (t["value"], t["defaultValue"], t["namespace"]) == ("1", "0", "CloudTrailMetrics")
        assert "dimensions" not in t


def test_cis_patterns_are_byte_identical_to_security_hub(rec):
    expected = reference_patterns()
    deployed = {f.inputs["name"].removeprefix("trailwatch-test-"): f.inputs["pattern"] for f in rec.of_type(FILTER)}
    assert len(expected) == 15
    for ident, pattern in expected.items():
        assert deployed[ident] == pattern, ident


def test_catalog_cis_entries_match_the_reference():
    catalog = yaml.safe_load(DEFAULT_CATALOG.read_text())["detections"]
    doc = yaml.safe_load((FIXTURES / REFERENCE).read_text())
    by_id = {d["id"]: d for d in catalog}
    for control in doc["controls"]:
        entry = by_id[control["id"]]
        assert entry["pattern"] == control["pattern"]
        assert entry.get("security_hub_control") == control.get("security_hub_control")
        assert entry["cis"] == {v: c["id"] for v, c in control["cis"].items()}


def test_guide_detections_present_with_the_guides_patterns():
    by_id = {d.id: d for d in make_stack(enableDetections=["access_denied", "console_login_failures"]).detections}
    assert by_id["access_denied"].pattern == '{ $.errorCode = "AccessDenied" }'
    assert by_id["console_login_failures"].pattern == \
        '{ ($.eventName = "ConsoleLogin") && ($.errorMessage = "Failed authentication") }'


def test_disable_and_override_and_custom_detections():
    custom = {"id": "s3_public_read", "title": "Public ACL", "severity": "high", "metric": "S3PublicAcl",
              "pattern": '{ $.requestParameters.x-amz-acl = "public-read" }', "description": "d", "runbook": "r"}
    stack = make_stack(disableDetections=["vpc_changes"], customDetections=[custom],
                       detectionOverrides={"root_usage": {"threshold": 2, "severity": "high"}})
    by_id = {d.id: d for d in stack.detections}
    assert "vpc_changes" not in by_id
    assert by_id["root_usage"].threshold == 2 and by_id["root_usage"].severity == "high"
    assert by_id["s3_public_read"].namespace == "CloudTrailMetrics"


def test_no_alarms_by_default(rec):
    assert rec.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") == []
    assert rec.of_type("aws:sns/topic:Topic") == []


def test_security_hub_alarms_one_per_cis_detection_on_an_encrypted_topic():
    rec = run_stack(securityHubAlarms=True, alarmEmails=["secops@example.com"])
    alarms = rec.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) == 15
    assert all(a.inputs["name"].startswith("trailwatch-test-") for a in alarms)  # per stack: names are account-wide
    for alarm in alarms:
        i = alarm.inputs
        assert (i["statistic"], i["period"], i["threshold"], i["evaluationPeriods"]) == ("Sum", 300, 1, 1)
        assert i["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert len(i["alarmActions"]) == 1
    topic = rec.one("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
    keys = rec.of_type("aws:kms/key:Key")
    assert all(k.inputs["enableKeyRotation"] for k in keys) and len(keys) == 2
    (sub,) = rec.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert (sub.inputs["protocol"], sub.inputs["endpoint"]) == ("email", "secops@example.com")


def test_exceptions_add_filters_and_leave_the_security_hub_filters_and_alarms_byte_identical():
    """Compliance untouched: with exceptions, every detection filter and alarm is registered exactly as without;
    each (detection, exception) pair adds one filter with its own metric, parented to the component."""
    plain = run_stack(securityHubAlarms=True)
    tuned = run_stack(securityHubAlarms=True, exceptions=[
        deployer_exception(["iam_policy_changes", "security_group_changes"])])
    stack = make_stack(securityHubAlarms=True,
                       exceptions=[deployer_exception(["iam_policy_changes", "security_group_changes"])])
    by_name = {f.inputs["name"]: f.inputs for f in tuned.of_type(FILTER)}
    for f in plain.of_type(FILTER):
        assert by_name.pop(f.inputs["name"]) == f.inputs
    alarms = "aws:cloudwatch/metricAlarm:MetricAlarm"
    assert (sorted((a.inputs for a in tuned.of_type(alarms)), key=lambda a: a["name"])
            == sorted((a.inputs for a in plain.of_type(alarms)), key=lambda a: a["name"]))
    expected = {f"trailwatch-test-{f.name}": f for f in stack_excepted_filters(stack)}
    assert set(by_name) == set(expected) and len(expected) == 2
    for name, inputs in by_name.items():
        f = expected[name]
        assert inputs["pattern"] == f.pattern and len(f.pattern) <= 1024
        assert inputs["metricTransformation"] == {"name": f.metric, "namespace": "CloudTrailMetrics", "value": "1",
                                                  "defaultValue": "0", "unit": "Count"}
    parents = {r.parent for r in tuned.of_type(FILTER)}
    assert len(parents) == 1 and "MetricFilterSet" in next(iter(parents))


def test_exception_arguments_are_checked_like_the_stack_key():
    from components import MetricFilterSetArgs
    from trailwatch.errors import ConfigError
    args = MetricFilterSetArgs(log_group_name="lg", exceptions=[deployer_exception(["root_usage"])])
    with pytest.raises(ConfigError, match=r"^MetricFilterSet: exceptions\[0\]\.detections: "
                                          r"'root_usage' takes no exceptions"):
        args.excepted_filters(args.detections())
