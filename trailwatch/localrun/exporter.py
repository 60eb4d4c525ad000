"""cloudwatch_exporter EMULATOR: serves ``/metrics`` as prom/cloudwatch-exporter (v0.16+, simpleclient text
format 0.0.4) would for a given exporter config, reading an emulated CloudWatch (:class:`MetricStore`).

Not the real exporter: nothing here talks to AWS. What it reproduces, per scrape at clock time ``now``
(cloudwatch_exporter's ``GetMetricStatisticsDataGetter`` and ``CloudWatchCollector.scrape``):

* one GetMetricStatistics per configured metric over ``[now - delay - range, now - delay)`` with the
  configured ``period_seconds`` (start rounded down to the minute, end exclusive, :class:`MetricStore`): only
  data older than ``delay_seconds`` and already ingested is ever served;
* of the answer, only the NEWEST datapoint, one sample per requested statistic, named
  ``safe(lower(namespace) + "_" + snake(metric)) + suffix`` (``_sum``, ``_sample_count``, ``_minimum``,
  ``_maximum``, ``_average``), type gauge, HELP ``CloudWatch metric <ns> <metric> Dimensions: <dims>
  Statistic: <stat> Unit: <unit>``, labels ``job=safe(lower(namespace))`` and ``instance=""``;
* the datapoint's own time as the sample timestamp (milliseconds) when ``set_timestamp`` is true (default);
* no family at all for a metric without datapoints (absent, not 0);
* ``aws_dimensions`` omitted: no ListMetrics; ``aws_dimensions: []``: a ListMetrics call (RecentlyActive PT3H
  when ``range_seconds`` < 3 h) that lists the metric only if it had a datapoint in the last 3 hours;
* ``cloudwatch_exporter_scrape_duration_seconds``, ``cloudwatch_exporter_scrape_error`` (1 and no CloudWatch
  families when the scrape failed, or when CloudWatch refused a request), ``aws_resource_info`` (empty), ``cloudwatch_requests_total`` and
  ``cloudwatch_metrics_requested_total`` counters with their ``_created`` gauges, ``/-/healthy``,
  ``/-/ready``, ``/-/reload`` (POST).

Not reproduced: JVM metrics, tag selection, dimension lists, GetMetricData, extended statistics, credentials.
Two configured metrics normalizing to one name are refused at load (the real exporter breaks the scrape).
"""

from __future__ import annotations

import decimal
import math
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from ..naming import exporter_job, safe_name, snake_case
from .clock import Clock, SystemClock
from .cloudwatch import CloudWatchError, Datapoint, MetricStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATISTICS = ("Sum", "SampleCount", "Minimum", "Maximum", "Average")
SUFFIX = {"Sum": "_sum", "SampleCount": "_sample_count", "Minimum": "_minimum", "Maximum": "_maximum",
          "Average": "_average"}
RECENTLY_ACTIVE_SECONDS = 3 * 3600
EMULATOR_VERSION = "trailwatch-emulator"


class ExporterConfigError(ValueError):
    """An exporter config the emulator (or cloudwatch_exporter) cannot run."""


@dataclass(frozen=True)
class MetricRule:
    namespace: str
    metric_name: str
    statistics: tuple[str, ...]
    dimensions: tuple[str, ...] | None
    period_seconds: int
    range_seconds: int
    delay_seconds: int
    set_timestamp: bool
    help: str | None = None

    @property
    def base_name(self) -> str:
        return safe_name(self.namespace.lower() + "_" + snake_case(self.metric_name))

    @property
    def job(self) -> str:
        return exporter_job(self.namespace)

    def exported_name(self, statistic: str) -> str:
        return self.base_name + SUFFIX[statistic]


