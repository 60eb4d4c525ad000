"""Session fixtures that start the slow external work once, up front, so it overlaps with the other tests.

``promtool test rules`` costs about a second of CPU per stack and mode, and a fresh Prometheus waits ~5 s
before its first scrape (target updates are throttled); both are started when the first render test runs
and collected by the tests that need them.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml
from render_support import STACKS, free_port, serve_text, unit_test_modes, write_files
from tools import tool_path

from trailwatch.naming import exporter_job
from trailwatch.render import files as F
from trailwatch.contract import EXPORTER_SCRAPE_JOB, TEAMS_MODES as MODES
from trailwatch.stack import load_stack


@pytest.fixture(scope="session")
def rendered_stacks(tmp_path_factory):
    """Every stack rendered in both modes, with its ``promtool test rules`` runs started in parallel."""
    out: dict = {}
    for name, stack in STACKS.items():
        entry = out[name] = {"stack": stack, "runs": {}}
        for mode in MODES:
            root = tmp_path_factory.mktemp(f"{name}-{mode}")
            secret = root / "secrets" / "teams-url"
            secret.parent.mkdir()
            secret.write_text("https://example.invalid/workflows?sig=placeholder\n")
            files = F.render_all(stack, mode, webhook_url_file=str(secret), account_id="123456789012")
            write_files(root, files)
            entry[mode] = (root, files)
    for name, entry in out.items():
        for mode in unit_test_modes(name, entry["stack"]):
            tests = [str(entry[mode][0] / f) for f in (F.RULE_TESTS_FILE, F.EXPIRY_TESTS_FILE) if f in entry[mode][1]]
            command = [tool_path("promtool"), "test", "rules", *tests]
            entry["runs"][mode] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                   text=True)
    yield out
    for entry in out.values():
        for run in entry["runs"].values():
            if run.poll() is None:
                run.kill()
            run.communicate()


def exposition(stack, counts: dict[str, float]) -> str:
    """What cloudwatch_exporter serves for trailwatch's config: gauges with its job/instance labels and no
    timestamp (``set_timestamp: false``: Prometheus stamps them with the scrape time)."""
    lines = []
    for det in stack.detections:
        name = det.exported_name
        lines += [f"# HELP {name} CloudWatch metric {det.namespace} {det.metric} Dimensions: [] Statistic: Sum",
                  f"# TYPE {name} gauge",
                  f'{name}{{job="{exporter_job(det.namespace)}",instance="",}} {counts.get(det.id, 0.0)}']
    lines += ["# TYPE cloudwatch_exporter_scrape_error gauge", "cloudwatch_exporter_scrape_error 0.0",
              "# TYPE cloudwatch_exporter_scrape_duration_seconds gauge",
              "cloudwatch_exporter_scrape_duration_seconds 0.2"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def scrape_run(tmp_path_factory):
    """A real Prometheus scraping an exporter stand-in (window sums: root_usage 1 event, heartbeat 42 records)
    through the rendered scrape config, evaluating the rendered rules."""
    root = tmp_path_factory.mktemp("scrape")
    stack = load_stack("dev")
    exporter = serve_text(exposition(stack, {"root_usage": 1.0, "cloudtrail_heartbeat": 42.0}))
    target = f"127.0.0.1:{exporter.server_address[1]}"
    files = F.render_all(stack, exporter_target=target)
    (root / "rules.yml").write_text(files[F.RULES_FILE])
    # Only the exporter's job: no adapter runs here, and its `up == 0` would fire the Teams-failing alert 5 min
    # after the start, whenever this session's other tests keep the scrape test waiting that long.
    scrape = [job for job in yaml.safe_load(files[F.SCRAPE_FILE])["scrape_configs"]
              if job["job_name"] == f"{EXPORTER_SCRAPE_JOB}-{stack.name}"]
    scrape[0].update(scrape_interval="1s", scrape_timeout="1s")  # the test cannot wait a minute per scrape
    (root / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(root / "rules.yml")], "scrape_configs": scrape}))
    port = free_port()
    proc = subprocess.Popen([tool_path("prometheus"), f"--config.file={root / 'prometheus.yml'}",
                             f"--storage.tsdb.path={root / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                             "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    yield {"stack": stack, "target": target, "url": f"http://127.0.0.1:{port}", "proc": proc}
    proc.kill()
    proc.wait()
    exporter.shutdown()
    exporter.server_close()


@pytest.fixture(scope="session", autouse=True)
def _start_slow_work_first(rendered_stacks, scrape_run):
    """Instantiate the slow fixtures at the first render test so they overlap with everything else."""
