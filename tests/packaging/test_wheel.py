"""The built wheel (conftest: ``make wheel``), installed in a clean venv through the consumer example's
requirements (examples/byo-log-group), runs the example under mocks and the ``trailwatch`` command anywhere."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
import yaml
from wheel_support import DISTRIBUTION, ROOT
from packaging.requirements import Requirement
from packaging.version import Version

import trailwatch

EXAMPLE = "examples/byo-log-group"
PROJECT = "trailwatch-byo-log-group"
LOG_GROUP = "/org/cloudtrail-test"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
DIST_INFO = f"pulumi_trailwatch-{trailwatch.__version__}.dist-info"
SAMPLE = ("cloudtrail-sample.jsonl", "NOTICE", "LICENSE-Apache-2.0.txt")


@pytest.fixture(scope="module")
def venv(install) -> Path:
    return install(EXAMPLE).home


@pytest.fixture(scope="module")
def run(install, tmp_path_factory) -> dict:
    installed = install(EXAMPLE)
    result = subprocess.run(
        [str(installed.home / "bin" / "python"), "-I", str(Path(__file__).with_name("run_example.py")),
         str(installed.project), PROJECT, LOG_GROUP],
        cwd=tmp_path_factory.mktemp("cwd"), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_make_wheel_writes_nothing_into_the_checkout(build):
    assert build.leftovers_after == build.leftovers_before  # no build/, no *.egg-info


def test_wheel_holds_every_module_and_the_catalog(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"trailwatch/{p.relative_to(ROOT / 'trailwatch').as_posix()}"
                for p in (ROOT / "trailwatch").rglob("*.py")}
    expected |= {f"trailwatch/components/{p.name}" for p in (ROOT / "components").glob("*.py")}
    assert expected <= names, sorted(expected - names)
    assert not [n for n in names if n.startswith(("tests/", "components/", "policy/", "examples/"))]
    packaged = zipfile.ZipFile(wheel).read("trailwatch/configs/detections.yaml")
    assert packaged == (ROOT / "configs" / "detections.yaml").read_bytes()
    for name in SAMPLE:  # the demo's sample, with its licence and NOTICE
        packaged = zipfile.ZipFile(wheel).read(f"trailwatch/examples/demo/{name}")
        assert packaged == (ROOT / "examples" / "demo" / name).read_bytes(), name


def test_wheel_metadata_version_ranges_and_console_script(wheel):
    archive = zipfile.ZipFile(wheel)
    meta = Parser().parsestr(archive.read(f"{DIST_INFO}/METADATA").decode())
    assert meta["Name"] == DISTRIBUTION and meta["Version"] == trailwatch.__version__
    assert meta["Requires-Python"] == ">=3.11"
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    ranges = {req.name: req.specifier for req in map(Requirement, meta.get_all("Requires-Dist"))}
    assert set(ranges) == set(pins)
    for name, pin in pins.items():  # each range starts at the version CI pins and tests, and has a ceiling
        lower = next(Version(s.version) for s in ranges[name] if s.operator == ">=")
        assert Version(pin) in ranges[name] and Version(pin).release[:len(lower.release)] == lower.release, name
        assert any(s.operator == "<" for s in ranges[name]), name
    entry_points = archive.read(f"{DIST_INFO}/entry_points.txt").decode()
    assert "trailwatch = trailwatch.cli:main" in entry_points


def test_only_the_wheels_trailwatch_is_imported(run, venv):
    assert Path(run["trailwatch"]).is_relative_to(venv)
    assert run["version"] == trailwatch.__version__
    assert str(ROOT) not in run["sys_path"] and "" not in run["sys_path"]


def test_example_composes_byo_trail_and_filters_with_a_custom_detection(run):
    resources = run["resources"]
    components = {r["type"]: r for r in resources if r["type"].startswith("trailwatch:")}
    assert set(components) == {"trailwatch:index:TrailToLogs", "trailwatch:index:MetricFilterSet"}
    assert not [r for r in resources if r["parent"] == "org-trail"]  # bring your own: nothing created
    filters = [r for r in resources if r["type"] == FILTER]
    assert len(filters) == len(resources) - 2
    assert {r["parent"] for r in filters} == {"security"}
    assert {r["inputs"]["logGroupName"] for r in filters} == {LOG_GROUP}
    by_id = {r["inputs"]["name"].removeprefix("platform-security-"): r for r in filters}
    assert {"secret_deletions", "access_denied", "root_usage"} <= set(by_id)
    assert "suspicious_source_ips" not in by_id  # off by default in the catalog, not enabled by the example
    custom = by_id["secret_deletions"]["inputs"]
    assert custom["pattern"] == ('{ ($.eventSource = "secretsmanager.amazonaws.com") && '
                                 '($.eventName = "DeleteSecret") }')
    assert custom["metricTransformation"]["name"] == "SecretDeletionCount"
    assert run["outputs"]["logGroupArn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{LOG_GROUP}"
    metrics = {m["detection"]: m for m in run["outputs"]["metrics"]}
    assert set(metrics) == set(by_id)
    assert metrics["root_usage"]["severity"] == "critical"  # the example's override


def test_console_script_runs_from_the_wheel(venv, tmp_path):
    result = subprocess.run([str(venv / "bin" / "trailwatch"), "match", "--pattern", '{ $.errorCode = "AccessDenied" }'],
                            input='{"errorCode": "AccessDenied"}\n{"errorCode": "Other"}\n', cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "0"]


def test_help_names_the_command_as_it_was_run(venv, tmp_path):
    script = subprocess.run([str(venv / "bin" / "trailwatch"), "--help"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert script.returncode == 0 and script.stdout.startswith("usage: trailwatch "), script.stdout
    assert "Run `trailwatch COMMAND --help`" in script.stdout
    module = subprocess.run([str(venv / "bin" / "python"), "-I", "-m", "trailwatch", "demo", "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert module.returncode == 0 and module.stdout.startswith("usage: python -m trailwatch demo "), module.stdout


def test_demo_finds_its_sample_from_any_folder(venv, tmp_path):
    probe = "from trailwatch.cli import build_parser; print(build_parser().parse_args(['demo']).events)"
    events = Path(subprocess.run([str(venv / "bin" / "python"), "-I", "-c", probe], cwd=tmp_path, capture_output=True,
                                 text=True, timeout=60, check=True).stdout.strip())
    assert events.is_relative_to(venv) and events.name == "cloudtrail-sample.jsonl"
    assert events.read_bytes() == (ROOT / "examples" / "demo" / "cloudtrail-sample.jsonl").read_bytes()


def test_installed_component_package_has_the_checkouts_schema(run):
    from pulumi.provider.experimental.component import ComponentProvider

    from components.provider import COMPONENTS, PACKAGE

    here = json.loads(ComponentProvider(COMPONENTS, PACKAGE, version=trailwatch.__version__).schema)
    assert run["schema"] == here  # same types, required inputs and descriptions from the wheel's sources


def resource_set(plan: dict) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in plan["resources"])


def test_whole_program_from_the_wheel_plans_like_the_checkout(venv, tmp_path):
    """A project folder with this repository's stack files and a two-line ``__main__.py`` importing the
    packaged program: ``trailwatch plan`` (run from there) registers what the checkout's program does."""
    shutil.copy2(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    # The wheel does not carry the adapter's Dockerfile: an installed package deploys a prebuilt adapter image.
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    dev["config"]["trailwatch:adapterImage"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/adapter@sha256:" + "a" * 64
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(dev))
    (tmp_path / "__main__.py").write_text("from trailwatch.components.program import main\n\nmain()\n")
    result = subprocess.run([str(venv / "bin" / "trailwatch"), "plan", "--stack", "dev", "--format", "json"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    installed = json.loads(result.stdout)
    checkout = subprocess.run([sys.executable, "-m", "trailwatch", "plan", "--stack", "dev", "--format", "json",
                               "--config-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                              check=True)
    expected = json.loads(checkout.stdout)
    assert resource_set(installed) == resource_set(expected)  # registration order varies between runs
    assert (installed["outputs"], installed["policy"]) == (expected["outputs"], expected["policy"])
    assert installed["policy"] == {"violations": []} and len(installed["resources"]) > 20
