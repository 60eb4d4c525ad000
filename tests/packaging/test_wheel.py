"""The built wheel (conftest: ``make wheel``), installed in clean venvs outside the checkout through the consumer
projects' requirements, runs both examples under mocks with the policy pack (the Python one in its own venv, the
Pulumi YAML one over the component provider's venv), the whole program, and the ``trailwatch`` command anywhere."""

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
from pulumi.runtime import rpc
from wheel_support import DISTRIBUTION, ROOT
from packaging.requirements import Requirement
from packaging.version import Version

import trailwatch

EXAMPLE = "examples/byo-log-group"
YAML_EXAMPLE = "examples/yaml-byo-log-group"
LOG_GROUP = "/org/cloudtrail-test"
SIG = "sigWHEELtestDoNotLeak"
CONFIG = {"logGroupName": LOG_GROUP,
          "eksOidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE",
          "teamsWebhookUrl": f"https://prod-00.westeurope.environment.api.powerplatform.com/workflows/1?sig={SIG}",
          "secret": ["teamsWebhookUrl"]}
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
IMAGE = "docker-build:index:Image"
DIST_INFO = f"pulumi_trailwatch-{trailwatch.__version__}.dist-info"
SAMPLE = ("cloudtrail-sample.jsonl", "NOTICE", "LICENSE-Apache-2.0.txt")
#: What TeamsAdapter builds the adapter image from, shipped as package data (trailwatch/docker/adapter/).
BUILD_FILES = ("Dockerfile", "Dockerfile.dockerignore", "requirements.txt")


@pytest.fixture(scope="module")
def venv(install) -> Path:
    return install(EXAMPLE).home


