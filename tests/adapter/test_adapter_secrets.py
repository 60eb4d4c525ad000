"""Try to leak the Workflows URL and the token: Teams down, Teams 4xx/5xx, Logs down, malformed input, debug
logging. Every response body and every log line is searched for the URL, its ``sig`` and the token."""

from __future__ import annotations

import json
import subprocess
import sys

from adapter_chain import REPO, TOKEN, AdapterProcess, ago, request, chain_config
from e2e.teams_standin import WORKFLOW_SIG, TeamsStandIn
from trailwatch.localrun import free_port

SIG = "leaktest-signature-do-not-print"


def payload(case: str) -> bytes:
    return json.dumps({
        "version": "4", "groupKey": f"{{}}:{{case=\"{case}\"}}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "trailwatch-teams", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://am", "alerts": [{
            "status": "firing", "labels": {"alertname": "TrailwatchRootUsage", "detection": "root_usage",
                                           "severity": "critical", "case": case},
            "annotations": {"summary": case}, "startsAt": ago(3).isoformat(), "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "", "fingerprint": f"{abs(hash(case)):016x}"[:16]}]}).encode()


def secrets_in(text: str, url: str) -> list[str]:
    return [s for s in (url, SIG, WORKFLOW_SIG, TOKEN, url.split("?")[0]) if s in text]


def test_nothing_leaks_when_everything_fails(tmp_path):
    dead_logs = f"http://127.0.0.1:{free_port()}"
    responses = []
    with TeamsStandIn() as teams:
        # A Workflows URL whose sig the stand-in rejects (401), on a host/port that will also go away.
        url = teams.workflow_url.replace(WORKFLOW_SIG, SIG)
        config = chain_config(delivery_budget_seconds=2)
        adapter = AdapterProcess(tmp_path / "a", url, dead_logs, config=config, log_level="debug").start()
        try:
            auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
            responses.append(request(adapter.url + "/alerts", payload("sig401"), auth))       # Teams 401
            good = AdapterProcess(tmp_path / "b", teams.workflow_url, dead_logs, config=config,
                                  log_level="debug").start()
            try:
                # Logs endpoint down: the card still goes out and says why the events are missing.
                assert request(good.url + "/alerts", payload("logs-down"), auth)[0] == 200
                (card,) = [d for d in teams.accepted("card") if "logs-down" in d.text]
                assert "Event details are missing: CloudWatch Logs could not be reached" in card.text
                # 4xx are final at once (one attempt each); 5xx is retried until the 2 s budget is spent,
                # so it goes last with more faults queued than attempts fit.
                for status, count in ((404, 1), (413, 1), (500, 50)):
                    teams.fail_next(count, status)
                    responses.append(request(good.url + "/alerts", payload(f"http{status}"), auth))
                teams.refuse_for(5)
                responses.append(request(good.url + "/alerts", payload("down"), auth))
                responses.append(request(good.url + "/alerts", b'{"version": "4", "groupKey": 1}', auth))
                responses.append(request(good.url + "/alerts", payload("x"), {"Authorization": "Bearer " + SIG}))
                responses.append(request(good.url + "/metrics"))
                logs_text = good.log()
            finally:
                good.stop()
            responses.append(request(adapter.url + "/metrics"))
        finally:
            adapter.stop()
        logs_text += adapter.log()
    statuses = [s for s, _ in responses]
    assert statuses[:5] == [502, 502, 502, 502, 502], statuses
    assert statuses[5:7] == [400, 401]
    bodies = "\n".join(b.decode(errors="replace") for _, b in responses)
    assert "http_401" in bodies and "http_404" in bodies and "http_500" in bodies and "unreachable" in bodies
    assert "CloudWatch Logs could not be reached" in logs_text  # the debug log ran and said something
    assert secrets_in(bodies, url) == [] and secrets_in(logs_text, url) == []
    assert secrets_in(bodies, teams.workflow_url) == [] and secrets_in(logs_text, teams.workflow_url) == []


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trailwatch.adapter", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=30)


def test_bad_files_exit_2_with_one_line_and_no_secret(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(chain_config()))
    url, token = tmp_path / "url", tmp_path / "token"
    url.write_text("http://teams.example.com/workflows/x?sig=" + SIG)  # plain http off loopback
    token.write_text(TOKEN)
    cases = [
        (["--config", str(tmp_path / "missing.json")], "cannot read"),
        (["--webhook-url-file", str(url)], "must hold one https URL"),
        (["--listen", "127.0.0.1:99999"], "--listen"),
    ]
    (tmp_path / "bad.json").write_text(json.dumps({**chain_config(), "detections": {"x": {
        "title": "t", "severity": "high", "pattern": "{ $.a = "}}}))
    cases.append((["--config", str(tmp_path / "bad.json")], "detections.x: field 'pattern'"))
    (tmp_path / "short").write_text("abc")
    cases.append((["--token-file", str(tmp_path / "short")], "at least 16"))
    good_url = tmp_path / "good-url"
    good_url.write_text("https://example.invalid/workflows?sig=" + SIG)
    for extra, words in cases:
        base = {"--config": str(config), "--webhook-url-file": str(good_url), "--token-file": str(token)}
        argv = []
        for flag, value in base.items():
            if flag not in extra:
                argv += [flag, value]
        result = run_cli(*argv, *extra)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], result.stderr
        assert SIG not in result.stderr and TOKEN not in result.stderr
