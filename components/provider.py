"""The component package other Pulumi languages use (``pulumi package add``): TrailToLogs and MetricFilterSet.

Their arguments are plain data, so the SDK's analyzer can infer a schema from the annotations and docstrings.
The other three components take this repository's rendered documents and validated stack, which only the
Python program has; they stay Python-only.
"""

from pulumi.provider.experimental import component_provider_host

from trailwatch import __version__

from .metric_filter_set import MetricFilterSet
from .trail_to_logs import TrailToLogs

PACKAGE = "trailwatch"
COMPONENTS = [TrailToLogs, MetricFilterSet]


def main() -> None:
    """Serve the components as a provider (run by the Pulumi engine through ``provider/__main__.py``)."""
    component_provider_host(COMPONENTS, name=PACKAGE, version=__version__)
