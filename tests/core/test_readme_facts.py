"""Facts in the README and docs/ that drift unless generated or checked: alert names, test counts, how to run
the commands, and the CLI's help text."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from pathlib import Path

from stacks import deployer_exception, make_stack
from trailwatch.catalog import load_catalog
from trailwatch.docs import alert_names
from trailwatch.render import RULES_FILE, render_all


def pages(root: Path) -> dict[str, str]:
    """The README and every docs page, by path."""
    paths = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in paths}


def test_every_alert_name_in_the_docs_exists(repo_root):
    named = {page: set(re.findall(r"\bTrailwatch[A-Z][A-Za-z0-9]*\b", text)) for page, text in pages(repo_root).items()}
    assert named["README.md"] and named["docs/detections.md"], "the README and the detections page name alerts"
    known = alert_names(load_catalog())
    assert {page: names - known for page, names in named.items() if names - known} == {}


def test_alert_names_are_the_ones_the_rules_carry():
    everything = [d.id for d in load_catalog() if not d.enabled and d.pattern]
    stack = make_stack(enableDetections=everything, exceptions=[deployer_exception(["iam_policy_changes"])])
    groups = yaml.safe_load(render_all(stack)[RULES_FILE])["groups"]
    rendered = {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}
    assert rendered == alert_names([d for d in load_catalog() if d.id in {x.id for x in stack.detections}])


def test_no_hand_typed_test_counts(repo_root):
    for page, text in pages(repo_root).items():
        assert re.findall(r"\b\d[\d,]*\s+(?:tests|test cases)\b", text) == [], page


def test_the_docs_run_the_commands_with_the_projects_virtualenv(repo_root):
    commands = {page: re.findall(r"^ *([^\s`]*python) -m trailwatch[ .]", text, flags=re.M)
                for page, text in pages(repo_root).items()}
    assert commands["README.md"] and commands["docs/replay.md"]
    assert {python for found in commands.values() for python in found} == {".venv/bin/python"}
    assert "`. .venv/bin/activate`" in pages(repo_root)["README.md"]


def test_help_is_plain_text_for_users(repo_root):
    done = subprocess.run([sys.executable, "-m", "trailwatch", "--help"], cwd=repo_root, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    assert "``" not in done.stdout and "module" not in done.stdout
    assert "Trailwatch offline tools: preview a stack, render its files, and test filter patterns" in " ".join(
        done.stdout.split())
    assert "Exit codes: 0 success, 1 policy violations (plan) or nothing usable read (replay), 2 bad input." in " ".join(
        done.stdout.split())
