"""``python -m trailwatch plan`` with policies: verdicts, exit codes, the JSON document and the table."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from policy_helpers import SIG, WEBHOOK
from trailwatch.cli import main

WEAK_STACK = f"""config:
  aws:region: us-east-1
  trailwatch:logRetentionDays: 30
  trailwatch:multiRegionTrail: false
  trailwatch:runtime: docker
  trailwatch:teamsWebhookUrl: {WEBHOOK}
"""
EXPECTED = {"log-group-retention", "cloudtrail-multi-region", "webhook-url-is-secret-config"}


def plan(capsys, *args):
    code = main(["plan", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def weak_dir(tmp_path):
    (tmp_path / "Pulumi.weak.yaml").write_text(WEAK_STACK)
    return tmp_path


def test_dev_stack_is_compliant(capsys):
    code, out, err = plan(capsys, "--stack", "dev", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["policy"] == {"violations": []}


def test_weak_stack_exits_1_and_names_each_violated_policy(repo_root, weak_dir):
    result = subprocess.run([sys.executable, "-m", "trailwatch", "plan", "--stack", "weak", "--config-dir",
                             str(weak_dir), "--format", "json"], cwd=repo_root, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)  # exactly one JSON document on stdout
    violations = doc["policy"]["violations"]
    assert {v["policy"] for v in violations} == EXPECTED
    assert all(set(v) == {"policy", "level", "type", "name", "message"} for v in violations)
    assert all(v["level"] == "mandatory" for v in violations)
    by_policy = {v["policy"]: v for v in violations}
    assert (by_policy["log-group-retention"]["type"], by_policy["log-group-retention"]["name"]) == \
        ("aws:cloudwatch/logGroup:LogGroup", "trailwatch-logs")
    assert by_policy["cloudtrail-multi-region"]["name"] == "trailwatch-trail"
    assert by_policy["webhook-url-is-secret-config"]["name"] == "trailwatch:teamsWebhookUrl"
    assert SIG not in result.stdout and SIG not in result.stderr


def test_table_lists_violations_after_the_tree(capsys, weak_dir):
    code, out, _ = plan(capsys, "--stack", "weak", "--config-dir", str(weak_dir))
    assert code == 1
    tree, _, policy = out.partition("Policy violations: 3 (3 mandatory)")
    assert "+ aws:cloudtrail/trail:Trail  trailwatch-trail" in tree and policy
    for name in EXPECTED:
        assert f"[mandatory] {name}  " in policy
    assert "[mandatory] log-group-retention  aws:cloudwatch/logGroup:LogGroup  trailwatch-logs" in policy
    assert SIG not in out


def test_policy_config_file_changes_levels_and_thresholds(capsys, tmp_path):
    (tmp_path / "Pulumi.short.yaml").write_text("config:\n  aws:region: us-east-1\n  trailwatch:logRetentionDays: 30\n")
    (tmp_path / "advisory.json").write_text(json.dumps({"log-group-retention": "advisory"}))
    code, out, _ = plan(capsys, "--stack", "short", "--config-dir", str(tmp_path), "--format", "json",
                        "--policy-config", str(tmp_path / "advisory.json"))
    assert code == 0
    assert [(v["policy"], v["level"]) for v in json.loads(out)["policy"]["violations"]] == \
        [("log-group-retention", "advisory")]
    (tmp_path / "strict.json").write_text(json.dumps({"log-group-retention": {"minimumRetentionDays": 365}}))
    (tmp_path / "Pulumi.year.yaml").write_text("config:\n  aws:region: us-east-1\n  trailwatch:logRetentionDays: 180\n")
    code, out, _ = plan(capsys, "--stack", "year", "--config-dir", str(tmp_path), "--policy-config",
                        str(tmp_path / "strict.json"))
    assert code == 1 and "below the required minimum of 365 days" in out


@pytest.mark.parametrize("text, message", [
    ("{not json", "error: "),
    ('{"no-such-policy": "mandatory"}', "error: policy config: unknown policy 'no-such-policy'"),
    ('{"s3-versioning": "sometimes"}', "error: policy config 's3-versioning': enforcementLevel must be one of"),
])
def test_bad_policy_config_is_exit_2(capsys, tmp_path, text, message):
    (tmp_path / "bad.json").write_text(text)
    code, out, err = plan(capsys, "--stack", "dev", "--policy-config", str(tmp_path / "bad.json"))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith(message)


def test_config_errors_stay_exit_2(capsys, tmp_path):
    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n  aws:region: us-east-1\n  trailwatch:logRetentionDays: 45\n")
    code, out, err = plan(capsys, "--stack", "bad", "--config-dir", str(tmp_path))
    assert code == 2 and out == "" and err.startswith("error: config 'trailwatch:logRetentionDays'")


def test_redact_handles_recorded_unknowns():
    from pulumi.output import Unknown

    from trailwatch.commands import redact

    assert redact({"arn": Unknown(), "list": [Unknown(), "x"]}) == {"arn": "[unknown]", "list": ["[unknown]", "x"]}


CONFIG_WEAK_STACK = """config:
  aws:region: us-east-1
  trailwatch:cisCompliance: true
  trailwatch:detectionOverrides:
    root_usage: {threshold: 100000}
    iam_policy_changes: {severity: info}
  trailwatch:disableDetections: [cloudtrail_heartbeat]
  trailwatch:groupWaitSeconds: 86400
