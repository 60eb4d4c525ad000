"""``make`` installs the project into its own venv, editable: the venv's ``trailwatch`` command runs from any
folder on the checkout's sources."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

from wheel_support import DISTRIBUTION, ROOT


def test_the_project_is_installed_editable_from_this_checkout():
    direct = json.loads(distribution(DISTRIBUTION).read_text("direct_url.json") or "{}")
    assert direct.get("dir_info", {}).get("editable") and direct["url"] == ROOT.as_uri(), direct


def test_the_venvs_trailwatch_command_runs_anywhere(tmp_path):
    script = Path(sys.executable).with_name("trailwatch")
    result = subprocess.run([str(script), "match", "--pattern", '{ $.errorCode = "AccessDenied" }'],
                            input='{"errorCode": "AccessDenied"}\n', cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.split() == ["1"], result.stderr
    module = subprocess.run([sys.executable, "-m", "trailwatch", "--help"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert module.returncode == 0 and module.stdout.startswith("usage: python -m trailwatch "), module.stderr
