"""The CIS / Security Hub CloudWatch metric-filter patterns: they compile, and mean what they should."""

from pathlib import Path

import pytest
import yaml

from trailwatch.errors import PatternError
from trailwatch.filterpattern import PatternSet, compile_pattern

HERE = Path(__file__).resolve().parent
_CANDIDATES = [
    HERE.parent / "fixtures" / "cis_securityhub_filters.yaml",
    HERE.parent.parent.parent / "shared" / "reference" / "cis_securityhub_filters.yaml",
]
REFERENCE = next(p for p in _CANDIDATES if p.exists())
CONTROLS = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))["controls"]
BY_ID = {c["id"]: c for c in CONTROLS}

# The reference copies the CIS PDFs verbatim, typos included.  These three strings are not valid
# filter patterns (AWS would refuse them too): a PDF line-wrap space inside `$.eventNa me` and a
# missing opening quote before AcceptHandshake.  Everything else must compile.
KNOWN_TYPOS = {
    ("iam_policy_changes", "v1.2.0"): 77,
    ("iam_policy_changes", "v3.0.0"): 77,
    ("organizations_changes", "v6.0.0"): 82,
}


def _all_patterns():
    for c in CONTROLS:
        yield c["id"], "security_hub", c["pattern"]
        for version, entry in c.get("cis", {}).items():
            for text in entry["patterns"]:
                yield c["id"], version, text


ALL = list(_all_patterns())


def test_reference_has_the_fifteen_controls():
    assert len(CONTROLS) == 15
    assert sum(1 for c in CONTROLS if c.get("security_hub_control")) == 14


@pytest.mark.parametrize("control,version,text", ALL, ids=[f"{c}-{v}" for c, v, _ in ALL])
def test_compiles(control, version, text):
    position = KNOWN_TYPOS.get((control, version))
    if position is None:
        pattern = compile_pattern(text)
        assert pattern.kind == "json"
        assert pattern.fields
        return
    with pytest.raises(PatternError) as info:
        compile_pattern(text)
    assert info.value.position == position
    assert "expected" in info.value.message


def test_known_typos_are_the_only_failures():
    failing = set()
    for control, version, text in ALL:
        try:
            compile_pattern(text)
        except PatternError:
            failing.add((control, version))
    assert failing == set(KNOWN_TYPOS)


def sh(control_id):
    return compile_pattern(BY_ID[control_id]["pattern"])


def cis(control_id, version):
    return compile_pattern(BY_ID[control_id]["cis"][version]["patterns"][0])


def event(**fields):
    base = {"eventVersion": "1.08", "eventTime": "2024-01-01T00:00:00Z", "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.7", "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"}}
    base.update(fields)
    return base


# -- root usage (CloudWatch.1): NOT EXISTS and != -------------------------------------------------

ROOT = {"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"}


def test_root_usage_matches_root_console_call():
    assert sh("root_usage").matches(event(userIdentity=ROOT, eventName="ListBuckets"))


def test_root_usage_invoked_by_a_service_is_excluded():
    e = event(userIdentity={**ROOT, "invokedBy": "support.amazonaws.com"}, eventName="ListBuckets")
    assert not sh("root_usage").matches(e)


def test_root_usage_service_event_is_excluded():
    assert not sh("root_usage").matches(event(userIdentity=ROOT, eventType="AwsServiceEvent"))


def test_root_usage_needs_event_type_because_not_equal_on_missing_field_is_false():
    e = event(userIdentity=ROOT)
    del e["eventType"]
    assert not sh("root_usage").matches(e)


def test_root_usage_not_root():
    assert not sh("root_usage").matches(event(eventName="ListBuckets"))


def test_root_usage_invoked_by_null_counts_as_existing():
    e = event(userIdentity={**ROOT, "invokedBy": None})
    assert not sh("root_usage").matches(e)


# -- unauthorized API calls (CloudWatch.2): wildcards ---------------------------------------------

@pytest.mark.parametrize("code,expected", [
    ("AccessDenied", True),
    ("AccessDeniedException", True),
    ("Client.UnauthorizedOperation", True),
    ("UnauthorizedOperation", True),
    ("ThrottlingException", False),
    ("accessdenied", False),
    ("XAccessDenied", False),
    ("UnauthorizedOperationX", False),
])
def test_unauthorized_wildcards(code, expected):
    assert sh("unauthorized_api_calls").matches(event(errorCode=code, eventName="DescribeInstances")) is expected


def test_unauthorized_needs_error_code():
    assert not sh("unauthorized_api_calls").matches(event(eventName="DescribeInstances"))


def test_unauthorized_v3_precedence_and_exclusions():
    p = cis("unauthorized_api_calls", "v3.0.0")  # A || B && C && D  ==  A || (B && C && D)
    assert p.matches(event(errorCode="Client.UnauthorizedOperation", sourceIPAddress="delivery.logs.amazonaws.com"))
    assert p.matches(event(errorCode="AccessDenied", eventName="GetObject"))
    assert not p.matches(event(errorCode="AccessDenied", eventName="HeadBucket"))
    assert not p.matches(event(errorCode="AccessDenied", eventName="GetObject", sourceIPAddress="delivery.logs.amazonaws.com"))
    e = event(errorCode="AccessDenied", eventName="GetObject")
    del e["sourceIPAddress"]
    assert not p.matches(e)  # `!=` on the missing sourceIPAddress is false


