"""Run the trailwatch alert path on one machine, without AWS: a local demo and the end-to-end tests' core.

What is real and what stands in:

* **Emulated** (clearly named so): CloudWatch's metric store (:mod:`.cloudwatch`, fed by ``replay``'s per-minute
  metric-filter counts) and cloudwatch_exporter (:class:`.exporter.ExporterEmulator`, serving ``/metrics``
  exactly as cloudwatch_exporter does for the rendered exporter config).
* **Real**: Prometheus and Alertmanager binaries (``make tools``), started on free loopback ports with
  temporary data directories, fed the files ``python -m trailwatch render`` produces (:mod:`.processes`,
  :mod:`.pipeline`).

Time: replayed CloudTrail minutes are placed on a :class:`.timeline.Timeline` that shifts (and optionally
compresses) the event timeline onto the emulator's clock, so the datapoints become readable in the recent
past, where Prometheus accepts samples with their own timestamps.
"""
