"""Each consumer project's requirements.txt, installed as its README says into a fresh venv outside the checkout
with the package index reachable, installs this project's wheel under its own name: never the unrelated
``trailwatch`` the index serves."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile

import pytest
from wheel_support import CONSUMERS, DISTRIBUTION, pip
from packaging.utils import canonicalize_name

import trailwatch


def test_the_index_is_reachable_and_its_trailwatch_is_another_project():
    out = pip("index", "versions", "trailwatch")  # what an install of the bare name would fetch
    assert re.match(r"trailwatch \(\d", out), out


def test_there_are_consumers():
    assert {"examples/byo-log-group", "provider"} <= set(CONSUMERS)


@pytest.mark.parametrize("project", CONSUMERS)
def test_requirements_install_our_wheel_under_our_name(project, install, wheel):
    installed = install(project)
    by_name = {canonicalize_name(item["metadata"]["name"]): item for item in installed.report["install"]}
    assert "trailwatch" not in by_name
    ours = by_name[DISTRIBUTION]
    assert ours["download_info"]["url"] == (installed.dist / wheel.name).as_uri()
    assert ours["metadata"]["version"] == trailwatch.__version__

    python = str(installed.home / "bin" / "python")
    shown = pip("--python", python, "show", "--files", DISTRIBUTION)
    fields = dict(re.findall(r"^(Name|Version|Location): (.*)$", shown, re.M))
    assert fields["Name"] == DISTRIBUTION and fields["Version"] == trailwatch.__version__
    assert fields["Location"].startswith(str(installed.home))
    files = {line.strip() for line in shown.split("Files:", 1)[1].splitlines() if line.strip()}
    record = zipfile.ZipFile(wheel).read(f"pulumi_trailwatch-{trailwatch.__version__}.dist-info/RECORD").decode()
    packaged = {line.split(",")[0] for line in record.splitlines() if line.startswith("trailwatch/")}
    assert {f for f in packaged if f.startswith("trailwatch/components/")} and packaged <= files

    other = subprocess.run([sys.executable, "-m", "pip", "--python", python, "show", "trailwatch"],
                           capture_output=True, text=True, timeout=60)
    assert other.returncode == 1 and "not found" in other.stderr  # no distribution named trailwatch
    owner = subprocess.run([python, "-I", "-c", "import importlib.metadata as m, trailwatch; "
                            "print(trailwatch.__file__); print(*m.packages_distributions()['trailwatch'])"],
                           capture_output=True, text=True, timeout=60, check=True).stdout.split("\n")
    assert owner[0].startswith(str(installed.home)) and owner[1] == DISTRIBUTION
