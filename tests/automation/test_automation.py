"""trailwatch.automation through the Automation API's command-runner seam, with a recording fake CLI.

``LocalWorkspaceOptions(pulumi_command=PulumiCommand(root=<dir with bin/pulumi>))`` makes the SDK run
``tests/automation/fake_pulumi.py`` exactly as it would run the real CLI; the fake records argv, working
directory and environment, and streams engine events (policy violations, summary) back over the SDK's gRPC
event log. The tests assert the exact commands, and the typed result.
"""

from __future__ import annotations

import json
import re
import stat
import sys
from pathlib import Path

import pytest
import yaml
from pulumi.automation import PulumiCommand

from trailwatch.automation import POLICY_PACK, Result, Secret, StackRunner, secret
from trailwatch.errors import ConfigError, TrailwatchError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WEBHOOK = "https://prod-00.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=TOPSECRETsig"
CONFIG = {"aws:region": "eu-west-1", "logRetentionDays": 365, "runtime": "docker",
          "suspiciousIps": ["203.0.113.66"], "enableDetections": ["suspicious_source_ips"],
          "teamsWebhookUrl": secret(WEBHOOK)}
URN = "urn:pulumi:ci::trailwatch::trailwatch:index:TrailToLogs$aws:cloudwatch/logGroup:LogGroup::trailwatch-logs"


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake ``pulumi`` on disk, its state folder, and helpers to script it and read what it recorded."""
    state = tmp_path / "state"
    state.mkdir()
    bin_dir = tmp_path / "cli" / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "pulumi"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "fake_pulumi.py"}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("FAKE_PULUMI_STATE", str(state))
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)

    class Fake:
        work_dir = tmp_path / "work"
        command = PulumiCommand(root=str(tmp_path / "cli"))

        @staticmethod
        def scenario(**data):
            (state / "scenario.json").write_text(json.dumps(data))

        @staticmethod
        def existing(*stacks):
            (state / "stacks.json").write_text(json.dumps(list(stacks)))

        @staticmethod
        def calls():
            lines = (state / "calls.jsonl").read_text().splitlines()
            calls = [json.loads(line) for line in lines]
            return [c for c in calls if c["argv"] != ["version"]]

        @staticmethod
        def argvs():
            return [normalize(c["argv"]) for c in Fake.calls()]

    Fake.work_dir.mkdir()
    return Fake


def normalize(argv: list[str]) -> list[str]:
    return [re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", a) for a in argv]


def runner(fake, config=CONFIG, **options) -> StackRunner:
    options.setdefault("backend_url", "file:///var/lib/trailwatch-state")
    options.setdefault("work_dir", fake.work_dir)
    return StackRunner("ci", config, pulumi_command=fake.command, **options)


CONFIG_SET_ALL = [
    "--non-interactive", "config", "set-all", "--stack", "ci",
    "--plaintext", "aws:region=eu-west-1",
    "--plaintext", "trailwatch:logRetentionDays=365",
    "--plaintext", "trailwatch:runtime=docker",
    "--plaintext", 'trailwatch:suspiciousIps=["203.0.113.66"]',
    "--plaintext", 'trailwatch:enableDetections=["suspicious_source_ips"]',
    "--secret", f"trailwatch:teamsWebhookUrl={WEBHOOK}",
]


def test_preview_runs_exactly_these_commands(fake):
    fake.scenario(stdout=["Previewing update (ci):", "Resources:", "    + 44 to create"], changes={"create": 44})
    lines: list[str] = []
    result = runner(fake, secrets_provider="passphrase", env={"PULUMI_CONFIG_PASSPHRASE": "pw"},
                    on_output=lines.append).preview()
    assert fake.argvs() == [
        ["--non-interactive", "stack", "select", "--stack", "ci"],
        ["--non-interactive", "stack", "init", "ci", "--secrets-provider", "passphrase"],
        CONFIG_SET_ALL,
        ["--non-interactive", "preview", "--policy-pack", str(POLICY_PACK), "--color", "never",
         "--client=127.0.0.1:PORT", "--exec-kind", "auto.inline", "--event-log", "tcp://127.0.0.1:PORT",
         "--stack", "ci"],
    ]
    for call in fake.calls():
        assert call["cwd"] == str(fake.work_dir)
        assert call["env"]["PULUMI_BACKEND_URL"] == "file:///var/lib/trailwatch-state"
        assert call["env"]["PULUMI_CONFIG_PASSPHRASE"] == "pw"
        assert call["env"]["PULUMI_AUTOMATION_API"] == "true"
    assert lines == ["Previewing update (ci):", "Resources:", "    + 44 to create"]  # streamed
    assert result == Result("preview", "ci", True, {"create": 44}, {}, ())
    project = yaml.safe_load((fake.work_dir / "Pulumi.yaml").read_text())
    assert (project["name"], project["runtime"], project["main"]) == ("trailwatch", "python", str(ROOT))


def test_up_reports_summary_masked_outputs_and_advisory_violations(fake):
    fake.existing("ci")
    fake.scenario(changes={"create": 44}, outputs={
        "logGroupName": {"value": "/aws/cloudtrail/trailwatch-ci"},
        "exporterAccessKeyId": {"value": "AKIAEXAMPLE", "secret": True}},
        events=[{"policyEvent": {"resourceUrn": URN, "message": "retention ...", "color": "never",
                                 "policyName": "log-group-retention", "policyPackName": "trailwatch",
                                 "policyPackVersion": "0.1.0", "policyPackVersionTag": "0.1.0",
                                 "enforcementLevel": "advisory"}}])
    result = runner(fake).up()
    assert fake.argvs()[0] == ["--non-interactive", "stack", "select", "--stack", "ci"]
    assert fake.argvs()[1] == CONFIG_SET_ALL  # existing stack: no init
    assert fake.argvs()[2] == ["--non-interactive", "up", "--yes", "--skip-preview", "--policy-pack", str(POLICY_PACK),
                               "--color", "never", "--client=127.0.0.1:PORT", "--exec-kind", "auto.inline",
                               "--event-log", "tcp://127.0.0.1:PORT", "--stack", "ci"]
    assert fake.argvs()[3:] == [
        ["--non-interactive", "stack", "output", "--json", "--stack", "ci"],
        ["--non-interactive", "stack", "output", "--json", "--show-secrets", "--stack", "ci"],
        ["--non-interactive", "stack", "history", "--json", "--show-secrets", "--page-size", "1", "--page", "1",
         "--stack", "ci"],
    ]
    assert result.succeeded and result.summary == {"create": 44}
    assert result.outputs == {"logGroupName": "/aws/cloudtrail/trailwatch-ci", "exporterAccessKeyId": "[secret]"}
    (violation,) = result.violations
    assert (violation.policy, violation.level, violation.type, violation.name, violation.pack) == \
        ("log-group-retention", "advisory", "aws:cloudwatch/logGroup:LogGroup", "trailwatch-logs", "trailwatch")
    assert result.mandatory_violations == ()


def test_mandatory_violation_fails_the_preview_as_a_result(fake):
    fake.existing("ci")
    fake.scenario(fail="error: preview failed: 1 mandatory policy violation", events=[{"policyEvent": {
        "resourceUrn": URN, "message": "retentionInDays is 30", "color": "never", "policyName": "log-group-retention",
        "policyPackName": "trailwatch", "policyPackVersion": "0.1.0", "policyPackVersionTag": "0.1.0",
        "enforcementLevel": "mandatory"}}])
    result = runner(fake).preview()
    assert not result.succeeded
    assert result.error == "error: preview failed: 1 mandatory policy violation"
    assert [v.policy for v in result.mandatory_violations] == ["log-group-retention"]
    assert "TOPSECRETsig" not in repr(result)


def test_destroy_runs_without_policy_packs(fake):
    fake.existing("ci")
    fake.scenario(changes={"delete": 44}, kind="destroy")
    result = runner(fake).destroy()
    assert fake.argvs()[2] == ["--non-interactive", "destroy", "--skip-preview", "--yes", "--color", "never",
                               "--client=127.0.0.1:PORT", "--exec-kind", "auto.inline", "--event-log",
                               "tcp://127.0.0.1:PORT", "--stack", "ci"]
    assert result.succeeded and result.summary == {"delete": 44} and result.outputs == {}


def test_backend_from_the_environment(fake, monkeypatch):
    fake.existing("ci")
    fake.scenario()
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://bucket/trailwatch")
    runner(fake, backend_url=None).preview()
    assert {c["env"]["PULUMI_BACKEND_URL"] for c in fake.calls()} == {"s3://bucket/trailwatch"}


def test_extra_policy_packs_and_no_pack(fake):
    fake.existing("ci")
    fake.scenario()
    runner(fake, policy_packs=[POLICY_PACK, "/opt/org-pack"]).preview()
    preview = fake.argvs()[-1]
    assert preview[:6] == ["--non-interactive", "preview", "--policy-pack", str(POLICY_PACK), "--policy-pack",
                           "/opt/org-pack"]


@pytest.mark.parametrize("config, message", [
    ({**CONFIG, "teamsWebhookUrl": WEBHOOK}, "config 'trailwatch:teamsWebhookUrl': is secret"),
    ({**CONFIG, "alarmHttpsEndpoints": [WEBHOOK], "securityHubAlarms": True},
     "config 'trailwatch:alarmHttpsEndpoints': holds a Teams/Power Automate webhook URL"),
    ({**CONFIG, "logRetentionDays": 45}, "config 'trailwatch:logRetentionDays': must be one of"),
    ({**CONFIG, "nope": 1}, "config 'trailwatch:nope': unknown key"),
])
def test_bad_config_is_refused_before_any_command(fake, config, message):
    with pytest.raises(ConfigError) as excinfo:
        runner(fake, config=config)
    assert str(excinfo.value).startswith(message)
    assert "TOPSECRETsig" not in str(excinfo.value)
    assert fake.calls() == []  # only `pulumi version` (the SDK's version check) ran


def test_inline_program_is_the_function_main_py_runs(fake):
    fake.scenario()
    stack = runner(fake).stack()
    from components.program import main

    assert stack.workspace.program is main
    main_py = (ROOT / "__main__.py").read_text()
    assert "from components.program import main" in main_py and "\nmain()" in main_py


def test_secret_marker_hides_its_value():
    assert "TOPSECRETsig" not in repr(secret(WEBHOOK)) and isinstance(secret(1), Secret)


@pytest.mark.parametrize("operation", ["preview", "up", "destroy"])
def test_no_pulumi_cli_is_one_trailwatch_error_saying_how_to_install(tmp_path, monkeypatch, operation):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `pulumi` anywhere on PATH
    runner = StackRunner("ci", {**CONFIG, "teamsWebhookUrl": secret(WEBHOOK)}, backend_url=f"file://{tmp_path}",
                         work_dir=tmp_path)
    with pytest.raises(TrailwatchError) as info:
        getattr(runner, operation)()
    assert str(info.value) == (
        "the Pulumi CLI is not installed ('pulumi' not found): the Automation API runs it; install it "
        "(https://www.pulumi.com/docs/iac/download-install/, e.g. `curl -fsSL https://get.pulumi.com | sh`) or "
        "pass pulumi_command=PulumiCommand(root=...)")
    assert "\n" not in str(info.value)


def test_a_cli_version_the_sdk_refuses_is_one_trailwatch_error(tmp_path, monkeypatch):
    old = tmp_path / "pulumi"
    old.write_text("#!/bin/sh\necho v3.0.0\n")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    runner = StackRunner("ci", CONFIG, backend_url=f"file://{tmp_path}", work_dir=tmp_path)
    with pytest.raises(TrailwatchError) as info:
        runner.preview()
    message = str(info.value)
    assert message.startswith("the Pulumi CLI cannot be used: Minimum version requirement failed. The minimum CLI "
                              "version requirement is ")
    assert message.endswith("your current CLI version is 3.0.0. Please update the Pulumi CLI.")
    assert "\n" not in message
