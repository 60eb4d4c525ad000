"""The Grafana data source the dashboard's Logs Insights panels query, as a provisioning document.

On Kubernetes, Grafana's datasource sidecar (kube-prometheus-stack) loads every ConfigMap labelled
``grafana_datasource: "1"`` as a provisioning file, so shipping this document in one gives the ``cloudwatch``
dashboard variable something to pick. It holds no credential: ``authType: default`` makes Grafana use the AWS
SDK's default chain (the pod's IRSA role, or the instance role), which needs ``logs:StartQuery``,
``logs:GetQueryResults``, ``logs:StopQuery``, ``logs:DescribeLogGroups`` and ``logs:GetLogEvents`` on the log
group. One data source per stack, named and identified after it, so two stacks in one Grafana do not replace
each other's.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ..stack import Stack
from .yaml_text import dump_yaml

#: Grafana's limit on a uid: at most 40 of letters, digits, '-' and '_'.
_UID_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_UID_MAX = 40
_DIGEST = 8


def grafana_uid(prefix: str, stack_name: str) -> str:
    """``<prefix><stack>`` as a Grafana uid; a stack name Grafana would refuse in one (a '.', or too long) is cut
    to fit and gets a digest of the whole name, so two such stacks still differ."""
    uid = f"{prefix}{stack_name}"
    if len(uid) <= _UID_MAX and not _UID_CHARS.search(uid):
        return uid
    digest = hashlib.sha256(stack_name.encode("utf-8")).hexdigest()[:_DIGEST]
    return f"{_UID_CHARS.sub('-', uid)[:_UID_MAX - _DIGEST - 1]}-{digest}"


def datasource_uid(stack_name: str) -> str:
    """``trailwatch-cw-<stack>`` (see :func:`grafana_uid`)."""
    return grafana_uid("trailwatch-cw-", stack_name)


def grafana_datasource(stack: Stack) -> dict[str, Any]:
    """The provisioning document (``apiVersion: 1``) declaring this stack's CloudWatch data source."""
    return {"apiVersion": 1, "datasources": [{
        "name": f"CloudWatch (trailwatch {stack.name})",
        "type": "cloudwatch",
        "uid": datasource_uid(stack.name),
        "jsonData": {"authType": "default", "defaultRegion": stack.settings.region},
    }]}


def render_grafana_datasource(stack: Stack) -> str:
    header = (f"Grafana data source for trailwatch stack {stack.name}: AWS credentials from the default chain "
              "(IRSA or instance role), none in here.")
    return dump_yaml(grafana_datasource(stack), header)
