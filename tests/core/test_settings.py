"""Stack settings and per-stack detection resolution: one ConfigError line for every bad value."""

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from stacks import make_stack
from trailwatch.contract import MAX_PATTERN_LENGTH
from trailwatch.errors import CatalogError, ConfigError, ConfigErrors, TrailwatchError
from trailwatch.settings import RETENTION_DAYS, declared, is_ip_or_wildcard, parse_settings
from trailwatch.stack import suspicious_ip_pattern


@pytest.mark.parametrize("settings_, message", [
    ({"logRetentionDays": 45}, "config 'trailwatch:logRetentionDays': must be one of 0, 1, 3"),
    ({"logRetentionDays": "ninety"}, "must be a whole number"),
    ({"multiRegionTrail": "maybe"}, "must be true or false"),
    ({"suspiciousIps": ["10.0.0.300"]}, "'10.0.0.300' is not an IPv4/IPv6 address or a CloudWatch wildcard prefix"),
    ({"suspiciousIps": "1.2.3.4"}, "config 'trailwatch:suspiciousIps': must be a YAML/JSON array"),
    ({"retention": 90}, "config 'trailwatch:retention': unknown key"),
    ({"aws:region": "moon-1"}, "must be an AWS region"),
    ({"disableDetections": ["nope"]}, "config 'trailwatch:disableDetections': unknown detection 'nope'"),
    ({"detectionOverrides": {"root_usage": {"threshold": 0}}}, "detectionOverrides.root_usage'.threshold: must be"),
    ({"detectionOverrides": {"root_usage": {"window": 5}}}, "unknown key 'window'"),
    ({"enableDetections": ["suspicious_source_ips"]}, "must list at least one address"),
    ({"bucketTransitionDays": 400}, "must be less than bucketExpirationDays"),
    ({"cisCompliance": True, "disableDetections": ["root_usage"]}, "CIS detection 'root_usage' is disabled"),
    ({"metricNamespace": "AWS/Mine"}, "must not start with 'AWS/'"),
    ({"exporterImage": "prom/cloudwatch-exporter:latest"}, "must be pinned"),
    ({"exporterImage": "prom/cloudwatch-exporter"}, "must be pinned"),
    ({"alertWindowMinutes": 10}, "'trailwatch:deliveryLagToleranceMinutes': 25 min cannot be honoured: "
                                 "alertWindowMinutes (10) - 2 min + exporterDelaySeconds - scrapeIntervalSeconds "
                                 "leaves 7 min; set alertWindowMinutes to at least 28 or lower the tolerance"),
    ({"alertWindowMinutes": 27}, "set alertWindowMinutes to at least 28"),
    ({"heartbeatMissingMinutes": 31}, "must not exceed alertWindowMinutes (31 > 30)"),
    ({"heartbeatMissingMinutes": 3}, "heartbeatMissingMinutes': must be at least 4 with these timings"),
    ({"runtime": "nomad"}, "must be one of kubernetes, docker, none"),
    ({"customDetections": [{"id": "c1"}]}, "customDetections'[0] 'c1': field 'title' is required"),
])
def test_bad_config_one_line(settings_, message):
    with pytest.raises(TrailwatchError) as err:
        make_stack(**settings_)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_region_is_required():
    with pytest.raises(ConfigError, match="config 'aws:region': is required"):
        parse_settings({})


def test_custom_detection_colliding_with_catalog_metric():
    custom = {"id": "mine", "title": "t", "severity": "info", "pattern": '{ $.a = "b" }', "metric": "RootAccountUsage",
              "description": "d", "runbook": "r"}
    with pytest.raises(CatalogError, match="already used by 'root_usage'"):
        make_stack(customDetections=[custom])


def test_suspicious_ip_pattern_and_length_limit():
    assert suspicious_ip_pattern(("203.0.113.7", "198.51.100.*")) == \
        '{ ($.sourceIPAddress = "203.0.113.7") || ($.sourceIPAddress = "198.51.100.*") }'
    many = tuple(f"203.0.113.{i}" for i in range(40))
    with pytest.raises(ConfigError) as err:
        suspicious_ip_pattern(many)
    message = str(err.value)
    assert "AWS allows 1024" in message and "40 entries given" in message
    fits = int(message.split("the first ")[1].split(" ")[0])
    assert len(suspicious_ip_pattern(many[:fits])) <= MAX_PATTERN_LENGTH
    with pytest.raises(ConfigError):
        suspicious_ip_pattern(many[: fits + 1])


def test_pulumi_yaml_declares_every_project_setting(repo_root):
    project = yaml.safe_load((repo_root / "Pulumi.yaml").read_text())
    declared_keys = {f.metadata["key"]: f.metadata for f in declared() if ":" not in f.metadata["key"]}
    assert set(project["config"]) == set(declared_keys)
    for key, meta in declared_keys.items():
        entry = project["config"][key]
        assert entry["description"] == meta["description"], key
        if meta["kind"] != "object" and key not in ("customDetections", "exceptions"):  # arrays of objects: untyped
            assert entry["type"] == meta["kind"], key
        if "default" in entry:
            assert entry["default"] == meta["default"], key
        assert entry.get("secret", False) == meta["secret"], key


