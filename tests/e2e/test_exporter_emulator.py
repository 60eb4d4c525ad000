"""The cloudwatch_exporter emulator, pinned against the exporter facts in field notes section 5 (and the exporter's
source: CloudWatchCollector, GetMetricStatisticsDataGetter, simpleclient TextFormat 0.0.4). Manual clock, no
binaries except promtool's exposition linter."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from stacks import make_stack
from tools import run_tool

from trailwatch.localrun import (
    CONTENT_TYPE, ExporterConfigError, ExporterEmulator, FilterMetric, ManualClock, MetricRule, MetricStore,
    ReplayedMinutes, StackEmulation, Timeline, java_double, parse_exporter_config, parse_minute,
)
from trailwatch.naming import exporter_metric_name
from trailwatch.series import exported_name

T0 = 1_700_000_000  # a minute boundary
AD = FilterMetric("CloudTrailMetrics", "AccessDeniedCount", "access_denied")
HB = FilterMetric("CloudTrailMetrics", "CloudTrailEventCount", "cloudtrail_heartbeat", heartbeat=True)


def config(**metric) -> dict:
    rule = {"aws_namespace": "CloudTrailMetrics", "aws_metric_name": "AccessDeniedCount", "aws_statistics": ["Sum"],
            "delay_seconds": 600, "range_seconds": 600, "period_seconds": 60}
    rule.update(metric)
    return {"region": "us-east-1", "metrics": [{k: v for k, v in rule.items() if v is not None}]}


def emulator(cfg: dict | None = None, now: float = T0, filters=(AD, HB)) -> tuple[ExporterEmulator, MetricStore, ManualClock]:
    clock = ManualClock(now)
    store = MetricStore(filters, origin=T0 - 3600)
    return ExporterEmulator(cfg or config(), store, clock), store, clock


def samples(text: str) -> dict[str, str]:
    """{series name: the rest of its sample line}."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            out.setdefault(name, line[len(name):])
    return out


# -- names, labels, HELP/TYPE --------------------------------------------------------------------------------

@pytest.mark.parametrize("namespace, metric, statistic, expected", [
    ("CloudTrailMetrics", "AccessDeniedCount", "Sum", "cloudtrailmetrics_access_denied_count_sum"),
    ("CloudTrailMetrics", "SuspiciousIPCalls", "Sum", "cloudtrailmetrics_suspicious_ipcalls_sum"),
    ("AWS/ELB", "HTTPCode_Backend_2XX", "Average", "aws_elb_httpcode_backend_2_xx_average"),
    ("CloudTrailMetrics", "AccessDeniedCount", "SampleCount", "cloudtrailmetrics_access_denied_count_sample_count"),
])
def test_exported_names_follow_the_field_notes(namespace, metric, statistic, expected):
    rule = parse_exporter_config(config(aws_namespace=namespace, aws_metric_name=metric))[0]
    assert rule.exported_name(statistic) == expected == exporter_metric_name(namespace, metric, statistic)


def test_sample_line_help_type_labels_and_timestamp_exactly_as_the_exporter_writes_them():
    em, store, clock = emulator()
    store.record_minute(T0 - 660, events=7, matches={"access_denied": 3})
    text = em.render()
    assert ("# HELP cloudtrailmetrics_access_denied_count_sum CloudWatch metric CloudTrailMetrics AccessDeniedCount "
            "Dimensions: null Statistic: Sum Unit: None\n"
            "# TYPE cloudtrailmetrics_access_denied_count_sum gauge\n"
            f'cloudtrailmetrics_access_denied_count_sum{{job="cloudtrailmetrics",instance="",}} 3.0 {(T0 - 660) * 1000}\n'
            ) in text
    assert "# TYPE cloudwatch_exporter_scrape_error gauge\ncloudwatch_exporter_scrape_error 0.0\n" in text
    assert "# HELP aws_resource_info AWS information available for resource\n# TYPE aws_resource_info gauge\n" in text
    assert ('cloudwatch_requests_total{action="getMetricStatistics",namespace="CloudTrailMetrics",} 1.0\n') in text
    assert "# TYPE cloudwatch_requests_created gauge\n" in text


def test_set_timestamp_false_serves_without_a_timestamp():
    em, store, _ = emulator(config(set_timestamp=False))
    store.record_minute(T0 - 660, 1, {"access_denied": 1})
    assert samples(em.render())["cloudtrailmetrics_access_denied_count_sum"] == '{job="cloudtrailmetrics",instance="",} 1.0'


