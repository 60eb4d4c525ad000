"""The exporter naming function: documented examples, and properties that must hold for any input.

If this function drifts from cloudwatch_exporter's, every alert silently queries a series that does not
exist, so the examples are the exporter's own documented behaviour (field notes §5).
"""

import re

import pytest
from hypothesis import given, settings, strategies as st

from trailwatch.naming import STATISTICS, exporter_job, exporter_metric_name, safe_name, snake_case

VALID = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")


@pytest.mark.parametrize("namespace, metric, statistic, expected", [
    ("CloudTrailMetrics", "AccessDeniedCount", "Sum", "cloudtrailmetrics_access_denied_count_sum"),
    ("CloudTrailMetrics", "SuspiciousIPCalls", "Sum", "cloudtrailmetrics_suspicious_ipcalls_sum"),
    ("AWS/ELB", "HTTPCode_Backend_2XX", "Average", "aws_elb_httpcode_backend_2_xx_average"),
    ("CloudTrailMetrics", "RootAccountUsage", "SampleCount", "cloudtrailmetrics_root_account_usage_sample_count"),
    ("CloudTrailMetrics", "UnauthorizedAPICalls", "Sum", "cloudtrailmetrics_unauthorized_apicalls_sum"),
    ("CloudTrailMetrics", "DisableOrDeleteCMK", "Sum", "cloudtrailmetrics_disable_or_delete_cmk_sum"),
    ("My.App-Metrics", "Login.Failures", "Maximum", "my_app_metrics_login_failures_maximum"),
    ("Sec//Team", "a--b", "Minimum", "sec_team_a_b_minimum"),
    # The suffix is appended after safe(), as the exporter does: a trailing unsafe character leaves "__".
    ("CloudTrailMetrics", "Logins.", "Sum", "cloudtrailmetrics_logins__sum"),
])
def test_documented_examples(namespace, metric, statistic, expected):
    assert exporter_metric_name(namespace, metric, statistic) == expected


def test_default_statistic_is_sum_and_unknown_statistics_fail():
    assert exporter_metric_name("CloudTrailMetrics", "AccessDeniedCount") == "cloudtrailmetrics_access_denied_count_sum"
    with pytest.raises(ValueError, match="statistic must be one of"):
        exporter_metric_name("CloudTrailMetrics", "AccessDeniedCount", "p99")


def test_job_label_is_the_lower_cased_safe_namespace():
    assert exporter_job("CloudTrailMetrics") == "cloudtrailmetrics"
    assert exporter_job("AWS/ELB") == "aws_elb"


# CloudWatch namespaces and metric names as the catalog admits them: a letter, then printable ASCII;
# plus arbitrary text after the first letter, to cover what a looser caller could pass.
letter = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
cloudwatch_name = st.builds(lambda a, b: a + b, letter,
                            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))
any_tail = st.builds(lambda a, b: a + b, letter, st.text(max_size=40))
SAFE_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:"
safe_text = st.builds(lambda a, b: a + b, st.sampled_from(SAFE_CHARS[:52] + "_:"),
                      st.text(alphabet=SAFE_CHARS, max_size=40)).filter(lambda s: "__" not in s)
lower_snake = st.builds(lambda a, b: a + b, st.sampled_from("abcdefghijklmnopqrstuvwxyz"),
                        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_:", max_size=30)) \
    .filter(lambda s: "__" not in s and not s.endswith("_"))


@settings(max_examples=150, deadline=None)
@given(namespace=st.one_of(cloudwatch_name, any_tail), metric=st.one_of(cloudwatch_name, any_tail),
       statistic=st.sampled_from(STATISTICS))
def test_output_is_always_a_valid_prometheus_name(namespace, metric, statistic):
    name = exporter_metric_name(namespace, metric, statistic)
    assert VALID.match(name), name
    assert name.endswith("_" + snake_case(statistic))


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=60))
def test_safe_name_is_idempotent_and_fixes_everything(text):
    once = safe_name(text)
    assert safe_name(once) == once
    assert re.fullmatch(r"[a-zA-Z0-9:_]*", once) and "__" not in once


@settings(max_examples=150, deadline=None)
@given(name=safe_text)
def test_already_safe_names_are_unchanged(name):
    assert safe_name(name) == name
    lowered = name.lower()
    assert snake_case(lowered) == lowered


@settings(max_examples=100, deadline=None)
@given(namespace=lower_snake, metric=lower_snake)
def test_already_exported_style_names_pass_through(namespace, metric):
    # Lower-case snake names are a fixed point: only "_" joins and the statistic suffix are added.
    assert exporter_metric_name(namespace, metric, "Sum") == f"{namespace}_{metric}_sum"