# --- properties -----------------------------------------------------------------------------------------------

octet = st.integers(0, 255)
ipv4 = st.tuples(octet, octet, octet, octet).map(lambda t: ".".join(map(str, t)))
wildcard = st.tuples(octet, octet).map(lambda t: f"{t[0]}.{t[1]}.*")
detection_ids = ["unauthorized_api_calls", "root_usage", "vpc_changes", "nacl_changes", "iam_policy_changes"]

valid_settings = st.fixed_dictionaries({}, optional={
    "logRetentionDays": st.sampled_from(RETENTION_DAYS),
    "multiRegionTrail": st.booleans(),
    "suspiciousIps": st.lists(st.one_of(ipv4, wildcard), min_size=1, max_size=5),
    "disableDetections": st.lists(st.sampled_from(detection_ids), unique=True, max_size=3),
    "detectionOverrides": st.dictionaries(st.sampled_from(detection_ids), st.fixed_dictionaries(
        {}, optional={"threshold": st.integers(1, 100), "severity": st.sampled_from(["critical", "info"])}), max_size=2),
    "metricNamespace": st.from_regex(r"[A-Z][A-Za-z0-9]{0,20}", fullmatch=True),
})


@settings(max_examples=60, deadline=None)
@given(valid_settings)
def test_valid_configs_always_resolve(config):
    stack = make_stack(**config)
    ids = [d.id for d in stack.detections]
    assert len(ids) == len(set(ids))
    assert not set(config.get("disableDetections", [])) & set(ids)
    for det in stack.detections:
        assert det.pattern and det.namespace == config.get("metricNamespace", "CloudTrailMetrics")


invalid_settings = st.one_of(
    st.fixed_dictionaries({"logRetentionDays": st.integers(-5, 4000).filter(lambda n: n not in RETENTION_DAYS)}),
    st.fixed_dictionaries({"suspiciousIps": st.lists(st.text(min_size=1, max_size=12).filter(
        lambda s: not is_ip_or_wildcard(s)), min_size=1, max_size=3)}),
    st.fixed_dictionaries({"disableDetections": st.lists(st.text(min_size=1, max_size=10).filter(
        lambda s: s not in detection_ids), min_size=1, max_size=2)}),
    st.fixed_dictionaries({"detectionOverrides": st.fixed_dictionaries({"root_usage": st.fixed_dictionaries(
        {"threshold": st.one_of(st.integers(max_value=0), st.text(max_size=3))})})}),
    st.fixed_dictionaries({"customDetections": st.lists(st.dictionaries(st.text(max_size=8), st.text(max_size=8),
                                                                        max_size=4), min_size=1, max_size=2)}),
    st.fixed_dictionaries({"metricNamespace": st.text(max_size=20).filter(
        lambda s: not s[:1].isalpha() or not s.isascii() or any(c in s for c in " $%&*"))}),
)


@settings(max_examples=80, deadline=None)
@given(invalid_settings)
def test_invalid_configs_fail_with_the_documented_error_type_only(config):
    with pytest.raises(TrailwatchError) as err:
        make_stack(**config)
    assert isinstance(err.value, (ConfigError, CatalogError))
    lines = err.value.errors if isinstance(err.value, ConfigErrors) else [str(err.value)]
    assert lines and all(line and "\n" not in line for line in lines)


def test_the_tolerance_fits_exactly_in_the_lag_budget():
    # W - 60 s + delay - 60 s (filter) - scrape: 28 min with a 60 s scrape leaves exactly 25 min.
    assert make_stack(alertWindowMinutes=28, heartbeatMissingMinutes=26).settings.alert_window_minutes == 28
    # A longer delay buys tolerance second for second; a slower scrape costs it.
    assert make_stack(alertWindowMinutes=27, heartbeatMissingMinutes=26, exporterDelaySeconds=60)
    with pytest.raises(ConfigError, match="at least 29"):
        make_stack(alertWindowMinutes=28, heartbeatMissingMinutes=26, scrapeIntervalSeconds=120)
    assert make_stack(alertWindowMinutes=5, deliveryLagToleranceMinutes=2, heartbeatMissingMinutes=4)


@pytest.mark.parametrize("name, ok", [("dev", True), ("prod.eu", True), ("a_-b", False), ("prod.", False),
                                      ("x" * 117, True), ("x" * 118, False)])  # "trailwatch-" + 117 = 128
def test_stack_names_must_give_a_valid_cloudtrail_name(name, ok):
    if ok:
        assert make_stack(name).name == name
    else:
        with pytest.raises(ConfigError, match=f"stack '{name[:20]}.*is not a valid CloudTrail name"):
            make_stack(name)