def run_example(home: Path, project: Path, cwd: Path) -> dict:
    """run_example.py's report of ``project`` run by the venv ``home``, with ``venv`` added."""
    result = subprocess.run([str(home / "bin" / "python"), "-I", str(Path(__file__).with_name("run_example.py")),
                             str(project), json.dumps(CONFIG)], cwd=cwd, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return {**json.loads(result.stdout), "venv": home}


def plaintext(value) -> list[str]:
    """Every string of a registration's inputs outside a secret."""
    if rpc.is_rpc_secret(value):
        return []
    if isinstance(value, dict):
        return [text for item in value.values() for text in plaintext(item)]
    if isinstance(value, list):
        return [text for item in value for text in plaintext(item)]
    return [value] if isinstance(value, str) else []


@pytest.fixture(scope="module")
def run(install, tmp_path_factory) -> dict:
    """The Python example, in the venv its requirements.txt made."""
    installed = install(EXAMPLE)
    return run_example(installed.home, installed.project, tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="module")
def yaml_run(install, tmp_path_factory) -> dict:
    """The YAML example beside the component provider (``packages: trailwatch: ../../provider``), evaluated in
    the venv the provider's requirements.txt made (what ``pulumi package add`` installs)."""
    provider = install("provider")
    project = provider.project.parent / YAML_EXAMPLE
    shutil.copytree(ROOT / YAML_EXAMPLE, project)
    assert (project / "../../provider/PulumiPlugin.yaml").resolve().is_file()
    return run_example(provider.home, project, tmp_path_factory.mktemp("cwd"))


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
    for name in BUILD_FILES:  # what the adapter image is built from
        packaged = zipfile.ZipFile(wheel).read(f"trailwatch/docker/adapter/{name}")
        assert packaged == (ROOT / "docker" / "adapter" / name).read_bytes(), name


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


@pytest.mark.parametrize("example", ["run", "yaml_run"])
def test_only_the_wheels_trailwatch_is_imported(example, request):
    ran = request.getfixturevalue(example)
    assert Path(ran["trailwatch"]).is_relative_to(ran["venv"]) and ran["version"] == trailwatch.__version__
    assert str(ROOT) not in ran["sys_path"] and "" not in ran["sys_path"]


@pytest.mark.parametrize("example", ["run", "yaml_run"])
def test_example_builds_the_whole_chain_and_passes_the_pack(example, request):
    """Existing log group -> filters (a custom detection among them) -> exporter -> Teams adapter -> rules on
    Kubernetes, from the installed wheel: nothing of the trail is created, the exporter, the adapter and the
    rules cover exactly the filters' detections, the Workflows URL stays a secret, and the pack finds nothing."""
    ran = request.getfixturevalue(example)
    resources = ran["resources"]
    components = {r["type"]: r for r in resources if r["type"].startswith("trailwatch:")}
    assert set(components) == {f"trailwatch:index:{name}" for name in (
        "TrailToLogs", "MetricFilterSet", "CloudWatchExporter", "TeamsAdapter", "AlertRules")}
    trail = components["trailwatch:index:TrailToLogs"]["name"]
    assert not [r for r in resources if r["parent"] == trail]  # bring your own: nothing created
    filters = [r for r in resources if r["type"] == FILTER]
    assert {r["inputs"]["logGroupName"] for r in filters} == {LOG_GROUP}
    by_id = {r["inputs"]["name"].removeprefix("platform-security-"): r for r in filters}
    assert {"secret_deletions", "access_denied", "root_usage"} <= set(by_id)
    assert "suspicious_source_ips" not in by_id  # off by default in the catalog, not enabled by the example
    custom = by_id["secret_deletions"]["inputs"]
    assert custom["pattern"] == ('{ ($.eventSource = "secretsmanager.amazonaws.com") && '
                                 '($.eventName = "DeleteSecret") }')
    assert custom["metricTransformation"]["name"] == "SecretDeletionCount"
    assert ran["outputs"]["logGroupArn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{LOG_GROUP}"
    metrics = {m["detection"]: m for m in ran["outputs"]["metrics"]}
    assert set(metrics) == set(by_id) and metrics["root_usage"]["severity"] == "critical"  # the override
    kinds = {r["type"].split(":")[-1] for r in resources if r["type"].startswith("kubernetes:")}
    assert {"Deployment", "PrometheusRule", "AlertmanagerConfig", "ServiceMonitor", "NetworkPolicy"} <= kinds
    assert ran["outputs"]["teamsAdapterUrl"].endswith(".monitoring.svc:8080/alerts")
    assert [r["name"] for r in resources if any(SIG in text for text in plaintext(r["inputs"]))] == []
    assert [r["type"] for r in resources if SIG in json.dumps(r["inputs"])] == ["kubernetes:core/v1:Secret"]
    assert SIG not in json.dumps(ran["outputs"])
    assert [v for v in ran["violations"] if v["level"] == "mandatory"] == [], ran["violations"]


@pytest.mark.parametrize("example", ["run", "yaml_run"])
def test_the_adapter_image_is_built_from_what_the_wheel_ships(example, request):
    """No image given: TeamsAdapter builds the Dockerfile the wheel installed, with the installed trailwatch
    package as its context, into the same tag as the checkout's sources (they are the same files)."""
    from components.teams_adapter import source_hash

    ran = request.getfixturevalue(example)
    (image,) = [r["inputs"] for r in ran["resources"] if r["type"] == IMAGE]
    context = Path(image["context"]["location"])
    dockerfile = Path(image["dockerfile"]["location"])
    assert dockerfile == context / "trailwatch" / "docker" / "adapter" / "Dockerfile" and dockerfile.is_file()
    assert Path(ran["trailwatch"]).parent == context / "trailwatch" and not context.is_relative_to(ROOT)
    assert image["buildArgs"] == {"REQUIREMENTS": "trailwatch/docker/adapter/requirements.txt"}
    assert (context / image["buildArgs"]["REQUIREMENTS"]).read_bytes() == (
        ROOT / "docker" / "adapter" / "requirements.txt").read_bytes()
    (tag,) = image["tags"]
    assert tag.endswith(f":src-{source_hash()}")


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


@pytest.mark.parametrize("example", ["run", "yaml_run"])
def test_installed_component_package_has_the_checkouts_schema(example, request):
    from pulumi.provider.experimental.component import ComponentProvider

    from components.provider import COMPONENTS, PACKAGE

    here = json.loads(ComponentProvider(COMPONENTS, PACKAGE, version=trailwatch.__version__).schema)
    assert request.getfixturevalue(example)["schema"] == here  # same types, inputs and descriptions


def resource_set(plan: dict) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in plan["resources"])


def test_whole_program_from_the_wheel_plans_like_the_checkout(venv, tmp_path):
    """A project folder with this repository's stack files and a two-line ``__main__.py`` importing the
    packaged program: ``trailwatch plan`` (run from there) registers what the checkout's program does."""
    shutil.copy2(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    # An adapter image by digest: a build's context is where each copy is installed, which would differ.
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


def test_whole_program_from_the_wheel_builds_the_adapter_image_it_ships(venv, tmp_path):
    """The same project without adapterImage: the packaged program builds the adapter from the wheel's Dockerfile
    (it used to stop with a traceback asking for the repository), and the pack finds nothing."""
    shutil.copy2(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy2(ROOT / "Pulumi.dev.yaml", tmp_path / "Pulumi.dev.yaml")
    (tmp_path / "__main__.py").write_text("from trailwatch.components.program import main\n\nmain()\n")
    result = subprocess.run([str(venv / "bin" / "trailwatch"), "plan", "--stack", "dev", "--format", "json"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    (image,) = [r["inputs"] for r in plan["resources"] if r["type"] == IMAGE]
    assert Path(image["dockerfile"]["location"]).is_relative_to(venv)
    assert plan["policy"] == {"violations": []}