"""


def test_stack_config_weakenings_exit_1_naming_each_check(capsys, tmp_path):
    (tmp_path / "Pulumi.lax.yaml").write_text(CONFIG_WEAK_STACK)
    code, out, _ = plan(capsys, "--stack", "lax", "--config-dir", str(tmp_path), "--format", "json")
    assert code == 1
    found = {(v["policy"], v["name"]) for v in json.loads(out)["policy"]["violations"]}
    assert found == {("cis-detections-alert-thresholds", "trailwatch:detectionOverrides.root_usage"),
                     ("cis-detections-alert-thresholds", "trailwatch:detectionOverrides.iam_policy_changes"),
                     ("heartbeat-enabled", "trailwatch:disableDetections"),
                     ("alert-timings-bounded", "trailwatch:groupWaitSeconds")}


def test_secret_alarm_config_stays_secret_in_plan(capsys, tmp_path):
    (tmp_path / "Pulumi.sec.yaml").write_text(
        "config:\n  aws:region: us-east-1\n  trailwatch:securityHubAlarms: true\n"
        "  trailwatch:alarmHttpsEndpoints:\n    secure: v1:AAAA\n  trailwatch:alarmEmails:\n    secure: v1:BBBB\n")
    code, out, err = plan(capsys, "--stack", "sec", "--config-dir", str(tmp_path), "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["policy"]["violations"] == []
    subs = [r for r in doc["resources"] if r["type"] == "aws:sns/topicSubscription:TopicSubscription"]
    assert len(subs) == 2 and all(r["inputs"]["endpoint"] == "[secret]" for r in subs)


def test_documented_policy_config_example_is_accepted_by_plan(capsys, tmp_path, repo_root):
    import re

    text = (repo_root / "docs" / "policy.md").read_text()
    example = next(b for b in re.findall(r"```json\n(.*?)```", text, flags=re.S) if "alert-timings-bounded" in b)
    (tmp_path / "policy-config.json").write_text(example)
    code, out, err = plan(capsys, "--stack", "dev", "--format", "json", "--policy-config",
                          str(tmp_path / "policy-config.json"))
    assert code == 0, err
    assert json.loads(out)["policy"]["violations"] == []


def test_unknown_property_of_a_plan_only_check_is_exit_2(capsys, tmp_path):
    (tmp_path / "bad.json").write_text('{"heartbeat-enabled": {"maxMissing": 5}}')
    code, out, err = plan(capsys, "--stack", "dev", "--policy-config", str(tmp_path / "bad.json"))
    assert code == 2 and out == ""
    assert err.startswith("error: policy config 'heartbeat-enabled': unknown property 'maxMissing'")
