"""One local alert path: real Prometheus and Alertmanager, configured with exactly what ``render`` writes.

:class:`LocalPipeline` writes ``render_all(stack)`` to ``<workdir>/rendered/`` (the same files
``python -m trailwatch render --stack S --out DIR`` produces), then:

* ``prometheus.yml`` (written here: the rendered files are fragments for a Prometheus the user already has):
  ``global.scrape_interval`` and ``evaluation_interval`` = the stack's ``scrapeIntervalSeconds``,
  ``rule_files`` = the rendered rule file, ``alerting`` = the local Alertmanager, ``scrape_configs`` = the
  rendered exporter job (target replaced by the emulator's address) plus jobs scraping Alertmanager (the
  Teams-failure rule reads ``alertmanager_notifications_failed_total``) and Prometheus itself;
* Alertmanager runs the rendered ``alertmanager/alertmanager.yml`` unchanged. Native mode: the Teams URL is
  written to a private file that the config's ``webhook_url_file`` names; adapter mode: the webhook URL is
  the adapter URL passed to ``render``, and Alertmanager's bearer token for it is a fresh random token in a
  private file the config's ``credentials_file`` names (:attr:`LocalPipeline.adapter_token`).

Several stacks can share the one Prometheus and Alertmanager (``others``): each adds its rendered scrape job,
rule file and Alertmanager fragment, exactly as a team running N trailwatch stacks on one monitoring stack would.

Timings come only from the stack settings (the test and the latency script shorten them by building a stack
with other ``scrapeIntervalSeconds``, ``groupWaitSeconds``... exactly as a user would in Pulumi.<stack>.yaml).
Other rule or Alertmanager files (the original guide's) can be passed in instead of the rendered ones.

One rendered duration is CloudWatch time inside wall time: a tuned detection pages only on a difference that
holds :func:`trailwatch.readpath.exception_guard_seconds`, the metric filters' publishing latency plus two
scrape intervals. Where the emulated CloudWatch runs ``time_scale`` times faster than the wall clock, that
latency shrinks with it (:func:`scaled_rules`); otherwise a 30-minute window (30 s here) could never outlast a
guard of 62 s and no tuned detection would ever page. Every other line of the rule file stays as rendered.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from ..contract import ADAPTER_MODE, EXPORTER_SCRAPE_JOB, NATIVE_MODE, detection_alert_name
from ..readpath import FILTER_LATENCY_SECONDS, exception_guard_seconds
from ..render import (
    AM_EXAMPLE_FILE, AM_FRAGMENT_FILE, RULES_FILE, SCRAPE_FILE, combined_config, dump_yaml, duration, render_all,
)
from ..series import stack_selector
from ..stack import Stack, stack_excepted_filters
from .processes import Alertmanager, LocalRunError, Prometheus, free_port, wait_until

WEBHOOK_URL_FILE = "secrets/teams-webhook-url"
ADAPTER_TOKEN_FILE = "secrets/adapter-token"


def scaled_rules(stack: Stack, rules_text: str, time_scale: int) -> str:
    """The rendered rule file with each tuned detection's exception guard put on a CloudWatch that runs
    ``time_scale`` times faster: its filter-latency part divided by the scale (rounded up), its scrape part
    kept. LocalRunError if a tuned rule does not hold the guard exactly once (the rule's shape changed)."""
    tuned = {detection_alert_name(f.detection) for f in stack_excepted_filters(stack)}
    if time_scale == 1 or not tuned:
        return rules_text
    s = stack.settings
    step = duration(s.scrape_interval_seconds)
    shipped = exception_guard_seconds(s.scrape_interval_seconds)
    scaled = shipped - FILTER_LATENCY_SECONDS + math.ceil(FILTER_LATENCY_SECONDS / time_scale)
    old, new = f"[{duration(shipped)}:{step}]", f"[{duration(scaled)}:{step}]"
    rules = yaml.safe_load(rules_text)
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") in tuned:
                if rule["expr"].count(old) != 1:
                    raise LocalRunError(f"rule {rule['alert']}: no single exception guard {old} to scale")
                rule["expr"] = rule["expr"].replace(old, new)
    return dump_yaml(rules, f"As rendered, but the exception guard of tuned detections {old} -> {new}: "
                            f"CloudWatch runs {time_scale}x faster than the wall clock here.")


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


class LocalPipeline:
    """Prometheus + Alertmanager for one stack, reading an exporter at ``exporter_address`` and notifying
    ``teams_url`` (a Teams Workflows URL in native mode, the adapter's connector URL in adapter mode)."""

    def __init__(self, stack: Stack, workdir: Path, exporter_address: str, teams_url: str, *,
                 mode: str | None = None, account_id: str | None = None, rules_text: str | None = None,
                 alertmanager_text: str | None = None, external_labels: Mapping[str, str] | None = None,
                 name: str = "trailwatch", others: Sequence[tuple[Stack, str]] = (), time_scale: int = 1):
        self.stack = stack
        self.name = name
        self.workdir = Path(workdir)
        self.exporter_address = exporter_address
        self.mode = mode or stack.settings.teams_mode
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rendered_dir = self.workdir / "rendered"
        self.webhook_url_file = self.workdir / WEBHOOK_URL_FILE
        self.adapter_token_file = self.workdir / ADAPTER_TOKEN_FILE
        self.adapter_token = secrets.token_urlsafe(32)
        write_private(self.adapter_token_file, self.adapter_token + "\n")
        self.stacks = [(stack, exporter_address), *others]
        self.rendered = [render_all(each, self.mode, account_id=account_id,
                                    adapter_url=teams_url if self.mode == ADAPTER_MODE else None,
                                    webhook_url_file=str(self.webhook_url_file),
                                    adapter_token_file=str(self.adapter_token_file), exporter_target=address)
                         for each, address in self.stacks]
        self.files = self.rendered[0]
        for (each, _), files in zip(self.stacks, self.rendered):
            folder = self.rendered_dir if each is stack else self.workdir / f"rendered-{each.name}"
            for rel, text in files.items():
                path = folder / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        if self.mode == NATIVE_MODE:
            write_private(self.webhook_url_file, teams_url + "\n")
        self.rules_file = self.workdir / "rules.yml"
        self.rules_file.write_text(rules_text if rules_text is not None
                                   else scaled_rules(stack, self.files[RULES_FILE], time_scale))
        self.rule_files = [self.rules_file]
        for (each, _), files in list(zip(self.stacks, self.rendered))[1:]:
            extra = self.workdir / f"rules-{each.name}.yml"
            extra.write_text(scaled_rules(each, files[RULES_FILE], time_scale))
            self.rule_files.append(extra)
        self.alertmanager_file = self.workdir / "alertmanager.yml"
        if alertmanager_text is None and others:
            fragments = [yaml.safe_load(files[AM_FRAGMENT_FILE]) for files in self.rendered]
            alertmanager_text = dump_yaml(combined_config(fragments))
        self.alertmanager_file.write_text(alertmanager_text if alertmanager_text is not None
                                          else self.files[AM_EXAMPLE_FILE])
        self.alertmanager = Alertmanager(self.workdir / "alertmanager", self.alertmanager_file, port=free_port())
        self.prometheus_file = self.workdir / "prometheus.yml"
        self.external_labels = dict(external_labels or {})
        prometheus_port = free_port()
        self.prometheus_address = f"127.0.0.1:{prometheus_port}"
        self.write_prometheus_config()
        self.prometheus = Prometheus(self.workdir / "prometheus", self.prometheus_file, port=prometheus_port)

    def prometheus_config(self) -> dict[str, Any]:
        interval = duration(self.stack.settings.scrape_interval_seconds)
        rendered = [job for files in self.rendered for job in yaml.safe_load(files[SCRAPE_FILE])["scrape_configs"]]
        exporter_jobs = [job for job in rendered if job.get("job_name", "").startswith(EXPORTER_SCRAPE_JOB)]
        if len(exporter_jobs) != len(self.stacks):
            raise LocalRunError(f"rendered {SCRAPE_FILE} has no single '{EXPORTER_SCRAPE_JOB}-<stack>' job per stack")
        config: dict[str, Any] = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [str(path) for path in self.rule_files],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [self.alertmanager.address]}]}]},
            "scrape_configs": [
                *rendered,
                {"job_name": "alertmanager", "static_configs": [{"targets": [self.alertmanager.address]}]},
                {"job_name": "prometheus", "static_configs": [{"targets": [self.prometheus_address]}]},
            ],
        }
        if self.external_labels:
            config["global"]["external_labels"] = dict(self.external_labels)
        return config

    def write_prometheus_config(self) -> None:
        self.prometheus_file.write_text(yaml.safe_dump(self.prometheus_config(), sort_keys=False))

    def start(self, timeout: float = 30.0) -> "LocalPipeline":
        """Alertmanager first (Prometheus sends to it from its first evaluation), then Prometheus."""
        try:
            self.alertmanager.start(timeout)
            self.prometheus.start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_for_first_scrape(self, timeout: float = 60.0) -> None:
        """Until Prometheus has scraped every stack's exporter successfully once."""
        for stack, address in self.stacks:
            query = f"up{stack_selector(stack, job=EXPORTER_SCRAPE_JOB)} == 1"
            wait_until(lambda q=query: self.prometheus.query(q), timeout, 0.2, f"a successful scrape of {address}")

    def stop(self) -> None:
        for proc in (self.prometheus, self.alertmanager):
            proc.stop()

    def __enter__(self) -> "LocalPipeline":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
