"""The README's generated tables: detections (with their alert names) from the catalog, the pipeline alerts
from the rule renderer's constants, settings from the settings table.

``python -m trailwatch.docs README.md`` rewrites the text between the markers; a test fails when the README
and these functions disagree, so the docs cannot drift from the catalog or the config schema.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .catalog import Detection, load_catalog
from .naming import exporter_metric_name
from .render.common import (
    ALERT_EXCEPTION_EXPIRED, ALERT_EXPORTER_DOWN, ALERT_HEARTBEAT_MISSING, ALERT_SCRAPE_ERRORS, ALERT_TEAMS_FAILING, PIPELINE_ALERTS,
    detection_alert_name,
)
from .settings import declared

MARKERS = {
    "detections": ("<!-- detections:begin -->", "<!-- detections:end -->"),
    "settings": ("<!-- settings:begin -->", "<!-- settings:end -->"),
    "pipeline-alerts": ("<!-- pipeline-alerts:begin -->", "<!-- pipeline-alerts:end -->"),
}
PIPELINE_ALERT_TEXT = {
    ALERT_HEARTBEAT_MISSING: "no CloudTrail record counted for `heartbeatMissingMinutes`: delivery to the log group "
                             "stopped",
    ALERT_EXPORTER_DOWN: "Prometheus cannot scrape cloudwatch_exporter",
    ALERT_SCRAPE_ERRORS: "cloudwatch_exporter's CloudWatch requests fail",
    ALERT_EXCEPTION_EXPIRED: ("a noise exception passed its `expires` date (one alert per exception, naming it, its "
                              "owner and its stack): it no longer hides anything; renew or remove it and redeploy"),
    ALERT_TEAMS_FAILING: ("notifications to Teams fail: adapter mode, this stack's adapter failed or refused one (or "
                          "Prometheus cannot scrape it); native mode, any msteamsv2 receiver of the Alertmanager "
                          "(its failure counter has no receiver label)"),
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def detection_table(catalog: list[Detection]) -> str:
    rows = ["| id | alert | severity | on by default | Security Hub / CIS | exported series |",
            "|---|---|---|---|---|---|"]
    for d in catalog:
        controls = ", ".join(filter(None, [d.security_hub_control, *(f"CIS {k} {v}" for k, v in list(d.cis.items())[-1:])]))
        rows.append(f"| `{d.id}` | `{alert_name(d)}` | {d.severity} | {'yes' if d.enabled else 'no'} | {controls or '-'} | "
                    f"`{exporter_metric_name(d.namespace or 'CloudTrailMetrics', d.metric)}` |")
    return "\n".join(rows)


def alert_name(det: Detection) -> str:
    """The ``alert:`` name the rule file gives a detection (the heartbeat alerts when its series is missing)."""
    return ALERT_HEARTBEAT_MISSING if det.heartbeat else detection_alert_name(det)


def pipeline_alert_table() -> str:
    rows = ["| alert | fires when |", "|---|---|"]
    rows += [f"| `{name}` | {PIPELINE_ALERT_TEXT[name]} |" for name in PIPELINE_ALERTS]
    return "\n".join(rows)


def alert_names(catalog: list[Detection]) -> set[str]:
    """Every alert name the rules can carry: one per catalog detection, plus the pipeline alerts."""
    return {alert_name(d) for d in catalog} | set(PIPELINE_ALERTS)


def settings_table() -> str:
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for f in declared():
        meta = f.metadata
        default = "(required)" if meta["default"] is None else ("(secret)" if meta["secret"] else
                                                               json.dumps(meta["default"]))
        rows.append(f"| `{meta['key']}` | {meta['kind']} | `{default}` | {_cell(meta['description'])} |")
    return "\n".join(rows)


def generated() -> dict[str, str]:
    return {"detections": detection_table(load_catalog()), "settings": settings_table(),
            "pipeline-alerts": pipeline_alert_table()}


def rewrite(text: str) -> str:
    for name, body in generated().items():
        begin, end = MARKERS[name]
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{body}\n{end}{tail}"
    return text


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(rewrite(path.read_text(encoding="utf-8")), encoding="utf-8")
