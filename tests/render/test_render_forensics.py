"""Forensics in Grafana: a Logs Insights panel per enabled detection in a collapsed row, over a CloudWatch data
source chosen by a dashboard variable, and the provisioning document for that data source."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from stacks import make_stack

from trailwatch.paths import PROJECT_ROOT
from trailwatch.render.dashboard import FORENSICS_ROW, dashboard
from trailwatch.render.files import DASHBOARD_FILE, render_all
from trailwatch.render.grafana_datasource import datasource_uid, grafana_datasource, render_grafana_datasource
from trailwatch.render.insights import default_query, query_for
from trailwatch.render.rules import rule_groups
from trailwatch.stack import secret_pattern_ids

LOG_GROUP = "/org/cloudtrail/all-accounts"
HOSTILE = ('fields @timestamp | filter eventName = "x\\"}],"type":"text","title":"owned"\n'
           '| filter userAgent like /\\\\/ and a = \'\u2028\' </script>\r\n| limit 5')
CUSTOM = [
    {"id": "break_glass", "title": "Break-glass role used", "severity": "critical", "metric": "BreakGlassUse",
     "pattern": '{ $.userIdentity.arn = "*break-glass*" }', "description": "d", "runbook": "r",
     "insights_query": "fields @timestamp, userIdentity.arn | filter userIdentity.arn like /break-glass/"},
    {"id": "hostile_query", "title": "Hostile query", "severity": "warning", "metric": "HostileQuery",
     "pattern": '{ $.eventName = "Nothing" }', "description": "d", "runbook": "r", "insights_query": HOSTILE},
    {"id": "no_query", "title": "No own query", "severity": "warning", "metric": "NoQuery",
     "pattern": '{ $.eventName = "DeleteTrail" }', "description": "d", "runbook": "r"},
]
CUSTOMIZED = dict(customDetections=CUSTOM, enableDetections=["access_denied"], disableDetections=["vpc_changes"],
                  existingLogGroupName=LOG_GROUP, **{"aws:region": "eu-west-2"})


@pytest.fixture(scope="module")
def customized():
    return make_stack("forensics", **CUSTOMIZED)


def forensics(board: dict) -> dict:
    rows = [p for p in board["panels"] if p["type"] == "row" and p["title"] == FORENSICS_ROW]
    assert len(rows) == 1
    return rows[0]


def insights_panels(board: dict) -> dict[str, dict]:
    """Detection id -> its Logs Insights panel (each panel has exactly one target, refId = detection id)."""
    panels = forensics(board)["panels"]
    assert all(len(p["targets"]) == 1 for p in panels)
    by_id = {p["targets"][0]["refId"]: p for p in panels}
    assert len(by_id) == len(panels)
    return by_id


def catalog() -> list[dict]:
    """The catalog as written, read from the YAML file rather than through the code under test."""
    return yaml.safe_load((PROJECT_ROOT / "configs" / "detections.yaml").read_text(encoding="utf-8"))["detections"]


def test_one_panel_per_enabled_detection_with_the_insights_query(customized):
    panels = insights_panels(dashboard(customized))
    assert list(panels) == [d.id for d in customized.detections]
    assert {"access_denied", "break_glass", "hostile_query", "no_query", "cloudtrail_heartbeat"} <= set(panels)
    assert "vpc_changes" not in panels  # disabled by the stack
    default_off = {d["id"] for d in catalog() if d.get("enabled") is False} - {"access_denied"}
    assert default_off and not default_off & set(panels)
    for det in customized.detections:
        panel = panels[det.id]
        assert panel["type"] == "table" and det.title in panel["title"]
        assert panel["targets"][0]["expression"] == query_for(det)
    assert panels["access_denied"]["targets"][0]["expression"] == next(
        d["insights_query"] for d in catalog() if d["id"] == "access_denied")
    assert panels["break_glass"]["targets"][0]["expression"] == CUSTOM[0]["insights_query"]
    no_query = next(d for d in customized.detections if d.id == "no_query")
    assert panels["no_query"]["targets"][0]["expression"] == default_query(no_query)
    assert 'eventName = "DeleteTrail"' in panels["no_query"]["targets"][0]["expression"]


def test_targets_are_logs_queries_on_the_stacks_log_group_and_region(customized):
    for stack, group, region in ((customized, LOG_GROUP, "eu-west-2"),
                                 (make_stack("plain"), "/aws/cloudtrail/trailwatch-plain", "us-east-1")):
        for panel in insights_panels(dashboard(stack)).values():
            target = panel["targets"][0]
            assert target["queryMode"] == "Logs" and target["id"] == "" and target["statsGroups"] == []
            assert target["region"] == region and target["logGroupNames"] == [group]


def test_the_cloudwatch_variable_exists_and_the_insights_panels_use_it(customized):
    board = dashboard(customized)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    refs = set()
    for panel in forensics(board)["panels"]:
        for source in (panel["datasource"], panel["targets"][0]["datasource"]):
            assert source["type"] == "cloudwatch"
            refs.add(source["uid"])
    assert len(refs) == 1
    name = re.fullmatch(r"\$\{(\w+)\}", refs.pop()).group(1)
    assert variables[name]["type"] == "datasource" and variables[name]["query"] == "cloudwatch"
    prometheus = [p for p in board["panels"] if p["type"] != "row"]
    assert prometheus and all(p["datasource"]["uid"] == "${datasource}" for p in prometheus)
    assert variables["datasource"]["query"] == "prometheus"


def test_the_row_is_collapsed_below_everything_else(customized):
    board = dashboard(customized)
    row = forensics(board)
    assert row["collapsed"] is True and board["panels"][-1] is row
    others = board["panels"][:-1]
    assert row["gridPos"]["y"] == max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in others)
    assert all(p["gridPos"]["y"] > row["gridPos"]["y"] for p in row["panels"])
    ids = [p["id"] for p in board["panels"]] + [p["id"] for p in row["panels"]]
    assert len(ids) == len(set(ids))


def test_a_hostile_query_stays_one_string_value(customized):
    text = render_all(customized)[DASHBOARD_FILE]
    assert '"}],"type":"text"' not in text and "\u2028" not in text
    board = json.loads(text)
    panel = insights_panels(board)["hostile_query"]
    assert panel["targets"][0]["expression"] == HOSTILE
    assert panel["type"] == "table" and panel["title"] == "Logs Insights: Hostile query"
    assert set(panel) == set(insights_panels(board)["break_glass"])
    assert set(panel["targets"][0]) == set(insights_panels(board)["break_glass"]["targets"][0])
    every = [p for top in board["panels"] for p in (top, *top.get("panels", []))]
    assert not [p for p in every if p["type"] == "text" or p["title"] == "owned"]
    assert board == dashboard(customized)


def test_a_pattern_built_from_a_secret_stays_out_of_the_dashboard():
    secret_ips = {"secure": "v1:encrypted"}  # offline, a secure value becomes a documentation address
    custom = [{"id": "bad_ips", "title": "Bad IPs", "severity": "high", "metric": "BadIps",
               "pattern_from": "suspicious_ips", "description": "d", "runbook": "r"}]
    secret = make_stack("forensics", suspiciousIps=secret_ips, customDetections=custom)
    plain = make_stack("forensics", suspiciousIps=["192.0.2.254"], customDetections=custom)
    assert "bad_ips" in secret_pattern_ids(secret) and "bad_ips" not in secret_pattern_ids(plain)
    address = json.loads(secret.config["trailwatch:suspiciousIps"])[0]
    assert address == "192.0.2.254"
    assert address in insights_panels(dashboard(plain))["bad_ips"]["targets"][0]["expression"]
    board = dashboard(secret)
    assert "bad_ips" in insights_panels(board)
    assert address not in json.dumps(board)
    # Nor in the alert's Logs Insights link (a rule annotation: the PrometheusRule is no secret either).
    assert address in json.dumps(rule_groups(plain)) and address not in json.dumps(rule_groups(secret))


def test_datasource_document_is_yaml_for_the_grafana_sidecar():
    stack = make_stack("prod", **{"aws:region": "ap-southeast-2"})
    text = render_grafana_datasource(stack)
    doc = yaml.safe_load(text)
    assert doc == grafana_datasource(stack)
    assert doc == {"apiVersion": 1, "datasources": [{
        "name": "CloudWatch (trailwatch prod)", "type": "cloudwatch", "uid": "trailwatch-cw-prod",
        "jsonData": {"authType": "default", "defaultRegion": "ap-southeast-2"}}]}
    assert not re.search(r"(?i)secure|accesskey|secretkey|password|token", text)


@pytest.mark.parametrize("uid_of", [datasource_uid, lambda name: dashboard(make_stack(name=name))["uid"]],
                         ids=["datasource", "dashboard"])
def test_grafana_uids_stay_valid_and_apart_for_awkward_stack_names(uid_of):
    names = ["a.b", "a-b", "a_b", "x" * 60, "x" * 59 + "y"]
    uids = [uid_of(name) for name in names]
    assert len(set(uids)) == len(uids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid) for uid in uids), uids
