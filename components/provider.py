"""The component package other Pulumi languages use (``pulumi package add``): every component of the pipeline,
TrailToLogs, MetricFilterSet, CloudWatchExporter, TeamsAdapter and AlertRules.

Their arguments are plain data (or Outputs of it), so the SDK's analyzer can infer a schema from the annotations
and docstrings, and each component turns the dict of inputs the provider hands it into its Args class
(``components.args.args_of``).
"""

from pulumi.provider.experimental import component_provider_host

from trailwatch import __version__

from .alert_rules import AlertRules
from .cloudwatch_exporter import CloudWatchExporter
from .metric_filter_set import MetricFilterSet
from .teams_adapter import TeamsAdapter
from .trail_to_logs import TrailToLogs

PACKAGE = "trailwatch"
COMPONENTS = [TrailToLogs, MetricFilterSet, CloudWatchExporter, TeamsAdapter, AlertRules]


def main() -> None:
    """Serve the components as a provider (run by the Pulumi engine through ``provider/__main__.py``)."""
    component_provider_host(COMPONENTS, name=PACKAGE, version=__version__)
