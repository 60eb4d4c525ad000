"""The target of each event on a card: the catalog's ``target_parameters`` (names and ids from
``requestParameters``), checked against real third-party CloudTrail records, and nothing else of the request."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapter_chain import STACK, cloudtrail
from card_schema import elements, schema_errors
from trailwatch.adapter.card import fitted
from trailwatch.adapter.config import AdapterConfigError, parse_config
from trailwatch.adapter.enrich import allowed_fields, find_events
from trailwatch.adapter.targets import MAX_VALUE_CHARS
from trailwatch.adapter.webhook import parse_notification
from trailwatch.catalog import load_catalog
from trailwatch.filterpattern import compile_pattern
from trailwatch.render import adapter_config

REPO = Path(__file__).resolve().parents[2]
CORPUS = sorted((REPO / "tests" / "fixtures" / "cloudtrail").glob("*.jsonl"))
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
TARGETS = {d.id: d.target_parameters for d in load_catalog()}


def corpus() -> list[dict]:
    return [json.loads(line) for path in CORPUS for line in path.read_text().splitlines() if line.strip()]


def matches() -> list[tuple[str, dict]]:
    """(detection id, record) for every corpus record a detection with target members matches."""
    patterns = {d.id: compile_pattern(d.pattern) for d in load_catalog() if d.target_parameters}
    return [(ident, row) for row in corpus() for ident, pattern in patterns.items()
            if pattern.matches(json.dumps(row["event"]))]


def target_of(ident: str, event: dict) -> str | None:
    return allowed_fields(json.dumps(event), TARGETS[ident]).get("target")


@pytest.mark.parametrize("label, ident, expected", [
    ("stratus:aws.defense-evasion.cloudtrail-stop", "cloudtrail_config_changes",
     "name: stratus-red-team-ct-stop-trail-buykxbqejv"),
    ("stratus:aws.defense-evasion.cloudtrail-delete", "cloudtrail_config_changes",
     "name: stratus-red-team-cloudtraild-trail-kvrwohmiai"),
    ("aws-doc-example:UpdateTrail", "cloudtrail_config_changes", "name: myTrail2"),
    ("stratus:aws.persistence.iam-create-backdoor-role", "iam_policy_changes",
     "policyArn: arn:aws:iam::aws:policy/AdministratorAccess; roleName: stratus-red-team-malicious-iam-role"),
    ("stratus:aws.persistence.iam-create-admin-user", "iam_policy_changes",
     "policyArn: arn:aws:iam::aws:policy/AdministratorAccess; userName: malicious-iam-user"),
    ("AWS.CloudTrail.IAMCompromisedKeyQuarantine :: PutUserPolicy", "iam_policy_changes",
     "policyName: TestUserDenyAll; userName: test-user"),                   # not its policyDocument
    ("AWS.CloudTrail.ResourceMadePublic :: S3 Made Publicly Accessible", "s3_bucket_policy_changes",
     "bucketName: example-bucket"),                                         # not its bucketPolicy
    ("stratus:aws.exfiltration.ec2-security-group-open-port-22-ingress", "security_group_changes",
     "groupId: sg-003dc7f1f1c686164"),
    ("AWS.EC2.ManualSecurityGroupChange :: Terraform Security Group Creation", "security_group_changes",
     "groupName: prod-webapp-webserver-security"),
    ("AWS.EC2.NetworkACLModified :: Network ACL Modified", "nacl_changes", "networkAclId: acl-1"),
    ("AWS.EC2.RouteTableModified :: Route Table Modified", "route_table_changes", "routeTableId: rtb-1"),
    ("AWS.EC2.GatewayModified :: Network Gateway Modified", "network_gateway_changes",
     "internetGatewayId: igw-1; vpcId: vpc-1"),
    ("AWS.KMS.CustomerManagedKeyLoss :: KMS Key Disabled", "cmk_disable_or_deletion", "keyId: 1"),
    ("sigma:07330162-dba1-4746-8121-a9647d49d297", "aws_config_changes", "deliveryChannelName: default"),
])
def test_real_events_name_the_resource_they_acted_on(label, ident, expected):
    events = [row["event"] for row in corpus() if row["label_or_rule"].startswith(label)]
    assert events, label
    assert expected in {target_of(ident, e) for e in events}


def test_every_detection_with_target_members_names_targets_in_real_events_and_nothing_else():
    """Per detection, the real records it matches show a target (the member names are the ones CloudTrail
    writes), except where none of them carries one; and nothing but the allow-listed values leaves a record."""
    found = matches()
    named = {ident for ident, row in found if target_of(ident, row["event"])}
    # vpc_changes matches only CreateVpc here (the new VPC's id is a response element), organizations_changes
    # only LeaveOrganization (no request parameters): neither names a target in its request.
    assert named == {ident for ident, members in TARGETS.items() if members} - {"vpc_changes", "organizations_changes"}
    assert len(found) == 86 and sum(1 for ident, row in found if target_of(ident, row["event"])) == 66
    for ident, row in found:
        out = json.dumps(allowed_fields(json.dumps(row["event"]), TARGETS[ident]))
        for leaked in ("Statement", "Version", "cidrBlock", "ipPermissions", "encryptionContext"):
            assert leaked not in out, (ident, row["label_or_rule"])


def test_only_short_one_line_strings_of_listed_members_are_copied():
    record = cloudtrail("PutBucketPolicy", NOW, requestParameters={
        "bucketName": "logs-bucket", "bucketPolicy": {"Statement": [{"Effect": "Allow", "Principal": "*"}]},
        "host": ["logs-bucket.s3.amazonaws.com"], "policy": "{\"Version\": \"2012-10-17\"}",
        "nested": {"name": "inner-name", "deep": {"id": 7}}, "flag": True, "count": 3,
        "multi": "line one\nline two", "doc": "{\"a\": 1}", "long": "x" * (MAX_VALUE_CHARS + 1),
        "lone": "trail-\ud800-name"})
    message = json.dumps(record)
    every = ("bucketName", "nested.name", "nested.deep.id", "flag", "count", "multi", "doc", "long", "lone", "host")
    assert allowed_fields(message, every)["target"] == ("bucketName: logs-bucket; nested.name: inner-name; "
                                                        "lone: trail-\ufffd-name")
    # A member refused at load time is never read, even if an allow-list reaching here named it.
    assert "target" not in allowed_fields(message, ("bucketPolicy", "policy"))
    assert "target" not in allowed_fields(message, ())


def test_the_rendered_adapter_config_carries_each_detections_target_members():
    config = adapter_config(STACK)
    assert {k: tuple(v["target_parameters"]) for k, v in config["detections"].items()} == {
        d.id: d.target_parameters for d in STACK.detections if not d.heartbeat}
    parsed = parse_config(json.loads(json.dumps(config)), "rendered")
    assert parsed.detections["cloudtrail_config_changes"].targets == ("name",)
    assert parsed.detections["root_usage"].targets == ()


def test_an_adapter_config_without_target_members_still_loads_and_a_secret_member_is_refused():
    config = adapter_config(STACK)
    for det in config["detections"].values():
        del det["target_parameters"]  # a config rendered before the field existed
    assert all(d.targets == () for d in parse_config(config, "old").detections.values())
    config["detections"]["iam_policy_changes"]["target_parameters"] = ["roleName", "policyDocument"]
    with pytest.raises(AdapterConfigError) as err:
        parse_config(config, "config file c.json")
    assert str(err.value) == ("config file c.json: detections.iam_policy_changes: field 'target_parameters' "
                              "'policyDocument' may hold a policy document or a secret; only names and ids may "
                              "be shown")


class Logs:
    """A FilterLogEvents stand-in returning the given records on one page."""

    def __init__(self, records: list[dict]):
        self.records = records

    def filter_log_events(self, **request):
        return {"events": [{"timestamp": request["startTime"] + i, "message": json.dumps(r)}
                           for i, r in enumerate(self.records)]}


def test_a_stop_logging_card_names_the_trail_and_hostile_target_text_stays_inert():
    records = [cloudtrail("StopLogging", NOW - timedelta(minutes=3), identity="IAMUser",
                          requestParameters={"name": "org-trail"}),
               cloudtrail("DeleteTrail", NOW - timedelta(minutes=2), identity="IAMUser",
                          requestParameters={"name": "Verify [your MFA](https://evil.example/p) **all clear**"})]
    found = find_events(Logs(records), "/lg", "{ $.eventName = * }", NOW - timedelta(minutes=32), NOW,
                        max_pages=2, max_events=10, budget_seconds=5, targets=TARGETS["cloudtrail_config_changes"])
    note = parse_notification({"version": "4", "groupKey": "g", "status": "firing", "receiver": "r", "alerts": [{
        "status": "firing", "fingerprint": "f1", "startsAt": (NOW - timedelta(minutes=2)).isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "labels": {"alertname": "TrailwatchCloudtrailConfigChanges", "detection": "cloudtrail_config_changes",
                   "severity": "critical"},
        "annotations": {"summary": "CloudTrail configuration changes", "description": "2 matching"}}]})
    message = json.loads(fitted(note, {"f1": found}, NOW, "us-east-1"))
    targets = [f["value"] for fs in elements(message, "FactSet") for f in fs["facts"] if f["title"] == "Target"]
    assert targets[1] == "name: org-trail"  # newest first: DeleteTrail, then StopLogging
    assert "](" not in targets[0] and "**" not in targets[0] and "://" not in targets[0]
    assert "evil" in targets[0] and "your MFA" in targets[0]
    assert schema_errors(message["attachments"][0]["content"]) == []
