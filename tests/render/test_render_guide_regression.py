"""Regression: the original guide's alert can never fire; ours fires on the same input.

The guide used ``sum(rate(aws_cloudwatch_CloudTrailMetrics_AccessDeniedCount_sum[5m])) > 0``. Three faults:

* Wrong name. cloudwatch_exporter exports ``cloudtrailmetrics_access_denied_count_sum`` (lower-cased
  namespace, snake-cased metric, no ``aws_`` prefix for non-``AWS/`` namespaces). The guide's selector
  matches nothing, so the rule is silent forever; promtool proves it below on the realistic series.
* Wrong function. The series is a gauge (the Sum of one CloudWatch period), not a counter. ``rate()``
  needs two samples in its window; a metric filter without ``default_value`` yields one sample per event
  minute, so even under the right name ``rate()`` returns nothing (second test).
* Wrong window. Samples are stamped with CloudWatch's time and reach Prometheus ``delay_seconds`` (10 min)
  later, so at any moment the newest sample is older than 5 minutes and a ``[5m]`` window is always empty
  in real time. (promtool holds every sample from the start, so it cannot show this one; our rule's window
  is validated to exceed delay + scrape instead.)

Realistic series: the exporter's real name and labels as trailwatch's scrape stores them, one sample per
scrape holding the window sum trailwatch's exporter config reads (one AccessDenied event at minute 5 stays in
the sum for the alert window). The second test uses the guide's own exporter setup: one sample per event minute.
"""

from __future__ import annotations

import yaml
from stacks import make_stack
from tools import run_tool

from trailwatch.render.promtests import detection_series_labels, eval_times, event_values, selector
from trailwatch.render.rules import detection_annotations, detection_labels, render_rules

GUIDE_EXPR = "sum(rate(aws_cloudwatch_CloudTrailMetrics_AccessDeniedCount_sum[5m])) > 0"
RIGHT_NAME_STILL_RATE = "sum(rate(cloudtrailmetrics_access_denied_count_sum[5m])) > 0"
CHECK_MINUTES = (5, 6, 8, 10, 15, 16, 20, 25, 30, 34, 45, 60)


def guide_rules() -> str:
    return yaml.safe_dump({"groups": [{"name": "guide", "rules": [
        {"alert": "GuideAccessDenied", "expr": GUIDE_EXPR},
        {"alert": "GuideWithTheRightName", "expr": RIGHT_NAME_STILL_RATE},
    ]}]})


def run(tmp_path, tests: list[dict]) -> None:
    stack = make_stack(enableDetections=["access_denied"])
    (tmp_path / "guide.yml").write_text(guide_rules())
    (tmp_path / "ours.yml").write_text(render_rules(stack))
    (tmp_path / "test.yml").write_text(yaml.safe_dump(
        {"rule_files": ["guide.yml", "ours.yml"], "evaluation_interval": "1m", "tests": tests}))
    result = run_tool("promtool", "test", "rules", tmp_path / "test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def access_denied():
    stack = make_stack(enableDetections=["access_denied"])
    det = next(d for d in stack.detections if d.id == "access_denied")
    series = selector(det.exported_name, detection_series_labels(stack, det))
    ours = {"exp_labels": detection_labels(stack, det),
            "exp_annotations": detection_annotations(stack, det, "1", template=False)}
    return stack, series, ours


def test_guide_rule_never_fires_where_ours_does(tmp_path):
    stack, series, ours = access_denied()
    times = eval_times(stack.settings)
    checks = [{"eval_time": f"{m}m", "alertname": "GuideAccessDenied", "exp_alerts": []} for m in CHECK_MINUTES]
    checks.append({"eval_time": f"{times.firing}m", "alertname": "TrailwatchAccessDenied", "exp_alerts": [ours]})
    run(tmp_path, [{"interval": "1m", "input_series": [{"series": series, "values": event_values(times, 1, stack.settings.alert_window_minutes)}],
                    "alert_rule_test": checks}])


def test_rate_never_fires_even_with_the_right_name_on_a_sparse_gauge(tmp_path):
    stack, series, ours = access_denied()
    times = eval_times(stack.settings)
    checks = [{"eval_time": f"{m}m", "alertname": "GuideWithTheRightName", "exp_alerts": []}
              for m in CHECK_MINUTES]
    checks.append({"eval_time": f"{times.firing}m", "alertname": "TrailwatchAccessDenied", "exp_alerts": [ours]})
    run(tmp_path, [{"interval": "1m", "input_series": [{"series": series, "values": f"_x{times.event} 1"}],
                    "alert_rule_test": checks}])
