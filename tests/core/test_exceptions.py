"""Noise exceptions: the deployed filters count exactly what the reference semantics except, within AWS's limits.

The reference (``ExceptionRule.holds``) is plain Python: a dotted path, a string compared with ``fnmatch``-like
wildcards or an ``ipaddress`` network. The deployed answer is what CloudWatch would count: the detection's own
filter minus each exception filter, both evaluated by the filter-pattern engine on the event's raw JSON text.
"""

from __future__ import annotations

import ipaddress
import json
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from stacks import deployer_exception, in_days, make_stack

from trailwatch import exceptions as exc
from trailwatch.catalog import load_catalog
from trailwatch.contract import MAX_FILTERS_PER_LOG_GROUP, MAX_PATTERN_LENGTH
from trailwatch.errors import ConfigError
from trailwatch.filterpattern import compile_pattern
from trailwatch.stack import stack_excepted_filters

ISSUER = "userIdentity.sessionContext.sessionIssuer.arn"
CATALOG = {d.id: d for d in load_catalog()}


def deployed_count(det_pattern: str, rules: list[exc.ExceptionRule], events: list[dict]) -> int:
    """What CloudWatch pages on: the detection filter's count minus every exception filter's count."""
    lines = [json.dumps(e, ensure_ascii=True) for e in events]
    total = sum(compile_pattern(det_pattern).matches(line) for line in lines)
    for rule in rules:
        total -= sum(compile_pattern(exc.excepted_pattern(det_pattern, rule)).matches(line) for line in lines)
    return total


def reference_count(det_pattern: str, rules: list[exc.ExceptionRule], events: list[dict]) -> int:
    pattern = compile_pattern(det_pattern)
    return sum(1 for e in events if pattern.matches(e) and not any(r.holds(e) for r in rules))


def rule(index: int, match: dict, detections=("unauthorized_api_calls",)) -> exc.ExceptionRule:
    errors, parsed = exc.parse_entry(index, {"detections": list(detections), "reason": "r", "owner": "o",
                                             "expires": in_days(30), "match": match})
    assert not errors, errors
    return parsed


# --- generated events and exceptions -------------------------------------------------------------------------

ROLES = ["gha-deployer", "gha-deployer-2", "DatadogIntegrationRole", "AWSServiceRoleForConfig", "ops"]
ACCOUNTS = ["111122223333", "999988887777"]
AGENTS = ["pulumi-aws/6.1 (pulumi)", "aws-cli/2.15.0 Python/3.11", "console.amazonaws.com", 'quote"and\\slash',
          "pulumi\u00e9/7", "Boto3/1.34"]
IPS = ["4.175.114.9", "4.175.115.9", "20.57.79.200", "203.0.113.5", "ec2.amazonaws.com", "2001:db8::1"]


def arn(account: str, role: str) -> str:
    return f"arn:aws:iam::{account}:role/{role}"


@st.composite
def events(draw) -> dict:
    """Unauthorized-call events whose exception-relevant fields may be absent, null, numbers, objects or strings
    with escapes (serialised with ``\\u`` escapes, so the engine decodes what the reference reads directly)."""
    event = {"eventVersion": "1.08", "errorCode": draw(st.sampled_from(["AccessDenied", "Client.UnauthorizedOperation",
                                                                          "ThrottlingException"]))}
    issuer = draw(st.one_of(st.none(), st.just("absent"), st.just({"nested": 1}), st.integers(0, 9),
                            st.builds(arn, st.sampled_from(ACCOUNTS), st.sampled_from(ROLES))))
    if issuer != "absent":
        event["userIdentity"] = {"type": "AssumedRole", "sessionContext": {"sessionIssuer": {"arn": issuer}}}
    for key, values in (("userAgent", AGENTS), ("sourceIPAddress", IPS)):
        value = draw(st.one_of(st.just("absent"), st.none(), st.sampled_from(values)))
        if value != "absent":
            event[key] = value
    return event


@st.composite
def exception_sets(draw) -> list[exc.ExceptionRule]:
    """Up to three exceptions on one detection, each naming a different role (so they never overlap), some with
    a user-agent wildcard or an IP range."""
    roles = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True))
    rules = []
    for i, role in enumerate(roles):
        match = {ISSUER: arn(draw(st.sampled_from(ACCOUNTS)), role)}
        if draw(st.booleans()):
            match["userAgent"] = draw(st.sampled_from(["*pulumi*", "aws-cli/*", "*amazonaws.com", "Boto3/1.34"]))
        if draw(st.booleans()):
            match["sourceIPAddress"] = draw(st.sampled_from(
                [["4.175.114.0/24"], ["4.175.114.0/23", "20.57.79.192/28"], "203.0.113.5", "ec2.amazonaws.com"]))
        rules.append(rule(i, match))
    return rules


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exception_sets(), st.lists(events(), min_size=1, max_size=25))
def test_deployed_filters_count_exactly_what_the_reference_excepts(rules, batch):
    pattern = CATALOG["unauthorized_api_calls"].pattern
    assert deployed_count(pattern, rules, batch) == reference_count(pattern, rules, batch)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab*", max_size=5), min_size=2, max_size=2), st.text(alphabet="ab", max_size=6))