def parse_exporter_config(config: Mapping[str, Any] | str) -> list[MetricRule]:
    """The metric rules cloudwatch_exporter would build from ``config`` (YAML text or parsed), with its defaults."""
    if isinstance(config, str):
        config = yaml.safe_load(config) or {}
    if not isinstance(config, Mapping):
        raise ExporterConfigError("exporter config must be a mapping")
    if "metrics" not in config:
        raise ExporterConfigError("Must provide metrics")
    period = int(config.get("period_seconds", 60))
    range_ = int(config.get("range_seconds", 600))
    delay = int(config.get("delay_seconds", 600))
    set_ts = bool(config.get("set_timestamp", True))
    if config.get("use_get_metric_data"):
        raise ExporterConfigError("use_get_metric_data is not emulated")
    rules = []
    for i, raw in enumerate(config["metrics"] or []):
        where = f"metrics[{i}]"
        if not isinstance(raw, Mapping) or "aws_namespace" not in raw or "aws_metric_name" not in raw:
            raise ExporterConfigError(f"{where}: Must provide aws_namespace and aws_metric_name")
        for unsupported in ("aws_dimension_select", "aws_dimension_select_regex", "aws_tag_select",
                            "aws_extended_statistics", "use_get_metric_data"):
            if raw.get(unsupported):
                raise ExporterConfigError(f"{where}: {unsupported} is not emulated")
        dims = raw.get("aws_dimensions")
        if dims:
            raise ExporterConfigError(f"{where}: aws_dimensions with names is not emulated (metric-filter metrics "
                                      f"have no dimensions: omit the key)")
        stats = tuple(raw["aws_statistics"]) if "aws_statistics" in raw else STATISTICS
        for stat in stats:
            if stat not in STATISTICS:
                raise ExporterConfigError(f"{where}: unknown statistic {stat!r}")
        rules.append(MetricRule(
            namespace=str(raw["aws_namespace"]), metric_name=str(raw["aws_metric_name"]), statistics=stats,
            dimensions=None if "aws_dimensions" not in raw else tuple(dims or ()),
            period_seconds=int(raw.get("period_seconds", period)), range_seconds=int(raw.get("range_seconds", range_)),
            delay_seconds=int(raw.get("delay_seconds", delay)), set_timestamp=bool(raw.get("set_timestamp", set_ts)),
            help=raw.get("help"),
        ))
    seen: dict[str, MetricRule] = {}
    for rule in rules:
        for stat in rule.statistics:
            name = rule.exported_name(stat)
            if name in seen and seen[name] is not rule:
                raise ExporterConfigError(f"{rule.namespace}/{rule.metric_name} exports as {name}, like "
                                          f"{seen[name].namespace}/{seen[name].metric_name} (cloudwatch_exporter "
                                          f"would break the whole scrape)")
            seen[name] = rule
    return rules


