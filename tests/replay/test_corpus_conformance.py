"""Conformance against CloudTrail records nobody here wrote (tests/fixtures/cloudtrail/, see its NOTICE).

EXPECTED states, for every record of every copied file, which catalog detections' metric filters match
it. Each row was decided by reading the detection's pattern (configs/detections.yaml) and the record's
fields, not by running the engine; the test then checks the engine (Pattern.matches, and PatternSet,
the path replay uses) against the table.

Rules of the table:
  * Records not listed match no detection except the heartbeat.
  * The heartbeat (`{ $.eventVersion = "*" }`) matches every record that has an eventVersion; the
    records without one are listed in NO_EVENT_VERSION.
  * suspicious_source_ips uses the dev stack's example list (203.0.113.66, 198.51.100.*, 2001:db8:bad::1).
  * Upstream labels ("expected" in each row) are the Panther/Sigma rule's verdict, not a metric-filter
    verdict; comments say why the two differ where they do.

Facts of the patterns the rows rely on (AWS's documented semantics, see trailwatch.filterpattern):
  * No CIS/Security Hub filter looks at errorCode except CloudWatch.2: failed calls match as well as
    successful ones (the metric counts attempts).
  * Only CloudWatch.7/8/9 and CIS 4.15 check eventSource; the others match the eventName from any source.
  * `!=` against a missing field does not match (CloudWatch.1 needs eventType present; CloudWatch.3 needs
    additionalEventData.MFAUsed present).
  * `*UnauthorizedOperation` and `AccessDenied*` are whole-value wildcards: `Client.UnauthorizedOperation`
    matches, `VpceAccessDenied` does not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trailwatch.catalog import load_catalog
from trailwatch.filterpattern import PatternSet, compile_pattern
from trailwatch.replay import replay_records
from trailwatch.stack import suspicious_ip_pattern

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cloudtrail"
FILES = ("panther_rule_tests.jsonl", "trailalerts_sigma_tests.jsonl", "stratus_detonation_logs.jsonl",
         "otrf_security_datasets.jsonl", "awsdocs_examples.jsonl")
DEV_SUSPICIOUS_IPS = ("203.0.113.66", "198.51.100.*", "2001:db8:bad::1")

U = "unauthorized_api_calls"       # CloudWatch.2
AD = "access_denied"               # guide: errorCode = "AccessDenied" exactly
MFA = "console_signin_without_mfa"  # CloudWatch.3
ROOT = "root_usage"                # CloudWatch.1
IAM = "iam_policy_changes"         # CloudWatch.4
CT = "cloudtrail_config_changes"   # CloudWatch.5
CAF = "console_auth_failures"      # CloudWatch.6
CLF = "console_login_failures"     # guide: same filter as CloudWatch.6
KMS = "cmk_disable_or_deletion"    # CloudWatch.7
S3 = "s3_bucket_policy_changes"    # CloudWatch.8
CFG = "aws_config_changes"         # CloudWatch.9
SG = "security_group_changes"      # CloudWatch.10
NACL = "nacl_changes"              # CloudWatch.11
GW = "network_gateway_changes"     # CloudWatch.12
RT = "route_table_changes"         # CloudWatch.13
VPC = "vpc_changes"                # CloudWatch.14
ORG = "organizations_changes"      # CIS 4.15
SUS = "suspicious_source_ips"      # guide, dev stack list
HEARTBEAT = "cloudtrail_heartbeat"

NO_EVENT_VERSION = {
    # Panther test events trimmed to the fields their Python rule reads
    ("panther_rule_tests.jsonl", n) for n in (9, 10, 11, 30, 37, 137, 138, 149, 167)
}

# file -> {line (1-based): (eventName, detections other than the heartbeat)}
EXPECTED: dict[str, dict[int, tuple[str, set[str]]]] = {
    "panther_rule_tests.jsonl": {
        1: ("ModifyImageAttribute", {U}),  # errorCode UnauthorizedOperation: the leading * matches ""
        2: ("LeaveOrganization", {ORG, U, AD}),  # failed (AccessDenied) but CIS 4.15 ignores errorCode
        3: ("CreateTrail", {CT}),
        5: ("CreateTrail", {CT}),  # Panther: false (call failed); CloudWatch.5 counts failed calls too
        9: ("ConsoleLogin", set()),  # Panther: true (failure); the event has no errorMessage, which CW.6 needs
        # 10: successful IAM-user ConsoleLogin without additionalEventData: MFAUsed != "Yes" on a missing
        #     field does not match, so no CloudWatch.3
        11: ("ConsoleLogin", {ROOT}),  # root failure without errorMessage: root usage yes, CW.6 no
        12: ("PutBucketLifecycle", {S3}),
        13: ("PutBucketLifecycle", {S3}),
        14: ("PutBucketLifecycle", {S3}),  # Panther: false (rule disabled/long lifecycle); CW.8 matches any
        15: ("PutBucketLifecycle", {S3}),  # same: 730-day rule, still a PutBucketLifecycle on s3
        17: ("StopLogging", {CT}),
        18: ("StartLogging", {CT}),  # Panther: false (only stop matters to it); CW.5 lists StartLogging
        19: ("StopLogging", {CT}),  # failed call (InvalidTrailNameException), still counted
        # 20: MFAUsed "Yes" -> no CloudWatch.3
        21: ("ConsoleLogin", {CAF, CLF}),  # errorMessage "Failed authentication"
        22: ("ListFunctions20150331", {U, AD}),
        # 23: ConsoleLogin by an AssumedRole (SSO): CloudWatch.3 requires userIdentity.type IAMUser
        24: ("PutDeliveryChannel", {CFG}),
        25: ("DeleteDeliveryChannel", {CFG}),  # Panther AWS.ConfigService.Created: false; CW.9 lists it
        26: ("PutDeliveryChannel", {CFG}),  # failed call, still counted
        27: ("PutDeliveryChannel", {CFG}),  # Panther DisabledDeleted: false; CW.9 lists PutDeliveryChannel
        28: ("DeleteDeliveryChannel", {CFG}),
        29: ("DeleteDeliveryChannel", {CFG}),  # failed call, still counted
        # 30: ConsoleLogin with no responseElements: nothing
        31: ("ConsoleLogin", {MFA}),
        32: ("ConsoleLogin", {MFA}),
        33: ("ConsoleLogin", {ROOT}),  # Panther LoginWithoutMFA: true; CW.3 (2022 form) is IAMUser-only
        34: ("ConsoleLogin", {MFA}),  # Panther: false (SAML login); CW.3 sees IAMUser + MFAUsed "No"
        # 35: MFAUsed "Yes"; 36: failed login with no errorMessage (Panther: false too)
        # 37: AssumedRole ConsoleLogin, no MFA data; 38: see below; 39-42: AssumedRole logins
        38: ("ConsoleLogin", {MFA}),
        # 43: Panther LoginWithoutSAML: true; MFAUsed "Yes" so no CloudWatch.3
        44: ("ConsoleLogin", {ROOT}),
        46: ("ConsoleLogin", {ROOT}),  # failed root login: no errorMessage, so no CW.6
        47: ("ConsoleLogin", {ROOT}),  # Panther RootLoginFailed: false (it succeeded); root usage either way
        49: ("DescribeInstanceAttribute", {U}),  # Client.UnauthorizedOperation
        50: ("AttachInternetGateway", {GW}),
        52: ("AttachInternetGateway", {GW}),  # failed (RequestExpired), still counted
        53: ("RunInstances", {U}),
        54: ("AuthorizeSecurityGroupIngress", {SG}),
        55: ("CreateSecurityGroup", {SG}),  # Panther: false (Terraform, not manual); CW.10 ignores the agent
        56: ("AuthorizeSecurityGroupEgress", {SG}),  # same
        57: ("AuthorizeSecurityGroupIngress", {SG}),
        58: ("AuthorizeSecurityGroupIngress", {SG, U}),  # failed with UnauthorizedOperation: both
        59: ("GetPasswordData", {U}),
        # 60: Client.DryRunOperation is neither *UnauthorizedOperation nor AccessDenied*
        61: ("SendSSHPublicKey", {U, AD}),
        62: ("CreateNetworkAclEntry", {NACL}),  # Panther MultiInstanceConnect: "unrelated"; CW.11 matches
        63: ("CreateNetworkAclEntry", {NACL}),
        65: ("CreateNetworkAclEntry", {NACL}),  # failed (InvalidCharacter), still counted
        66: ("CreateRoute", {RT}),
        68: ("CreateRoute", {RT}),  # failed (Blocked), still counted
        69: ("AuthorizeSecurityGroupIngress", {SG}),
        71: ("AuthorizeSecurityGroupIngress", {SG}),  # failed (RequestExpired), still counted
        74: ("CreateVpc", {VPC}),
        76: ("CreateVpc", {VPC}),  # failed (UnknownParameter), still counted
        80: ("AttachRolePolicy", {IAM}),
        81: ("AttachRolePolicy", {IAM}),  # failed (NoSuchEntity), still counted
        83: ("AttachRolePolicy", {IAM}),
        84: ("AttachRolePolicy", {IAM}),  # Panther: false (not AdministratorAccess); CW.4 matches any attach
        85: ("AttachUserPolicy", {IAM}),
        86: ("AttachUserPolicy", {IAM}),  # same
        90: ("AttachUserPolicy", {IAM}),
        91: ("PutUserPolicy", {IAM}),
        93: ("AttachUserPolicy", {IAM}),  # Panther CreateRole: "not created"; still a policy attach
        95: ("AttachUserPolicy", {IAM}),  # Panther CreateUser: "not created"; still a policy attach
        97: ("DeleteGroupPolicy", {IAM}),
        99: ("DeleteGroupPolicy", {IAM}),  # failed (NoSuchEntity), still counted
        101: ("GetRole", {U, AD}),
        102: ("CreateServiceLinkedRole", {U, AD}),
        103: ("GetRole", {U, AD}),
        104: ("PutUserPolicy", {IAM}),
        105: ("PutUserPolicy", {IAM}),  # Panther: false (requestParameters null); CW.4 reads eventName only
        106: ("DisableKey", {KMS}),
        107: ("ScheduleKeyDeletion", {KMS}),
        109: ("ScheduleKeyDeletion", {KMS}),
        110: ("DisableKey", {KMS}),  # failed (NotFoundException), still counted
        116: ("CreateNetworkAclEntry", {NACL}),
        117: ("CreateNetworkAclEntry", {NACL}),  # Panther: false (not permissive); CW.11 matches any entry
        118: ("CreateNetworkAclEntry", {NACL}),  # failed (ValidationError), still counted
        119: ("StopActivityStream", {U, AD}),
        120: ("DeleteDBInstanceAutomatedBackup", {U, AD}),
        121: ("FailoverDBCluster", {U, AD}),
        122: ("ModifyDBInstance", {U, AD}),
        123: ("AddRoleToDBInstance", {U, AD, SUS}),  # sourceIPAddress 198.51.100.50 fits 198.51.100.*
        124: ("DeleteDBInstance", {U, AD}),
        125: ("ModifyDBInstance", {U, AD}),
        # 126, 130: other RDS error codes (InvalidDBInstanceState, InvalidDBSnapshotState)
        127: ("DownloadDBLogFilePortion", {U, AD}),
        128: ("AuthorizeDBSecurityGroupIngress", {U, AD}),  # an RDS call: not in CloudWatch.10's EC2 list
        129: ("CopyDBSnapshot", {U, AD}),
        131: ("DescribeDBSnapshots", {U, AD}),
        132: ("StartExportTask", {U, AD}),
        133: ("PutBucketPolicy", {S3}),
        134: ("PutBucketPolicy", {S3}),  # Panther: false (not public); CW.8 counts every policy change
        135: ("PutBucketPolicy", {S3}),
        136: ("PutBucketPolicy", {S3, U, AD}),  # failed with AccessDenied
        137: ("PutBucketPolicy", {S3}),  # no eventVersion: no heartbeat
        138: ("PutBucketPolicy", {S3}),
        # 139, 140: root CreateAccessKey with userIdentity.invokedBy signin.amazonaws.com: CW.1 excludes it
        141: ("CreateServiceLinkedRole", {ROOT}),
        142: ("PutBucketVersioning", {ROOT}),  # not a CW.8 event name
        144: ("ExternalIdPDirectoryLogin", {ROOT}),  # userIdentity.type Root, no invokedBy, AwsConsoleSignIn
        145: ("ConsoleLogin", {ROOT}),
        146: ("ListAccessKeys", {ROOT}),
        147: ("PasswordUpdated", {ROOT}),
        148: ("PasswordUpdated", {ROOT}),
        # 149: DeleteBucket (not in CW.8's list), BucketNotEmpty, no eventVersion: nothing at all
        150: ("PutBucketAcl", {S3}),
        151: ("PutBucketAcl", {S3, U, AD}),  # Panther: false (failed); CW.8 and CW.2 both count it
        153: ("DeleteBucketEncryption", {U, AD}),  # not in CW.8's list
        154: ("DeleteBucketReplication", {S3}),
        155: ("DeleteBucketReplication", {S3, U, AD}),
        156: ("PutBucketReplication", {S3}),  # Panther DeleteBucketReplication: "different event"; CW.8 lists it
        # 157: DeleteBucketReplication with eventSource ec2.amazonaws.com: CW.8 requires s3
        158: ("DeleteBucketPublicAccessBlock", {U, AD}),
        159: ("PutBucketLogging", {U, AD}),
        160: ("PutBucketVersioning", {U, AD}),
        161: ("PutBucketLogging", {U, AD}),
        162: ("PutBucketVersioning", {U, AD}),
        163: ("GetSecretValue", {U, AD}),
        164: ("DeleteTrail", {CT}),
        165: ("DeleteTrail", {CT}),  # Panther: false (ConflictException); CW.5 counts failed calls
        167: ("GetSessionToken", {U, AD}),  # no eventVersion: no heartbeat
        168: ("CreateServiceLinkedRole", {U, AD}),
        169: ("CreateServiceLinkedRole", {U, AD}),
        # 172: errorCode VpceAccessDenied: not AccessDenied* (prefix) and not *UnauthorizedOperation
        173: ("GetObject", {U, AD}),
        174: ("UpdateTrail", {CT}),
    },
    "trailalerts_sigma_tests.jsonl": {
        1: ("AttachUserPolicy", {IAM}),
        2: ("AttachUserPolicy", {IAM}),  # Sigma should_not_match: eventSource changed to cloudtrail; CW.4 ignores it
        5: ("StopLogging", {CT}),
        6: ("StopLogging", {CT}),  # same trick (eventSource s3); CW.5 has no eventSource clause
        7: ("CreateNetworkAclEntry", {NACL}),
        8: ("CreateNetworkAclEntry", {NACL}),  # same trick; CW.11 has no eventSource clause
        9: ("CreateRoute", {RT}),
        10: ("CreateRoute", {RT}),  # same trick; CW.13 has no eventSource clause
        13: ("AuthorizeSecurityGroupEgress", {SG}),
        14: ("AuthorizeSecurityGroupEgress", {SG}),  # same trick; CW.10 has no eventSource clause
        21: ("DeleteDeliveryChannel", {CFG}),
        # 22: DeleteDeliveryChannel from cloudtrail.amazonaws.com: CW.9 requires config.amazonaws.com
        65: ("UpdateFunctionConfiguration20150331v2", {U, AD}),
        67: ("LeaveOrganization", {ORG}),
        # 68: LeaveOrganization from cloudtrail.amazonaws.com: CIS 4.15 requires organizations
        77: ("ConsoleLogin", {ROOT}),
        # 87/88: PutBucketLifecycleConfiguration is not CW.8's "PutBucketLifecycle" (exact match)
    },
    "stratus_detonation_logs.jsonl": {
        **{n: ("GetPasswordData", {U}) for n in range(1, 7)},  # Client.UnauthorizedOperation
        8: ("AssumeRole", {U, AD}),
        9: ("AssumeRole", {U, AD}),
        20: ("DeleteTrail", {CT}),
        22: ("StopLogging", {CT}),
        24: ("LeaveOrganization", {ORG, U, AD}),  # the detonation is denied by an SCP; CIS 4.15 still counts it
        **{n: ("DescribeInstanceAttribute", {U}) for n in range(26, 32)},
        32: ("AssumeRole", {U, AD}),
        33: ("AssumeRole", {U, AD}),
        34: ("RunInstances", {U}),
        40: ("AuthorizeSecurityGroupIngress", {SG}),
        50: ("ConsoleLogin", {MFA}),  # aws.initial-access.console-login-without-mfa
        56: ("AttachUserPolicy", {IAM}),
        58: ("AttachRolePolicy", {IAM}),
        # 60: DeleteLoginProfile failed with EntityTemporarilyUnmodifiableException: nothing
    },
    # 48 read-only calls (Describe*/List*/Get*, AssumeRole by ec2.amazonaws.com), no errors: heartbeat only
    "otrf_security_datasets.jsonl": {},
    "awsdocs_examples.jsonl": {
        1: ("ConsoleLogin", {MFA}),  # IAM user, MFAUsed "No", Success
        # 2: MFAUsed "Yes"; 4/5: CheckMfa is not ConsoleLogin
        3: ("ConsoleLogin", {CAF, CLF}),
        6: ("ConsoleLogin", {ROOT}),
        7: ("ConsoleLogin", {ROOT}),  # root with MFA ("YES"): still root usage
        8: ("ConsoleLogin", {ROOT, CAF, CLF}),  # failed root login with errorMessage "Failed authentication"
        9: ("EnableMFADevice", {ROOT}),
        10: ("PasswordUpdated", {ROOT}),
        16: ("UpdateTrail", {CT}),  # failed (TrailNotFoundException), still counted
    },
}


def _rows(name: str) -> list[dict]:
    with open(FIXTURES / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _patterns() -> dict[str, str]:
    patterns = {d.id: d.pattern for d in load_catalog() if d.pattern}
    patterns[SUS] = suspicious_ip_pattern(DEV_SUSPICIOUS_IPS)
    return patterns


PATTERNS = _patterns()


def expected_for(name: str, line: int, event: dict) -> set[str]:
    want = set(EXPECTED[name].get(line, ("", set()))[1])
    if (name, line) not in NO_EVENT_VERSION:
        want.add(HEARTBEAT)
    return want


def test_table_covers_every_detection_and_only_real_rows():
    named = {d for rows in EXPECTED.values() for _, dets in rows.values() for d in dets} | {HEARTBEAT}
    assert named == set(PATTERNS), "every catalog detection should be exercised by at least one real record"
    for name, rows in EXPECTED.items():
        events = _rows(name)
        for line, (event_name, _) in rows.items():
            assert 1 <= line <= len(events), (name, line)
            assert events[line - 1]["event"].get("eventName") == event_name, (name, line)
    for name, line in NO_EVENT_VERSION:  # the table's claim, checked on the data
        assert "eventVersion" not in _rows(name)[line - 1]["event"]


@pytest.mark.parametrize("name", FILES)
def test_each_record_matches_exactly_the_stated_detections(name):
    compiled = {ident: compile_pattern(p) for ident, p in PATTERNS.items()}
    pattern_set = PatternSet(PATTERNS)
    wrong = []
    for line, row in enumerate(_rows(name), 1):
        event = row["event"]
        want = expected_for(name, line, event)
        got = {ident for ident, p in compiled.items() if p.matches(event)}
        via_set = set(pattern_set.matching(event))
        raw = set(pattern_set.matching(json.dumps(event)))  # the log line CloudWatch would see
        if got != want or via_set != want or raw != want:
            wrong.append(f"{name}:{line} {event.get('eventName')}: stated {sorted(want)}, "
                         f"engine {sorted(got)}, PatternSet {sorted(via_set)}, line {sorted(raw)}")
    assert not wrong, "\n".join(wrong)


def test_replay_counts_agree_with_the_table():
    """Replay's per-detection match counts equal the table's, minus records replay cannot bucket
    (no eventTime/@timestamp, or an unparseable one), which it reports as malformed."""
    events, want = [], {ident: 0 for ident in PATTERNS}
    malformed = 0
    for name in FILES:
        for line, row in enumerate(_rows(name), 1):
            event = row["event"]
            events.append(event)
            time = event.get("eventTime", event.get("@timestamp"))
            if time is None or time == "redacted":  # panther 9, 10, 11, 37, 149 lack both; 144 is redacted
                malformed += 1
                continue
            for ident in expected_for(name, line, event):
                want[ident] += 1
    report = replay_records(iter(events), PATTERNS, window_minutes=30)
    assert report.malformed == malformed == 6
    assert report.events == len(events) - 6 == 407
    assert {ident: det.matches for ident, det in report.detections.items()} == want