def test_globs_meet_is_never_wrong_when_it_says_disjoint(globs, text):
    a, b = globs
    assume(a.strip("*") == "" or "*" not in a.strip("*"))
    both = exc._glob_match(a, text) and exc._glob_match(b, text)
    if both:
        assert exc._globs_meet(a, b)


@pytest.mark.parametrize("a,b,meet", [("a*", "ab*", True), ("a*", "b*", False), ("*a", "*b", False),
                                      ("a*", "*b", True), ("abc", "a*c", True), ("abc", "abd", False)])
def test_globs_meet_examples(a, b, meet):
    assert exc._globs_meet(a, b) is meet


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["10.1.0.0/16", "10.1.4.0/22", "10.1.2.0/24", "10.1.2.128/28", "10.1.2.3/32"]),
       st.ip_addresses(v=4).map(str) | st.sampled_from(["10.1.2.130", "10.1.7.1", "10.1.2.3"]))
def test_cidr_globs_match_exactly_the_addresses_in_the_network(cidr, ip):
    inside = ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)
    assert any(exc._glob_match(g, ip) for g in exc.cidr_globs(cidr)) is inside


# --- semantics pinned by example -----------------------------------------------------------------------------

def test_absent_field_never_holds_and_foreign_account_role_is_not_excepted():
    deploy = rule(0, {ISSUER: arn("111122223333", "gha-deployer"), "userAgent": "*pulumi-aws/*"})
    ours = {"userIdentity": {"sessionContext": {"sessionIssuer": {"arn": arn("111122223333", "gha-deployer")}}},
            "userAgent": "pulumi-aws/6 x"}
    assert deploy.holds(ours)
    assert not deploy.holds({**ours, "userAgent": None})
    assert not deploy.holds({k: v for k, v in ours.items() if k != "userAgent"})
    foreign = json.loads(json.dumps(ours).replace("111122223333", "999988887777"))
    assert not deploy.holds(foreign)
    pattern = exc.excepted_pattern(CATALOG["iam_policy_changes"].pattern, deploy)
    assert "!=" not in pattern and "NOT EXISTS" not in pattern


def test_an_expired_exception_is_refused_and_one_ending_soon_warns():
    with pytest.raises(ConfigError, match=r"exceptions'\[0\]\.expires: .* expired on .* \(owner platform-team\)"):
        make_stack(exceptions=[deployer_exception(["iam_policy_changes"], days=-1)])
    stack = make_stack(exceptions=[deployer_exception(["iam_policy_changes"], days=3)])
    assert len(stack.warnings) == 1 and "in 3 day(s)" in stack.warnings[0]
    assert make_stack(exceptions=[deployer_exception(["iam_policy_changes"], days=0)]).exceptions


REFUSALS = [
    ({"reason": ""}, "reason: is required"),
    ({"owner": None}, "owner: is required"),
    ({"expires": "31/05/2027"}, "expires: is required, a date YYYY-MM-DD"),
    ({"expires": in_days(400)}, "more than maxExceptionDays (365) ahead"),
    ({"match": {}}, "match: must be a non-empty mapping"),
    ({"match": {"userAgent": "*"}}, "matches every value"),
    ({"match": {"eventName": "PutRolePolicy", "awsRegion": "us-east-1"}}, "names only broad classes"),
    ({"detections": ["root_usage"]}, "'root_usage' takes no exceptions"),
    ({"detections": ["cloudtrail_heartbeat"]}, "'cloudtrail_heartbeat' takes no exceptions"),
    ({"detections": ["no_such"]}, "unknown detection 'no_such'"),
    ({"match": {"sourceIPAddress": "4.175.114.1/24"}}, "is not a valid CIDR"),
    ({"match": {"sourceIPAddress": "4.0.0.0/8"}}, "too broad"),
    ({"match": {"userAgent": "pulu*mi"}}, "'*' inside"),
    ({"match": {ISSUER: "arn:aws:iam::*:role/gha-deployer"}}, "has a '*' inside"),
    ({"match": {ISSUER: "arn:aws:iam::1111:role/gha-deployer"}}, "whole IAM/STS ARN with its 12-digit account"),
    ({"match": {ISSUER: "arn:aws:iam::111122223333:*"}}, "whole IAM/STS ARN"),
    ({"match": {ISSUER: "gha-deployer"}}, "whole IAM/STS ARN"),
    ({"match": {"userAgent": 'x"y'}}, "quote, backslash or control character"),
]