def test_defaults_match_the_exporter_period_60_range_600_delay_600_all_statistics_set_timestamp():
    (rule,) = parse_exporter_config({"metrics": [{"aws_namespace": "N", "aws_metric_name": "M"}]})
    assert rule == MetricRule("N", "M", ("Sum", "SampleCount", "Minimum", "Maximum", "Average"), None, 60, 600, 600,
                              True)
    em, store, _ = emulator({"metrics": [{"aws_namespace": "CloudTrailMetrics", "aws_metric_name": "AccessDeniedCount"}]})
    store.record_minute(T0 - 660, 4, {"access_denied": 1})
    got = samples(em.render())
    assert {n: got[n].split(" ")[1] for n in got if n.startswith("cloudtrailmetrics_")} == {
        "cloudtrailmetrics_access_denied_count_sum": "1.0",
        "cloudtrailmetrics_access_denied_count_sample_count": "4.0",
        "cloudtrailmetrics_access_denied_count_minimum": "0.0",
        "cloudtrailmetrics_access_denied_count_maximum": "1.0",
        "cloudtrailmetrics_access_denied_count_average": "0.25",
    }


# -- which datapoint is served ---------------------------------------------------------------------------------

def test_only_datapoints_older_than_the_delay_are_served():
    em, store, clock = emulator(config(delay_seconds=600))
    store.record_minute(T0, 1, {"access_denied": 1})
    for now, served in ((T0 + 599, False), (T0 + 600, False), (T0 + 600.5, True), (T0 + 700, True)):
        clock.set(now)
        assert ("cloudtrailmetrics_access_denied_count_sum" in samples(em.render())) is served, now


def test_only_the_newest_datapoint_in_the_range_is_served_and_nothing_older_than_delay_plus_range():
    em, store, clock = emulator(config(delay_seconds=600, range_seconds=600))
    store.record_minute(T0, 5, {"access_denied": 5})
    store.record_minute(T0 + 60, 2, {})
    clock.set(T0 + 601)
    assert samples(em.render())["cloudtrailmetrics_access_denied_count_sum"].endswith(f" 5.0 {T0 * 1000}")
    clock.set(T0 + 661)
    assert samples(em.render())["cloudtrailmetrics_access_denied_count_sum"].endswith(f" 0.0 {(T0 + 60) * 1000}")
    clock.set(T0 + 60 + 600 + 600 + 60)  # both older than delay + range (start is rounded down to the minute)
    assert "cloudtrailmetrics_access_denied_count_sum" not in em.render()


def test_no_datapoint_means_the_series_is_absent_not_zero():
    em, _, _ = emulator()
    text = em.render()
    assert "cloudtrailmetrics_access_denied_count_sum" not in text
    assert "cloudwatch_exporter_scrape_error 0.0" in text


def test_metric_filter_zeros_only_in_minutes_with_events():
    store = MetricStore([AD, HB], origin=T0)
    store.record_minute(T0, 10, {"access_denied": 2, "cloudtrail_heartbeat": 10})
    store.record_minute(T0 + 60, 4, {"cloudtrail_heartbeat": 4})
    points = store.get_metric_statistics("CloudTrailMetrics", "AccessDeniedCount", T0, T0 + 180)
    assert [(p.timestamp, p.sum, p.sample_count) for p in points] == [(T0, 2.0, 10.0), (T0 + 60, 0.0, 4.0)]
    background = MetricStore([AD, HB], origin=T0)
    background.steady_traffic(T0, 20)
    background.stop_traffic(T0 + 90)
    hb = background.get_metric_statistics("CloudTrailMetrics", "CloudTrailEventCount", T0 - 60, T0 + 600)
    assert [(p.timestamp, p.sum) for p in hb] == [(T0, 20.0), (T0 + 60, 20.0)]
    ad = background.get_metric_statistics("CloudTrailMetrics", "AccessDeniedCount", T0 - 60, T0 + 600)
    assert [p.sum for p in ad] == [0.0, 0.0]


def test_aws_dimensions_empty_lists_the_metric_only_with_data_in_the_last_three_hours():
    em, store, clock = emulator(config(aws_dimensions=[]))
    store.record_minute(T0, 1, {"access_denied": 1})
    clock.set(T0 + 700)
    text = em.render()
    assert "cloudtrailmetrics_access_denied_count_sum" in text
    assert 'cloudwatch_requests_total{action="listMetrics",namespace="CloudTrailMetrics",} 1.0' in text
    assert "Dimensions: [] Statistic: Sum" in text
    clock.set(T0 + 3 * 3600 + 1)
    text = em.render()
    assert 'action="getMetricStatistics"' in text and "cloudtrailmetrics_access_denied_count_sum{" not in text
    omitted, store2, clock2 = emulator(config())
    assert 'action="listMetrics"' not in omitted.render()


def test_a_failing_scrape_reports_scrape_error_and_serves_no_cloudwatch_series():
    em, store, clock = emulator()
    store.record_minute(T0 - 660, 1, {"access_denied": 1})
    em.fail_scrapes = True
    text = em.render()
    assert "cloudwatch_exporter_scrape_error 1.0" in text
    assert "cloudtrailmetrics_" not in text and "aws_resource_info" not in text


