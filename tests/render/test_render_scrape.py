"""A real Prometheus scrapes an exporter stand-in through the rendered scrape config and rule file.

This checks the assumptions every other test builds on (field notes §5): with the default
``honor_labels: false`` the exporter's ``job`` label is stored as ``exported_job``, its empty ``instance`` is
replaced by the target's, the scrape adds ``trailwatch_stack`` and keeps the common ``job`` the rules select,
and a window sum of 1 makes the detection alert fire on the first evaluation, with no ``for:``. (Prometheus and the
stand-in are started by the ``scrape_run`` fixture in conftest.py.)
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

from trailwatch.contract import EXPORTER_SCRAPE_JOB

TIMEOUT = 30


def api(base: str, path: str, **params) -> dict:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{base}{path}?{query}", timeout=5) as response:
        return json.loads(response.read())["data"]


def test_prometheus_stores_exported_job_and_stack_and_fires_on_a_window_sum(scrape_run):
    base, proc, stack = scrape_run["url"], scrape_run["proc"], scrape_run["stack"]
    firing: dict = {}
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and "TrailwatchRootUsage" not in firing:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            firing = {a["labels"]["alertname"]: a for a in api(base, "/api/v1/alerts")["alerts"]
                      if a["state"] == "firing"}
        except OSError:
            pass
        time.sleep(0.2)
    assert "TrailwatchRootUsage" in firing, "the detection alert did not fire on a window sum of 1"
    # Heartbeat present (and held by for: before the first scrape), exporter up: nothing else fires.
    assert set(firing) == {"TrailwatchRootUsage"}, set(firing)
    assert firing["TrailwatchRootUsage"]["labels"]["detection"] == "root_usage"

    root = next(d for d in stack.detections if d.id == "root_usage")
    series = api(base, "/api/v1/series", **{"match[]": root.exported_name})
    assert series == [{"__name__": root.exported_name, "exported_job": "cloudtrailmetrics",
                       "instance": scrape_run["target"], "job": EXPORTER_SCRAPE_JOB,
                       "trailwatch_stack": stack.name}]
    up = api(base, "/api/v1/query", query=f'up{{job="{EXPORTER_SCRAPE_JOB}", trailwatch_stack="{stack.name}"}}')
    up = up["result"]
    assert [r["value"][1] for r in up] == ["1"]