@pytest.mark.parametrize("change,message", REFUSALS, ids=[m for _, m in REFUSALS])
def test_every_guard_rail_refuses_with_one_line(change, message):
    entry = {**deployer_exception(["iam_policy_changes"]), **change}
    with pytest.raises(ConfigError) as info:
        make_stack(exceptions=[entry])
    text = str(info.value)
    assert message in text and "\n" not in text and text.startswith("config 'trailwatch:exceptions")


def test_overlapping_exceptions_are_refused_naming_both():
    a = deployer_exception(["iam_policy_changes"])
    b = {**deployer_exception(["iam_policy_changes"]), "reason": "other",
         "match": {ISSUER: arn("111122223333", "gha-deployer"), "userAgent": "*aws-cli*"}}
    with pytest.raises(ConfigError, match=r"exception 0 .* and exception 1 .* can both match one event of "
                                          r"'iam_policy_changes'"):
        make_stack(exceptions=[a, b])
    disjoint = {**b, "match": {ISSUER: arn("111122223333", "other-role"), "userAgent": "*aws-cli*"}}
    assert len(make_stack(exceptions=[a, disjoint]).exceptions) == 2


# --- capacity -------------------------------------------------------------------------------------------------

def principal_exceptions(detections: list[str], count: int, start: int = 0) -> list[dict]:
    """``count`` exceptions a user would write: each a different role ARN plus a user agent or an IP range."""
    out = []
    for i in range(start, start + count):
        extra = {"userAgent": f"*deploy-tool-{i:02d}/*"} if i % 2 else {"sourceIPAddress": [f"198.51.{i}.0/24"]}
        out.append({"detections": detections, "reason": f"automation {i}", "owner": "platform-team",
                    "expires": in_days(90),
                    "match": {ISSUER: f"arn:aws:iam::111122223333:role/service-automation-{i:02d}", **extra}})
    return out


@pytest.mark.parametrize("detection", ["iam_policy_changes", "organizations_changes"])
def test_ten_exceptions_fit_on_the_longest_catalog_patterns(detection):
    stack = make_stack(enableDetections=["organizations_changes"], exceptions=principal_exceptions([detection], 10))
    filters = stack_excepted_filters(stack)
    assert len(filters) == 10
    assert max(len(f.pattern) for f in filters) <= MAX_PATTERN_LENGTH
    for f in filters:
        compile_pattern(f.pattern)
        assert f.pattern.startswith("{ (" + CATALOG[detection].pattern.strip()[1:-1].strip() + ") && (")


def test_forty_exceptions_across_a_stack_stay_within_the_log_groups_filters():
    detections = ["iam_policy_changes", "organizations_changes", "security_group_changes", "unauthorized_api_calls"]
    entries = [e for i, det in enumerate(detections) for e in principal_exceptions([det], 10, start=10 * i)]
    stack = make_stack(enableDetections=["organizations_changes"], exceptions=entries)
    assert len(stack.exceptions) == 40
    assert len(stack.detections) + len(stack_excepted_filters(stack)) <= MAX_FILTERS_PER_LOG_GROUP


def test_past_capacity_names_the_detection_the_exception_and_the_limit():
    wide = principal_exceptions(["organizations_changes"], 1)[0]
    wide["match"]["userAgent"] = ["*" + "x" * 40 + f"{i}*" for i in range(6)]
    with pytest.raises(ConfigError) as info:
        make_stack(enableDetections=["organizations_changes"], exceptions=[wide])
    text = str(info.value)
    assert re.search(r"exception 0 \(\w{8}, 'automation 0'\) on 'organizations_changes' makes a \d+-character filter "
                     r"pattern, AWS allows 1024", text) and "\n" not in text
    many = [e for i in range(0, 96, 12) for e in principal_exceptions(
        ["iam_policy_changes", "organizations_changes", "security_group_changes", "unauthorized_api_calls",
         "nacl_changes", "vpc_changes", "route_table_changes", "network_gateway_changes", "aws_config_changes",
         "s3_bucket_policy_changes", "cmk_disable_or_deletion", "cloudtrail_config_changes"], 1, start=i)]
    with pytest.raises(ConfigError, match=r"metric filters on the log group .* AWS allows 100"):
        make_stack(enableDetections=["organizations_changes"], exceptions=many)