def test_config_errors():
    with pytest.raises(ExporterConfigError, match="Must provide metrics"):
        parse_exporter_config({"region": "us-east-1"})
    with pytest.raises(ExporterConfigError, match="aws_namespace and aws_metric_name"):
        parse_exporter_config({"metrics": [{"aws_namespace": "X"}]})
    with pytest.raises(ExporterConfigError, match="break the whole scrape"):
        parse_exporter_config({"metrics": [{"aws_namespace": "A", "aws_metric_name": "FooBar"},
                                           {"aws_namespace": "A", "aws_metric_name": "Foo_Bar"}]})
    with pytest.raises(ExporterConfigError, match="not emulated"):
        parse_exporter_config(config(aws_dimensions=["InstanceId"]))


@pytest.mark.parametrize("value, text", [
    (3.0, "3.0"), (0.0, "0.0"), (0.25, "0.25"), (25000.0, "25000.0"), (1e7, "1.0E7"), (12345678.0, "1.2345678E7"),
    (1764173293.123, "1.764173293123E9"), (0.0001, "1.0E-4"), (float("inf"), "+Inf"),
])
def test_values_are_written_as_java_double_to_string(value, text):
    assert java_double(value) == text


# -- against the rendered config, and what Prometheus' tooling says ---------------------------------------------

def test_rendered_exporter_config_serves_one_sum_series_per_detection(tmp_path):
    stack = make_stack(enableDetections=["access_denied"])
    emulation = StackEmulation(stack, clock=ManualClock(T0 + 1))
    text = emulation.exporter.render()
    served = {n for n in samples(text) if n.startswith("cloudtrailmetrics_")}
    assert served == {exported_name(stack, d) for d in stack.detections}
    (tmp_path / "metrics.txt").write_text(text)
    result = run_tool("promtool", "check", "metrics", stdin=open(tmp_path / "metrics.txt"))
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    # The only complaints are promtool's naming lint, which the real exporter's gauges trigger too.
    assert problems and all('should not have "_sum" suffix' in line for line in problems), problems


# -- timeline ----------------------------------------------------------------------------------------------------

def test_timeline_shifts_keeps_order_and_spacing_and_compresses_idle_gaps():
    minutes = ["2019-01-01T00:00", "2019-01-01T00:02", "2024-07-30T21:31"]
    kept = Timeline(minutes[:2], origin=T0)
    assert [kept.slot(m) for m in minutes[:2]] == [T0, T0 + 120]
    packed = Timeline(minutes, origin=T0, max_gap_periods=1)
    assert [packed.slot(m) for m in minutes] == [T0, T0 + 60, T0 + 120]


def test_replayed_minutes_from_counts_and_placement_in_the_store():
    replayed = ReplayedMinutes.from_counts({"2024-07-30T21:31": 12}, {"access_denied": {"2024-07-30T21:31": 3}})
    assert replayed.total_events == 12 and replayed.detections() == {"access_denied"}
    store = MetricStore([AD, HB], origin=T0)
    placed = Timeline(replayed.minutes, origin=T0 + 120).load(store, replayed)
    assert placed == {parse_minute("2024-07-30T21:31"): T0 + 120}
    (point,) = store.get_metric_statistics("CloudTrailMetrics", "AccessDeniedCount", T0, T0 + 600)
    assert (point.timestamp, point.sum, point.sample_count) == (T0 + 120, 3.0, 12.0)
    with pytest.raises(ValueError, match="not on the store's grid"):
        store.record_minute(T0 + 30, 1, {})


# -- HTTP --------------------------------------------------------------------------------------------------------

def test_http_endpoints_loopback_only_and_down_means_connection_refused():
    em, store, _ = emulator()
    with pytest.raises(ValueError, match="loopback"):
        ExporterEmulator(config(), store, host="0.0.0.0")
    em.start()
    try:
        with urllib.request.urlopen(em.url + "/metrics", timeout=5) as resp:
            assert resp.headers["Content-Type"] == CONTENT_TYPE
            assert b"cloudwatch_exporter_scrape_error" in resp.read()
        for path in ("/-/healthy", "/-/ready"):
            with urllib.request.urlopen(em.url + path, timeout=5) as resp:
                assert resp.read() == b"ok"
        request = urllib.request.Request(em.url + "/-/reload", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.status == 200
        port = em.port
        em.stop()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        em.start()
        assert em.port == port
        with urllib.request.urlopen(em.url + "/metrics", timeout=5) as resp:
            assert resp.status == 200
    finally:
        em.stop()


def test_stop_refuses_a_client_that_kept_its_connection_open():
    import http.client
    em, _, _ = emulator()
    em.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", em.port, timeout=5)
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        response.read()
        assert response.getheader("Connection") == "close"
        em.stop()
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            conn.request("GET", "/metrics")
            conn.getresponse().read()
    finally:
        em.stop()
