"""The real Prometheus tools from `make tools` are present and recent enough."""

from __future__ import annotations

import pytest

import tools
from tools import MIN_VERSIONS, TOOL_NAMES, parse_version, run_tool, tool_path


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_tool_reports_sufficient_version(name: str) -> None:
    result = run_tool(name, "--version")
    assert result.returncode == 0, f"{tool_path(name)} --version failed: {result.stderr}"
    output = result.stdout + result.stderr
    # Debian names the alertmanager binary prometheus-alertmanager; it still says "alertmanager".
    assert output.startswith(f"{name}, version "), output
    version = parse_version(output)
    minimum = MIN_VERSIONS[name]
    assert version >= minimum, (
        f"{name} {'.'.join(map(str, version))} is older than {'.'.join(map(str, minimum))}: "
        "run `make tools`"
    )


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("promtool, version 2.53.3+ds1 (branch: debian/sid, revision: 2.53.3+ds1-2)", (2, 53, 3)),
        ("alertmanager, version 0.28.1+ds (branch: debian/sid)", (0, 28, 1)),
        ("prometheus, version 3.5.0 (branch: HEAD, revision: abc)", (3, 5, 0)),
    ],
)
def test_parse_version(output: str, expected: tuple[int, ...]) -> None:
    assert parse_version(output) == expected


def test_missing_tool_is_an_error_naming_make_tools(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(tools, "TOOLS_BIN", tmp_path)
    with pytest.raises(tools.ToolMissingError, match="make tools"):
        tools.promtool()


def test_promtool_checks_a_rule_file(tmp_path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n"
        "  - name: smoke\n"
        "    rules:\n"
        "      - alert: Smoke\n"
        "        expr: sum(max_over_time(up[30m])) > 0\n"
    )
    result = run_tool("promtool", "check", "rules", rules)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rules found" in result.stdout


def test_amtool_knows_msteamsv2(tmp_path) -> None:
    # msteamsv2_configs exists only from Alertmanager 0.28: the reason the bookworm tools are not enough.
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route: {receiver: teams}\n"
        "receivers:\n"
        "  - name: teams\n"
        "    msteamsv2_configs:\n"
        "      - webhook_url: http://127.0.0.1:9/hook\n"
    )
    result = run_tool("amtool", "check-config", config)
    assert result.returncode == 0, result.stdout + result.stderr
