"""Names cloudwatch_exporter gives CloudWatch metrics, so alert rules use exactly what the exporter serves.

The exporter builds ``safe(lower(namespace) + "_" + snake(metric)) + "_" + snake(statistic)``:
``lower`` only lower-cases the namespace, ``snake`` inserts ``_`` where a lower-case letter or digit is
followed by an upper-case letter, ``safe`` replaces everything outside ``[a-zA-Z0-9:_]`` with ``_`` and
collapses runs of ``_``. There is no ``aws_`` prefix unless the namespace starts with ``AWS/``.
"""

import re

_SNAKE = re.compile(r"([a-z0-9])([A-Z])")
_UNSAFE = re.compile(r"[^a-zA-Z0-9:_]")
_RUNS = re.compile(r"__+")

STATISTICS = ("Sum", "SampleCount", "Minimum", "Maximum", "Average")


def snake_case(name: str) -> str:
    return _SNAKE.sub(r"\1_\2", name).lower()


def safe_name(name: str) -> str:
    return _RUNS.sub("_", _UNSAFE.sub("_", name))


def exporter_metric_name(namespace: str, metric: str, statistic: str = "Sum") -> str:
    """The Prometheus series name cloudwatch_exporter exports for one CloudWatch metric and statistic."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {', '.join(STATISTICS)} (got {statistic!r})")
    return safe_name(f"{namespace.lower()}_{snake_case(metric)}") + "_" + snake_case(statistic)


def exporter_job(namespace: str) -> str:
    """The ``job`` label the exporter puts on the series (stored as ``exported_job`` by a default scrape)."""
    return safe_name(namespace.lower())
