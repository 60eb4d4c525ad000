"""``python -m trailwatch render``: writes exactly what ``render_all`` returns; bad input is one line, exit 2."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest
import yaml

from trailwatch.cli import main
from trailwatch.render.options import RenderError
from trailwatch.render.files import ADAPTER_CONFIG_FILE, INDEX_FILE, RULES_FILE, render_all
from trailwatch.render.output import MANIFEST, write_render
from trailwatch.stack import PROJECT_ROOT, load_stack


def written(root):
    return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file() and p.name != MANIFEST}


def test_render_writes_every_file_and_a_manifest(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["render", "--stack", "dev", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert stdout.count("\n") == 1 and "INDEX.md" in stdout
    files = written(out)
    assert files == render_all(load_stack("dev"))
    assert ADAPTER_CONFIG_FILE in files and INDEX_FILE in files
    assert (out / MANIFEST).read_text().splitlines() == sorted(files)


def test_folder_with_other_files_is_refused_and_untouched(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("mine.txt", "a.txt", "b.txt", "c.txt"):
        (out / name).write_text("keep")
    assert main(["render", "--stack", "dev", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"error: --out: {out} holds files a render did not write (a.txt, b.txt, c.txt and more); choose an empty or "
        f"new folder (a render replaces the whole folder)\n")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt", "c.txt", "mine.txt"]


def test_file_added_inside_an_earlier_render_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["render", "--stack", "dev", "--out", str(out)]) == 0
    (out / "prometheus" / "mine.yml").write_text("keep")
    assert main(["render", "--stack", "dev", "--out", str(out)]) == 2
    assert capsys.readouterr().err.endswith(
        "holds files a render did not write (prometheus/mine.yml); choose an empty or new folder (a render "
        "replaces the whole folder)\n")
    assert (out / "prometheus" / "mine.yml").read_text() == "keep"


def test_rerender_in_another_mode_leaves_no_stale_files(tmp_path):
    out = tmp_path / "out"
    assert main(["render", "--stack", "dev", "--out", str(out), "--mode", "adapter"]) == 0
    assert (out / ADAPTER_CONFIG_FILE).exists()
    assert main(["render", "--stack", "dev", "--out", str(out), "--mode", "native"]) == 0
    files = written(out)
    assert files == render_all(load_stack("dev"), "native")
    assert ADAPTER_CONFIG_FILE not in files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging or old folders left


def test_failure_half_way_keeps_the_earlier_render(tmp_path):
    out = tmp_path / "out"
    write_render(out, {"INDEX.md": "first\n", "prometheus/rules.yml": "r\n"})
    with pytest.raises(RenderError) as info:  # "INDEX.md" is a file, so "INDEX.md/x" cannot be written
        write_render(out, {"a.yml": "new\n", "INDEX.md": "second\n", "INDEX.md/x": "y\n"})
    assert str(info.value) == f"--out: cannot write {out / 'INDEX.md'} (File exists); nothing was changed"
    assert written(out) == {"INDEX.md": "first\n", "prometheus/rules.yml": "r\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_no_rendered_file_holds_a_secret_and_all_are_0644(tmp_path):
    out = tmp_path / "out"
    stack = load_stack("dev")
    assert main(["render", "--stack", "dev", "--out", str(out), "--mode", "adapter"]) == 0
    modes = {str(p.relative_to(out)): stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    assert set(modes.values()) == {0o644}
    # the Workflows URL and the adapter's token are only named by path, never written
    secret = stack.settings.teams_webhook_url
    assert secret and not any(secret in text for text in written(out).values())


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
    (["--stack", "dev", "--out", "{tmp}/o", "--adapter-url", "notaurl"],
     "error: --adapter-url: must be an http:// or https:// URL with a host, e.g. "
     "http://trailwatch-adapter:8080/alerts (got 'notaurl')\n"),
    (["--stack", "dev", "--out", "{tmp}/o", "--adapter-url", "ftp://host/x"], "error: --adapter-url: must be an http"),
    (["--stack", "dev", "--out", "{tmp}/o", "--adapter-url", "http://:2000/x"], "error: --adapter-url: must be an http"),
    (["--stack", "dev", "--out", "{tmp}/o", "--adapter-url", "http://h:99999/x"], "error: --adapter-url: must be an"),
    (["--stack", "dev", "--out", "{tmp}/o", "--adapter-url", "http://u:p@h/x"], "error: --adapter-url: must be an"),
    (["--stack", "dev", "--out", "{tmp}/o", "--mode", "native", "--adapter-url", "http://h:1/x"],
     "error: --adapter-url: only used in adapter mode (this render is native mode)\n"),
    (["--stack", "dev", "--out", "{tmp}/o", "--exporter-target", "exporter"],
     "error: --exporter-target: must be host:port with a port from 1 to 65535, e.g. cloudwatch-exporter:9106 "
     "(got 'exporter')\n"),
    (["--stack", "dev", "--out", "{tmp}/o", "--exporter-target", "http://h:9106"], "error: --exporter-target: must"),
    (["--stack", "dev", "--out", "{tmp}/o", "--exporter-target", "h:0"], "error: --exporter-target: must"),
    (["--stack", "dev", "--out", "{tmp}/o", "--exporter-target", ""], "error: --exporter-target: must"),
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


@pytest.mark.parametrize("url", ["http://prometheus-msteams:2000/trailwatch", "https://adapter.example.org/x",
                                 "http://[::1]:2000/trailwatch", "http://10.0.0.5:2000/t"])
def test_valid_adapter_urls_render_a_config_amtool_accepts(tmp_path, url):
    from tools import run_tool

    assert main(["render", "--stack", "dev", "--out", str(tmp_path / "o"), "--mode", "adapter",
                 "--adapter-url", url, "--exporter-target", "[::1]:9106"]) == 0
    done = run_tool("amtool", "check-config", str(tmp_path / "o" / "alertmanager" / "alertmanager.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
