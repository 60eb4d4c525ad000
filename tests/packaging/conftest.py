"""One wheel per session, built as the README says (``make wheel``), and fresh venvs outside the checkout that
install a consumer project's requirements.txt as its README says: the wheel offered through the file's
``--find-links``, the package index reachable.

A fresh venv sees the third-party packages of the project's venv through a .pth file (so the install resolves
them without downloading), but never this project's own install there (``make`` adds it, editable): its only
``pulumi-trailwatch`` is what the requirements install.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
from wheel_support import ROOT, pip


def build_leftovers() -> set[str]:
    return {p.name for p in ROOT.iterdir() if p.name == "build" or p.name.endswith(".egg-info")}


@dataclass(frozen=True)
class Build:
    wheel: Path
    leftovers_before: set[str]
    leftovers_after: set[str]


@dataclass(frozen=True)
class Installed:
    home: Path  #: the venv
    project: Path  #: the consumer project's copy, at the same place relative to dist/ as in the checkout
    dist: Path  #: the copy's dist/, holding the wheel
    report: dict  #: pip's installation report


@pytest.fixture(scope="session")
def build(tmp_path_factory) -> Build:
    dist = tmp_path_factory.mktemp("dist")
    before = build_leftovers()
    # -o: build with the venv as it is (never reinstall it in the middle of a test run)
    result = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", "wheel", f"PY={sys.executable}",
                             f"DIST={dist}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (built,) = dist.glob("pulumi_trailwatch-*.whl")
    return Build(built, before, build_leftovers())


@pytest.fixture(scope="session")
def wheel(build) -> Path:
    return build.wheel


@pytest.fixture(scope="session")
def third_party(tmp_path_factory) -> Path:
    view = tmp_path_factory.mktemp("third-party")
    for entry in Path(sysconfig.get_path("purelib")).iterdir():
        if not entry.name.startswith(("pulumi_trailwatch", "__editable__", "trailwatch")):
            (view / entry.name).symlink_to(entry)
    return view


@pytest.fixture(scope="session")
def install(wheel, third_party, tmp_path_factory):
    done: dict[str, Installed] = {}

    def installed(project: str) -> Installed:
        if project not in done:
            checkout = tmp_path_factory.mktemp("consumer")
            shutil.copytree(wheel.parent, checkout / "dist")
            shutil.copytree(ROOT / project, checkout / project, ignore=shutil.ignore_patterns("__pycache__", "venv"))
            home = checkout / "venv"
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True, timeout=60)
            purelib = subprocess.run([str(home / "bin" / "python"), "-c",
                                      "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                     check=True, capture_output=True, text=True).stdout.strip()
            Path(purelib, "third-party.pth").write_text(f"{third_party}\n")
            report = checkout / "install-report.json"
            pip("--python", str(home / "bin" / "python"), "install", "--report", str(report), "-r", "requirements.txt",
                cwd=checkout / project)
            done[project] = Installed(home, checkout / project, checkout / "dist", json.loads(report.read_text()))
        return done[project]

    return installed
