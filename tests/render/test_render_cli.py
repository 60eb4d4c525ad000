"""``python -m trailwatch render``: writes exactly what ``render_all`` returns; bad input is one line, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from trailwatch.cli import main
from trailwatch.render.files import INDEX_FILE, ADAPTER_CONFIG_FILE, RULES_FILE, render_all
from trailwatch.stack import PROJECT_ROOT, load_stack


def written(root):
    return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}


def test_render_writes_every_file_and_leaves_others_alone(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert main(["render", "--stack", "dev", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert stdout.count("\n") == 1 and "INDEX.md" in stdout
    files = written(out)
    assert files.pop("mine.txt") == "keep"
    assert files == render_all(load_stack("dev"))
    assert ADAPTER_CONFIG_FILE in files and INDEX_FILE in files


def test_mode_overrides_the_stacks_teams_mode(tmp_path):
    assert main(["render", "--stack", "dev", "--out", str(tmp_path), "--mode", "native",
                 "--account-id", "123456789012"]) == 0
    files = written(tmp_path)
    assert ADAPTER_CONFIG_FILE not in files
    assert 'integration="msteamsv2"' in files[RULES_FILE] and "aws_account_id" in files[RULES_FILE]
    assert "msteamsv2_configs" in files["alertmanager/alertmanager.yml"]


@pytest.mark.parametrize("args, message", [
    (["--stack", "nope", "--out", "{tmp}/o"], "error: stack 'nope': no file Pulumi.nope.yaml"),
    (["--stack", "dev"], "error: --out: required"),
    (["--stack", "dev", "--out", "{tmp}/o", "--mode", "teams"], "error: mode: must be one of adapter, native"),
    (["--stack", "dev", "--out", "{tmp}/file"], "error: --out: "),
    (["--stack", "dev", "--out", "{tmp}/o", "--account-id", "12"], "error: account id: must be 12 digits"),
    (["--stack", "bad", "--out", "{tmp}/o", "--config-dir", "{tmp}"], "error: config 'aws:region'"),
])
def test_bad_input_is_one_error_line_and_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "file").write_text("x")
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump({"config": {"aws:region": "mars-1"}}))
    code = main(["render", *[a.replace("{tmp}", str(tmp_path)) for a in args]])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_module_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "trailwatch", "render", "--stack", "dev", "--out", str(tmp_path)],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "prometheus" / "trailwatch-rules.test.yml").is_file()
