"""The rendered files of every example stack (and of unusual timings) pass the real tools.

promtool checks and unit-tests the rules, amtool checks both Alertmanager modes, promtool checks a
prometheus.yml built from the scrape snippet; the exporter config and dashboard get structural checks
(there is no offline validator for them). A missing tool is an error, never a skip.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from render_support import STACKS, adapter_metric_names, metric_names, unit_test_modes
from stacks import make_stack
from tools import run_tool

from trailwatch.render import files as F
from trailwatch.render.adapter import adapter_config
from trailwatch.render.alertmanager import combined_config
from trailwatch.contract import TEAMS_MODES as MODES
from trailwatch.series import excepted_name
from trailwatch.stack import stack_excepted_filters

# cloudwatch_exporter's configuration keys (CloudWatchCollector.loadConfig, v0.16-v0.18).
EXPORTER_TOP_KEYS = {"region", "role_arn", "period_seconds", "range_seconds", "delay_seconds", "set_timestamp",
                     "use_get_metric_data", "list_metrics_cache_ttl", "warn_on_empty_list_dimensions", "metrics"}
EXPORTER_METRIC_KEYS = {"aws_namespace", "aws_metric_name", "help", "aws_dimensions", "aws_dimension_select",
                        "aws_dimension_select_regex", "aws_statistics", "aws_extended_statistics", "period_seconds",
                        "range_seconds", "delay_seconds", "set_timestamp", "use_get_metric_data",
                        "warn_on_empty_list_dimensions", "aws_tag_select", "list_metrics_cache_ttl"}
#: Series the dashboard may query that do not come from CloudWatch metric filters.
NON_CLOUDWATCH = {"ALERTS", "up", "cloudwatch_exporter_scrape_error", "cloudwatch_exporter_scrape_duration_seconds",
                  "cloudwatch_requests_total", "alertmanager_notifications_failed_total"}

@pytest.fixture(params=list(STACKS))
def rendered(request, rendered_stacks) -> dict:
    return {**rendered_stacks[request.param], "name": request.param}


@pytest.mark.parametrize("mode", MODES)
def test_promtool_checks_and_unit_tests_the_rules(rendered, mode):
    root, _ = rendered[mode]
    check = run_tool("promtool", "check", "rules", root / F.RULES_FILE)
    assert check.returncode == 0, check.stdout + check.stderr
    run = rendered["runs"].get(mode)
    if run is None:
        assert mode not in unit_test_modes(rendered["name"], rendered["stack"])
        return
    output, _ = run.communicate(timeout=120)
    assert run.returncode == 0, output
    assert "SUCCESS" in output


@pytest.mark.parametrize("mode", MODES)
def test_amtool_accepts_the_example_alertmanager_config(rendered, mode):
    root, files = rendered[mode]
    result = run_tool("amtool", "check-config", root / F.AM_EXAMPLE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(files[F.AM_EXAMPLE_FILE])
    teams = config["receivers"][1]
    assert ("webhook_configs" in teams) == (mode == "adapter")
    assert ("msteamsv2_configs" in teams) == (mode == "native")
    fragment = yaml.safe_load(files[F.AM_FRAGMENT_FILE])
    assert config["route"]["routes"] == [fragment["route"]]
    assert config["inhibit_rules"] == fragment["inhibit_rules"]


def test_promtool_accepts_a_prometheus_config_built_from_the_scrape_snippet(rendered):
    root, files = rendered["adapter"]
    snippet = yaml.safe_load(files[F.SCRAPE_FILE])
    job = snippet["scrape_configs"][0]
    assert "honor_labels" not in job  # default false: the exporter's job arrives as exported_job
    assert job["scrape_interval"] == f"{rendered['stack'].settings.scrape_interval_seconds // 60}m" or \
        job["scrape_interval"].endswith("s")
    config = root / "prometheus" / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"evaluation_interval": "1m"},
                                      "rule_files": [Path(F.RULES_FILE).name], **snippet}))
    result = run_tool("promtool", "check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_exporter_config_uses_only_known_keys_and_no_dimensions(rendered):
    stack = rendered["stack"]
    config = yaml.safe_load(rendered["adapter"][1][F.EXPORTER_FILE])
    assert set(config) <= EXPORTER_TOP_KEYS and config["region"] == stack.settings.region
    read = {(m["aws_namespace"], m["aws_metric_name"]) for m in config["metrics"]}
    assert len(read) == len(config["metrics"])
    assert read == ({(d.namespace, d.metric) for d in stack.detections}
                    | {(f.namespace, f.metric) for f in stack_excepted_filters(stack)})
    for metric in config["metrics"]:
        assert set(metric) <= EXPORTER_METRIC_KEYS
        assert "aws_dimensions" not in metric
        # one sliding-window bucket per read, stamped with the scrape time
        assert metric["aws_statistics"] == ["Sum"] and metric["set_timestamp"] is False
        assert metric["period_seconds"] % 60 == 0 and metric["range_seconds"] == metric["period_seconds"] - 60
        assert metric["period_seconds"] in (stack.settings.alert_window_minutes * 60,
                                            stack.settings.heartbeat_missing_minutes * 60)
        assert metric["delay_seconds"] == stack.settings.exporter_delay_seconds


def test_dashboard_is_grafana_json_querying_only_exported_names(rendered):
    stack = rendered["stack"]
    files = rendered["adapter"][1]
    board = json.loads(files[F.DASHBOARD_FILE])
    excepted = {excepted_name(stack, f) for f in stack_excepted_filters(stack)}
    exported = {det.exported_name for det in stack.detections} | excepted
    assert board["uid"] and board["schemaVersion"] >= 36 and board["panels"]
    # a collapsed row keeps its panels inside it; they are laid out below the row as if it were open
    panels = [p for top in board["panels"] for p in (top, *top.get("panels", []))]
    ids, used = set(), set()
    for panel in panels:
        assert panel["id"] not in ids and panel["title"]
        ids.add(panel["id"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] == "row":
            continue
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
        for target in panel["targets"]:
            if target["datasource"]["type"] == "prometheus":
                used |= metric_names(target["expr"])
    others = NON_CLOUDWATCH | adapter_metric_names()
    assert used - others <= exported, used - others - exported
    cells = [(p["gridPos"]["x"] + dx, p["gridPos"]["y"] + dy) for p in panels
             for dx in range(p["gridPos"]["w"]) for dy in range(p["gridPos"]["h"])]
    assert len(cells) == len(set(cells)), "panels overlap"
    assert exported <= used  # every detection, the heartbeat and every exception's count have a panel


def test_no_mode_writes_the_webhook_url_and_adapter_config_is_the_catalog_view(rendered):
    stack = rendered["stack"]
    url = stack.settings.teams_webhook_url
    for mode in MODES:
        files = rendered[mode][1]
        if url:
            assert all(url not in text for text in files.values())
    assert F.ADAPTER_CONFIG_FILE not in rendered["native"][1]
    config = json.loads(rendered["adapter"][1][F.ADAPTER_CONFIG_FILE])
    assert config == adapter_config(stack)
    assert "webhook" not in json.dumps(config).lower() and "sig=" not in json.dumps(config)


def test_index_describes_every_rendered_file(rendered):
    for mode in MODES:
        files = rendered[mode][1]
        index = files[F.INDEX_FILE]
        for name in files:
            assert f"`{name}`" in index, name


def test_two_stacks_share_one_alertmanager_and_one_prometheus(tmp_path):
    """Both stacks' Alertmanager fragments in one config and both scrape jobs and rule files in one
    prometheus.yml: amtool and promtool accept them (a shared receiver or job name would be refused)."""
    alpha, beta = make_stack("alpha"), make_stack("beta")
    fragments = [yaml.safe_load(F.render_all(s, "adapter")[F.AM_FRAGMENT_FILE]) for s in (alpha, beta)]
    merged = tmp_path / "alertmanager.yml"
    merged.write_text(yaml.safe_dump(combined_config(fragments)))
    result = run_tool("amtool", "check-config", merged)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {r["name"] for r in yaml.safe_load(merged.read_text())["receivers"]} == {
        "default", "trailwatch-alpha-teams", "trailwatch-beta-teams"}
    # the same receiver twice is what amtool refuses (both stacks used one name before)
    clash = [dict(f, receivers=[dict(f["receivers"][0], name="trailwatch-teams")],
                  route=dict(f["route"], receiver="trailwatch-teams")) for f in fragments]
    (tmp_path / "clash.yml").write_text(yaml.safe_dump(combined_config(clash)))
    assert run_tool("amtool", "check-config", tmp_path / "clash.yml").returncode != 0
    jobs, rules = [], []
    for s in (alpha, beta):
        files = F.render_all(s, "adapter")
        jobs += yaml.safe_load(files[F.SCRAPE_FILE])["scrape_configs"]
        (tmp_path / f"rules-{s.name}.yml").write_text(files[F.RULES_FILE])
        rules.append(f"rules-{s.name}.yml")
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"rule_files": rules, "scrape_configs": jobs}))
    result = run_tool("promtool", "check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr
