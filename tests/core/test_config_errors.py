"""Stack files: every per-key error at once (capped), "did you mean", no YAML aliases, stack names that are
not paths, and a config folder that exists; each with its exact message and exit code 2."""

from __future__ import annotations

import pytest
from limits import run_limited

from trailwatch.errors import MAX_REPORTED, ConfigErrors
from trailwatch.errors import ConfigError
from trailwatch.stack import load_stack

BAD_FILE = """config:
  aws:region: us-east-1
  trailwatch:logRetentionDay: 90
  trailwatch:runtime: nomad
  trailwatch:multiRegionTrail: maybe
  trailwatch:zzzz: 1
"""

BILLION_LAUGHS = "config:\n  a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"  {chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9))


def write(tmp_path, name, text):
    (tmp_path / f"Pulumi.{name}.yaml").write_text(text)
    return tmp_path


@pytest.mark.parametrize("command", ["plan", "render", "replay"])
def test_all_errors_of_a_file_at_once_with_did_you_mean(tmp_path, command):
    write(tmp_path, "x", BAD_FILE)
    extra = {"plan": [], "render": ["--out", str(tmp_path / "out")], "replay": [str(tmp_path)]}[command]
    done = run_limited([command, "--stack", "x", "--config-dir", str(tmp_path), *extra])
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.decode().splitlines() == [
        "error: config 'trailwatch:logRetentionDay': unknown key (did you mean 'logRetentionDays'?)",
        "error: config 'trailwatch:multiRegionTrail': must be true or false (got 'maybe')",
        "error: config 'trailwatch:runtime': must be one of kubernetes, docker, none (got 'nomad')",
        "error: config 'trailwatch:zzzz': unknown key (see docs/configuration.md for the keys)",
    ]


FOUR_KINDS = """config:
  aws:region: us-east-1
  trailwatch:runtime: podman
  trailwatch:suspiciousIps: ["999.1.1.1"]
  trailwatch:enableDetections: [no_such_detection]
  trailwatch:detectionOverrides: {root_usage: {threshold: -3}}
  trailwatch:bucketTransitionDays: 400
  trailwatch:bucketExpirationDays: 300
"""


def test_own_cross_key_and_catalog_errors_come_in_one_run(tmp_path):
    """Two values bad on their own, one unknown detection id, one bad override and one pair of keys that
    disagree: five lines in one run; the refused keys' defaults add nothing of their own."""
    write(tmp_path, "x", FOUR_KINDS)
    done = run_limited(["plan", "--stack", "x", "--config-dir", str(tmp_path)])
    assert done.returncode == 2 and done.stdout == b""
    lines = done.stderr.decode().splitlines()
    assert [line.split(":", 3)[2].split("'")[0] for line in lines] == [
        "runtime", "suspiciousIps", "bucketTransitionDays", "enableDetections", "detectionOverrides.root_usage"], lines
    assert "unknown detection 'no_such_detection'" in lines[3] and "threshold: must be a whole number" in lines[4]


def test_errors_are_capped(tmp_path):
    keys = "".join(f"  trailwatch:unknown{i}: 1\n" for i in range(MAX_REPORTED + 5))
    write(tmp_path, "many", "config:\n  aws:region: us-east-1\n" + keys)
    with pytest.raises(ConfigErrors) as info:
        load_stack("many", tmp_path)
    assert len(info.value.errors) == MAX_REPORTED + 5
    lines = str(info.value).splitlines()
    assert len(lines) == MAX_REPORTED + 1
    assert lines[-1] == "... and 5 more config errors"


@pytest.mark.parametrize("command", ["plan", "render", "replay"])
def test_billion_laughs_is_refused_fast_and_small(tmp_path, command):
    write(tmp_path, "lol", BILLION_LAUGHS)
    extra = {"plan": [], "render": ["--out", str(tmp_path / "out")], "replay": [str(tmp_path)]}[command]
    done = run_limited([command, "--stack", "lol", "--config-dir", str(tmp_path), *extra], memory=512 << 20)
    assert (done.returncode, done.stdout, done.stderr.decode()) == (2, b"", (
        "error: Pulumi.lol.yaml: not valid YAML (line 3: YAML aliases (*a) are not allowed in stack files; "
        "write the value out)\n"))


@pytest.mark.parametrize("name", ["../x", "a/b", ".", "..", "x y", ""])
def test_path_like_stack_name(tmp_path, name):
    with pytest.raises(ConfigError) as info:
        load_stack(name, tmp_path)
    assert str(info.value) == (
        f"--stack {name!r}: a stack name is letters, digits, '-', '_' and '.', not a path; to read "
        f"Pulumi.<stack>.yaml from another folder, pass that folder as --config-dir")


def test_missing_config_folder(tmp_path):
    done = run_limited(["plan", "--config-dir", str(tmp_path / "nope")])
    assert (done.returncode, done.stderr.decode()) == (
        2, f"error: --config-dir {tmp_path / 'nope'}: does not exist (the folder holding Pulumi.<stack>.yaml)\n")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError) as info:
        load_stack("dev", tmp_path / "file")
    assert str(info.value) == (
        f"--config-dir {tmp_path / 'file'}: is not a folder (the folder holding Pulumi.<stack>.yaml)")
