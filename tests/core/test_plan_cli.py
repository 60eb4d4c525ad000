"""``python -m trailwatch plan``: one JSON object on success, one error line and exit 2 on bad input."""

import json
import subprocess
import sys

import pytest

from trailwatch.commands import plan_document, redact
from trailwatch.stack import load_stack


def run_cli(repo_root, *args):
    return subprocess.run([sys.executable, "-m", "trailwatch", *args], cwd=repo_root, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def dev_plan(repo_root):
    result = run_cli(repo_root, "plan", "--stack", "dev", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # fails unless stdout is exactly one JSON document


def test_json_plan_shape(dev_plan):
    assert set(dev_plan) >= {"stack", "resources", "outputs"}
    assert dev_plan["stack"] == "dev"
    for res in dev_plan["resources"]:
        assert set(res) == {"type", "name", "parent", "inputs"}
    types = {r["type"] for r in dev_plan["resources"]}
    assert {"aws:cloudtrail/trail:Trail", "aws:cloudwatch/logGroup:LogGroup", "aws:iam/rolePolicy:RolePolicy",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"} <= types


def test_json_plan_content(dev_plan):
    by_type = {}
    for res in dev_plan["resources"]:
        by_type.setdefault(res["type"], []).append(res)
    (trail,) = by_type["aws:cloudtrail/trail:Trail"]
    assert trail["inputs"]["isMultiRegionTrail"] and trail["inputs"]["enableLogFileValidation"]
    assert trail["inputs"]["kmsKeyId"]
    (group,) = by_type["aws:cloudwatch/logGroup:LogGroup"]
    assert group["inputs"]["retentionInDays"] >= 90 and group["inputs"]["kmsKeyId"]
    assert trail["parent"] == "trailwatch:index:TrailToLogs::trailwatch"
    filters = by_type["aws:cloudwatch/logMetricFilter:LogMetricFilter"]
    assert len(filters) == len(dev_plan["outputs"]["metrics"])


def test_redact_hides_secrets_and_unknowns_at_any_depth():
    from pulumi.runtime import rpc

    secret = {rpc._special_sig_key: rpc._special_secret_sig, "value": "https://example.webhook.office.com/x"}
    doc = {"a": [1, {"b": secret}], "c": rpc.UNKNOWN, "d": "plain"}
    assert redact(doc) == {"a": [1, {"b": "[secret]"}], "c": "[unknown]", "d": "plain"}


def test_secure_stack_values_stay_secret_and_never_print_the_placeholder(tmp_path):
    (tmp_path / "Pulumi.sec.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  trailwatch:teamsWebhookUrl:\n    secure: v1:AAAAciphertext\n")
    stack = load_stack("sec", tmp_path)
    assert stack.secret_keys == ("trailwatch:teamsWebhookUrl",)
    assert "v1:AAAA" not in json.dumps(plan_document("sec", tmp_path))


def test_table_format(repo_root):
    result = run_cli(repo_root, "plan", "--stack", "dev")
    assert result.returncode == 0, result.stderr
    assert "+ trailwatch:index:TrailToLogs  trailwatch" in result.stdout
    assert "  + aws:cloudtrail/trail:Trail  trailwatch-trail" in result.stdout


@pytest.mark.parametrize("config, message", [
    ("  trailwatch:logRetentionDays: 45\n", "error: config 'trailwatch:logRetentionDays': must be one of 0, 1, 3, 5"),
    ("  trailwatch:suspiciousIps: [not-an-ip]\n  trailwatch:enableDetections: [suspicious_source_ips]\n",
     "error: config 'trailwatch:suspiciousIps'[0]: 'not-an-ip' is not an IPv4/IPv6 address"),
    ("  trailwatch:customDetections:\n    - {id: mine, title: t, severity: high, metric: M, description: d,"
     " runbook: r, pattern: '{ $.eventName = \"X\"'}\n",
     "error: config 'trailwatch:customDetections'[0] 'mine': field 'pattern' is invalid"),
])
def test_bad_config_exits_2_with_one_line(repo_root, tmp_path, config, message):
    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n  aws:region: us-east-1\n" + config)
    result = run_cli(repo_root, "plan", "--stack", "bad", "--config-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(message)


def test_unknown_stack(repo_root):
    result = run_cli(repo_root, "plan", "--stack", "nope")
    assert result.returncode == 2
    assert result.stderr.startswith("error: stack 'nope': no file Pulumi.nope.yaml (stacks here: ")


def _numbers(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


def test_json_plan_prints_whole_numbers_as_integers(dev_plan):
    numbers = list(_numbers(dev_plan))
    assert numbers, "the dev plan holds numbers (retention days, uid 65534 ...)"
    assert [n for n in numbers if isinstance(n, float) and n.is_integer()] == []
    (group,) = [r for r in dev_plan["resources"] if r["type"] == "aws:cloudwatch/logGroup:LogGroup"]
    assert type(group["inputs"]["retentionInDays"]) is int


def test_redact_keeps_fractions_and_turns_whole_floats_into_integers():
    assert redact({"a": 90.0, "b": [65534.0, 0.5], "c": True}) == {"a": 90, "b": [65534, 0.5], "c": True}
    assert type(redact(90.0)) is int