def test_unauthorized_v14_erratum_matches_nearly_everything():
    p = cis("unauthorized_api_calls", "v1.4.0")
    assert p.matches(event(eventName="DescribeInstances"))
    assert not p.matches(event(eventName="HeadBucket", sourceIPAddress="delivery.logs.amazonaws.com"))


# -- console sign-in without MFA (CloudWatch.3): != on a missing field ----------------------------

def login(mfa="No", identity_type="IAMUser", result="Success", extra=None):
    e = event(eventName="ConsoleLogin", eventSource="signin.amazonaws.com", eventType="AwsConsoleSignIn",
              userIdentity={"type": identity_type}, responseElements={"ConsoleLogin": result},
              additionalEventData={"MobileVersion": "No"} if mfa is None else {"MFAUsed": mfa})
    e.update(extra or {})
    return e


def test_signin_without_mfa():
    p = sh("console_signin_without_mfa")
    assert p.matches(login())
    assert not p.matches(login(mfa="Yes"))
    assert not p.matches(login(identity_type="AssumedRole"))
    assert not p.matches(login(result="Failure"))
    assert not p.matches(login(mfa=None))  # MFAUsed missing: `!=` does not match


def test_signin_without_mfa_cis_two_clause_variant():
    p = cis("console_signin_without_mfa", "v1.2.0")
    assert p.matches(login(identity_type="AssumedRole"))
    assert not p.matches(login(mfa="Yes"))


def test_console_auth_failures_unquoted_and_quoted_values():
    p = sh("console_auth_failures")
    assert p.matches(login(result="Failure", extra={"errorMessage": "Failed authentication"}))
    assert not p.matches(login(result="Failure", extra={"errorMessage": "Failed authentication, again"}))


# -- unquoted values with dots, nested && / || ----------------------------------------------------

def test_cmk_disable_or_deletion():
    p = sh("cmk_disable_or_deletion")
    assert p.matches(event(eventSource="kms.amazonaws.com", eventName="ScheduleKeyDeletion"))
    assert p.matches(event(eventSource="kms.amazonaws.com", eventName="DisableKey"))
    assert not p.matches(event(eventSource="kms.amazonaws.com", eventName="Encrypt"))
    assert not p.matches(event(eventSource="ec2.amazonaws.com", eventName="DisableKey"))
    assert p.required == {"$.eventSource": frozenset({"kms.amazonaws.com"}),
                          "$.eventName": frozenset({"DisableKey", "ScheduleKeyDeletion"})}


def test_organizations_changes_mixed_quoting():
    p = sh("organizations_changes")
    assert p.matches(event(eventSource="organizations.amazonaws.com", eventName="AcceptHandshake"))
    assert p.matches(event(eventSource="organizations.amazonaws.com", eventName="InviteAccountToOrganization"))
    assert not p.matches(event(eventSource="organizations.amazonaws.com", eventName="ListAccounts"))


def test_cloudtrail_changes_is_an_exact_set():
    p = sh("cloudtrail_config_changes")
    assert p.exact == ("$.eventName", frozenset({"CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"}))
    assert p.matches(event(eventName="StopLogging"))
    assert not p.matches(event(eventName="StopLoggingX"))
    assert not p.matches(event(eventName=["StopLogging"]))  # arrays are not value nodes


def test_security_hub_and_cis_strings_agree_on_events():
    samples = [event(eventName=n, eventSource=s, errorCode=c)
               for n in ("CreateVpc", "DeleteRoute", "PutBucketAcl", "StopConfigurationRecorder", "CreateNetworkAcl",
                         "AttachInternetGateway", "AuthorizeSecurityGroupIngress", "DeleteUserPolicy", "GetObject")
               for s in ("s3.amazonaws.com", "config.amazonaws.com", "ec2.amazonaws.com")
               for c in ("AccessDenied",)]
    for cid in ("vpc_changes", "route_table_changes", "s3_bucket_policy_changes", "aws_config_changes",
                "nacl_changes", "network_gateway_changes", "iam_policy_changes"):
        shp = sh(cid)
        for version in ("v1.4.0", "v4.0.0"):
            cp = cis(cid, version)
            for e in samples:
                assert shp.matches(e) == cp.matches(e), (cid, version, e["eventName"], e["eventSource"])


def test_pattern_set_agrees_with_patterns():
    patterns = {c["id"]: c["pattern"] for c in CONTROLS}
    ps = PatternSet(patterns)
    samples = [
        event(userIdentity=ROOT, eventName="ListBuckets"),
        event(errorCode="AccessDenied", eventName="PutBucketAcl", eventSource="s3.amazonaws.com"),
        login(), login(mfa="Yes"),
        event(eventSource="kms.amazonaws.com", eventName="DisableKey"),
        event(eventName="CreateVpc"), event(eventName="Nothing"), {}, {"eventName": 5},
    ]
    for e in samples:
        expected = [name for name, text in patterns.items() if compile_pattern(text).matches(e)]
        assert ps.matching(e) == expected