def java_double(value: float) -> str:
    """``Double.toString`` as simpleclient writes sample values: ``3.0``, ``0.5``, ``1.0E7``, ``1.7E9``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        text = repr(float(value))
        return text if ("." in text or "e" in text) else text + ".0"
    sign, digits, exponent = decimal.Decimal(repr(float(value))).normalize().as_tuple()
    digits_text = "".join(map(str, digits))
    exp10 = len(digits_text) - 1 + exponent
    mantissa = digits_text[0] + "." + (digits_text[1:] or "0")
    return ("-" if sign else "") + f"{mantissa}E{exp10}"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _java_list(items: tuple[str, ...] | None) -> str:
    return "null" if items is None else "[" + ", ".join(items) + "]"


@dataclass
class _Family:
    name: str
    type: str
    help: str
    samples: list[tuple[str, list[tuple[str, str]], float, int | None]]


def _write(families: Iterable[_Family]) -> str:
    """simpleclient ``TextFormat.write004``: counters as ``<name>_total``, their ``_created`` samples moved into
    gauge families at the end, labels each followed by a comma."""
    out: list[str] = []
    created: dict[str, _Family] = {}
    for fam in families:
        name = fam.name + ("_total" if fam.type == "counter" else "")
        out.append(f"# HELP {name} {_escape_help(fam.help)}\n# TYPE {name} {fam.type}\n")
        for sample_name, labels, value, ts in fam.samples:
            if sample_name == fam.name + "_created":
                created.setdefault(sample_name, _Family(sample_name, "gauge", fam.help, [])).samples.append(
                    (sample_name, labels, value, ts))
                continue
            line = sample_name
            if labels:
                line += "{" + "".join(f'{k}="{_escape_label(v)}",' for k, v in labels) + "}"
            line += " " + java_double(value)
            if ts is not None:
                line += f" {ts}"
            out.append(line + "\n")
    if created:
        out.append(_write(sorted(created.values(), key=lambda f: f.name)))
    return "".join(out)


class _Counter:
    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...], clock: Clock):
        self.name, self.help, self.label_names, self.clock = name, help_text, label_names, clock
        self.children: dict[tuple[str, ...], list[float]] = {}

    def inc(self, *values: str) -> None:
        child = self.children.setdefault(values, [0.0, self.clock.now()])
        child[0] += 1

    def family(self) -> _Family:
        samples = []
        for values, (count, created) in self.children.items():
            labels = list(zip(self.label_names, values))
            samples.append((self.name + "_total", labels, count, None))
            samples.append((self.name + "_created", labels, created, None))
        return _Family(self.name, "counter", self.help, samples)


class ExporterEmulator:
    """An HTTP server on 127.0.0.1 that answers like cloudwatch_exporter for ``config`` (EMULATOR).

    ``config`` is the rendered exporter config (YAML text, parsed mapping, or a path: ``/-/reload`` re-reads a
    path). ``clock`` decides what "now" is for the CloudWatch reads; sample timestamps come from the datapoints.

    Controls for tests and demos: :meth:`start` / :meth:`stop` (exporter down: connections refused),
    :attr:`fail_scrapes` (CloudWatch errors: ``cloudwatch_exporter_scrape_error 1``), :meth:`fail_next` (only
    the next N scrapes fail). Observations:
    :attr:`served` (``{series name: [(clock time, value), ...]}``, every successful scrape), :attr:`scrapes`.
    """

    def __init__(self, config: Mapping[str, Any] | str | Path, store: MetricStore, clock: Clock | None = None,
                 host: str = "127.0.0.1", port: int = 0):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the exporter emulator only listens on loopback")
        self.config_path = Path(config) if isinstance(config, Path) else None
        self.rules = parse_exporter_config(self.config_path.read_text() if self.config_path else config)
        self.store = store
        self.clock = clock or SystemClock()
        self.host, self.port = host, port
        self.fail_scrapes = False
        self._failures_left = 0
        self.failed_scrapes = 0
        self.scrapes = 0
        self.served: dict[str, list[tuple[float, float]]] = {}
        self._requests = _Counter("cloudwatch_requests", "API requests made to CloudWatch", ("action", "namespace"),
                                  self.clock)
        self._requested = _Counter("cloudwatch_metrics_requested",
                                   "Metrics requested by either GetMetricStatistics or GetMetricData",
                                   ("metric_name", "namespace"), self.clock)
        self._tagging = _Counter("tagging_api_requests", "API requests made to the Resource Groups Tagging API",
                                 ("action", "resource_type"), self.clock)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def fail_next(self, scrapes: int) -> None:
        """The next ``scrapes`` scrapes fail as on a CloudWatch error (timeout, throttling)."""
        with self._lock:
            self._failures_left = int(scrapes)

    # -- exposition ----------------------------------------------------------------------------------------------

    def read_all(self, now: float) -> list[tuple[MetricRule, Datapoint | None]]:
        """What one successful scrape at clock time ``now`` reads: per configured metric, the datapoint the
        exporter exports (or None). Raises :class:`CloudWatchError` when CloudWatch refuses a request."""
        return [(rule, self._read(rule, now)) for rule in self.rules]

    def _read(self, rule: MetricRule, now: float) -> Datapoint | None:
        dimension_lists: list[tuple[str, ...]] = [()]
        if rule.dimensions is not None:  # aws_dimensions: [] -> ListMetrics
            self._requests.inc("listMetrics", rule.namespace)
            newest = self.store.newest_before(rule.namespace, rule.metric_name, now)
            recent = rule.range_seconds >= RECENTLY_ACTIVE_SECONDS or (
                newest is not None and newest.timestamp >= now - RECENTLY_ACTIVE_SECONDS)
            dimension_lists = [()] if newest is not None and recent else []
        point = None
        for _ in dimension_lists:
            end = now - rule.delay_seconds
            start = end - rule.range_seconds
            points = self.store.get_metric_statistics(rule.namespace, rule.metric_name, start, end,
                                                      rule.period_seconds, now)
            self._requests.inc("getMetricStatistics", rule.namespace)
            self._requested.inc(rule.metric_name, rule.namespace)
            point = max(points, key=lambda p: p.timestamp) if points else None
        return point

    def render(self) -> str:
        """The ``/metrics`` body for the clock's current time (records what it served)."""
        with self._lock:
            started = time.monotonic()
            now = self.clock.now()
            self.scrapes += 1
            families: list[_Family] = [_Family("cloudwatch_exporter_build_info", "gauge",
                                               "Non-zero if build info scrape failed.",
                                               [("cloudwatch_exporter_build_info",
                                                 [("build_version", EMULATOR_VERSION), ("release_date", "")],
                                                 1.0, None)])]
            error = 0.0
            served: list[tuple[str, float]] = []
            points = None
            failing = self.fail_scrapes or self._failures_left > 0
            if self._failures_left > 0:
                self._failures_left -= 1
            if failing:
                self.failed_scrapes += 1
            else:
                try:
                    points = self.read_all(now)
                except CloudWatchError:
                    points = None
            if points is None:
                error = 1.0
            else:
                for rule, point in points:
                    if point is None:
                        continue
                    labels = [("job", rule.job), ("instance", "")]
                    ts = point.timestamp * 1000 if rule.set_timestamp else None
                    for stat in STATISTICS:
                        if stat not in rule.statistics:
                            continue
                        name = rule.exported_name(stat)
                        help_text = rule.help or (f"CloudWatch metric {rule.namespace} {rule.metric_name} Dimensions: "
                                                  f"{_java_list(rule.dimensions)} Statistic: {stat} Unit: {point.unit}")
                        families.append(_Family(name, "gauge", help_text,
                                                [(name, labels, point.statistic(stat), ts)]))
                        served.append((name, point.statistic(stat)))
                families.append(_Family("aws_resource_info", "gauge", "AWS information available for resource", []))
            families.append(_Family("cloudwatch_exporter_scrape_duration_seconds", "gauge",
                                    "Time this CloudWatch scrape took, in seconds.",
                                    [("cloudwatch_exporter_scrape_duration_seconds", [],
                                      time.monotonic() - started, None)]))
            families.append(_Family("cloudwatch_exporter_scrape_error", "gauge", "Non-zero if this scrape failed.",
                                    [("cloudwatch_exporter_scrape_error", [], error, None)]))
            families += [self._requests.family(), self._requested.family(), self._tagging.family()]
            for name, value in served:
                self.served.setdefault(name, []).append((now, value))
            return _write(families)

    def reload(self) -> None:
        if self.config_path is not None:
            rules = parse_exporter_config(self.config_path.read_text())
            with self._lock:
                self.rules = rules

    # -- HTTP ----------------------------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> "ExporterEmulator":
        """Listen (on the same port as before after a :meth:`stop`)."""
        if self._server is not None:
            return self
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                # One request per connection: when the emulator stops, the next scrape is refused, as when the
                # exporter's process is gone (a kept-alive connection would outlive the listening socket here).
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, emulator.render(), CONTENT_TYPE)
                elif path in ("/-/healthy", "/-/ready"):
                    self._send(200, "ok")
                elif path == "/":
                    self._send(200, "cloudwatch_exporter EMULATOR (trailwatch.localrun): /metrics serves emulated "
                                    "CloudWatch data; nothing here talks to AWS.\n")
                else:
                    self._send(404, "not found\n")

            do_HEAD = do_GET

            def do_POST(self) -> None:  # noqa: N802
                if self.path.split("?", 1)[0] == "/-/reload":
                    try:
                        emulator.reload()
                    except (OSError, ValueError) as exc:
                        self._send(500, f"reload failed: {exc}\n")
                        return
                    self._send(200, "OK\n")
                else:
                    self._send(405, "method not allowed\n")

        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"exporter-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> "ExporterEmulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
