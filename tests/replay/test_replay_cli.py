"""`python -m trailwatch replay` on the bundled corpus: the documented JSON, with values derived by
reading the fixture events (times, principals, IPs), not from a previous run."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from replay_helpers import CORPUS_FILES, corpus_events, record, write_lines, write_s3
from trailwatch.cli import main
from trailwatch.replay.engine import Progress

ROOT = Path(__file__).resolve().parents[2]
STACK = """\
config:
  aws:region: us-east-1
  trailwatch:suspiciousIps: ["203.0.113.66", "198.51.100.*"]
  trailwatch:enableDetections: [suspicious_source_ips]
  trailwatch:detectionOverrides:
    unauthorized_api_calls:
      threshold: 5
"""
DETECTION_KEYS = {"matches", "first", "last", "peak_per_minute", "threshold", "alerts", "top_principals",
                  "top_source_ips", "top_event_names", "excepted", "pages"}


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    """The corpus as users would have it: S3 objects (some gzipped) and JSON lines, in nested folders."""
    base = tmp_path_factory.mktemp("corpus")
    (base / "Pulumi.replaytest.yaml").write_text(STACK)
    logs = base / "logs"
    for i, name in enumerate(CORPUS_FILES):
        events = corpus_events(name)
        stem = name.split(".")[0]
        if i % 2:
            write_lines(logs / "lines" / f"{stem}.jsonl", events)
        else:
            write_s3(logs / "s3" / stem / f"{stem}.json.gz", events, gz=True)
    return base


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trailwatch", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def corpus_doc(corpus_dir) -> dict:
    proc = run_cli("replay", "--stack", "replaytest", "--config-dir", str(corpus_dir), "--include-disabled",
                   "--format", "json", str(corpus_dir / "logs"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
    return json.loads(proc.stdout)


def test_document_structure(corpus_doc):
    assert set(corpus_doc) == {"events", "malformed", "window_minutes", "detections", "malformed_samples"}
    assert corpus_doc["window_minutes"] == 30
    dets = corpus_doc["detections"]
    assert len(dets) == 19  # 15 CIS + 2 guide (included although disabled) + suspicious IPs + heartbeat
    for ident, det in dets.items():
        assert DETECTION_KEYS <= set(det) <= DETECTION_KEYS | {"heartbeat", "top_counts_low_by_at_most"}, ident
        assert det["excepted"] == [] and det["pages"] == {"without_exceptions": len(det["alerts"]),
                                                          "with_exceptions": len(det["alerts"])}, ident
        for key in ("top_principals", "top_source_ips", "top_event_names"):
            assert all(isinstance(v, str) and isinstance(n, int) for v, n in det[key]), (ident, key)
        assert all(set(a) == {"start", "end"} and a["start"] < a["end"] for a in det["alerts"])
        if det["matches"]:
            assert det["first"].endswith(":00Z") and det["first"] <= det["last"]
        else:
            assert det["first"] is det["last"] is None and det["peak_per_minute"] == 0


def test_counts(corpus_doc):
    # 413 records; 6 have no usable time (Panther lines 9, 10, 11, 37, 149 lack eventTime; 144 says "redacted")
    assert (corpus_doc["events"], corpus_doc["malformed"]) == (407, 6)
    # the heartbeat: every record with an eventVersion; Panther 30, 137, 138 and 167 have a time but none
    assert corpus_doc["detections"]["cloudtrail_heartbeat"]["matches"] == 403
    assert corpus_doc["detections"]["cloudtrail_heartbeat"]["alerts"] == []
    assert corpus_doc["detections"]["cloudtrail_heartbeat"]["heartbeat"] is True


def test_cmk_detection_values(corpus_doc):
    # Panther lines 106, 107, 109, 110: DisableKey/ScheduleKeyDeletion, all 2019-01-01T00:00:00Z, same role/IP
    det = corpus_doc["detections"]["cmk_disable_or_deletion"]
    assert det["matches"] == 4 and det["peak_per_minute"] == 4
    assert det["first"] == det["last"] == "2019-01-01T00:00:00Z"
    assert det["alerts"] == [{"start": "2019-01-01T00:00:00Z", "end": "2019-01-01T00:40:00Z"}]  # + 30 min window + 10 min hold
    assert det["top_principals"] == [["arn:aws:sts::123456789012:assumed-role/tester", 4]]
    assert det["top_source_ips"] == [["111.111.111.111", 4]]
    assert det["top_event_names"] == [["DisableKey", 2], ["ScheduleKeyDeletion", 2]]


def test_organizations_detection_values(corpus_doc):
    # Panther 2 (2025-01-20 15:59:33, naive = UTC), TrailAlerts 67 (2025-03-09T16:39:48Z), Stratus 24
    # (2024-08-02T08:30:00Z): three LeaveOrganization calls far apart -> three alerts, each
    # ending 30 min (window) + 10 min (the rules' hold: 10 scrapes of 60 s) after its minute
    det = corpus_doc["detections"]["organizations_changes"]
    assert det["matches"] == 3 and det["peak_per_minute"] == 1
    assert (det["first"], det["last"]) == ("2024-08-02T08:30:00Z", "2025-03-09T16:39:00Z")
    assert det["alerts"] == [
        {"start": "2024-08-02T08:30:00Z", "end": "2024-08-02T09:10:00Z"},
        {"start": "2025-01-20T15:59:00Z", "end": "2025-01-20T16:39:00Z"},
        {"start": "2025-03-09T16:39:00Z", "end": "2025-03-09T17:19:00Z"},
    ]
    assert det["top_event_names"] == [["LeaveOrganization", 3]]
    assert det["top_source_ips"] == [["1.2.3.4", 2], ["252.5.222.230", 1]]


def test_suspicious_ip_detection_values(corpus_doc):
    # Panther 123: AddRoleToDBInstance from 198.51.100.50 (fits 198.51.100.*) at 2024-01-17T13:00:26Z
    det = corpus_doc["detections"]["suspicious_source_ips"]
    assert (det["matches"], det["first"], det["top_source_ips"]) == (1, "2024-01-17T13:00:00Z", [["198.51.100.50", 1]])


def test_threshold_five_on_the_stratus_detonations(corpus_dir, tmp_path):
    """unauthorized_api_calls with the stack's threshold 5, over the Stratus file alone. By reading:
    2024-07-30T21:31 has 8 (GetPasswordData lines 1-6, AssumeRole 8-9), 2024-07-31T19:52 has 8
    (DescribeInstanceAttribute 26-31, AssumeRole 32-33), 2024-08-01T11:30 and 2024-08-02T08:30 one each."""
    path = write_lines(tmp_path / "stratus.jsonl", corpus_events("stratus_detonation_logs.jsonl"))
    proc = run_cli("replay", "--stack", "replaytest", "--config-dir", str(corpus_dir), "--format", "json",
                   "--detection", "unauthorized_api_calls", str(path))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert list(doc["detections"]) == ["unauthorized_api_calls"]
    det = doc["detections"]["unauthorized_api_calls"]
    assert det["threshold"] == 5
    assert (det["matches"], det["peak_per_minute"], det["first"], det["last"]) == (
        18, 8, "2024-07-30T21:31:00Z", "2024-08-02T08:30:00Z")
    assert det["alerts"] == [{"start": "2024-07-30T21:31:00Z", "end": "2024-07-30T22:11:00Z"},
                             {"start": "2024-07-31T19:52:00Z", "end": "2024-07-31T20:32:00Z"}]
    assert det["top_event_names"] == [["DescribeInstanceAttribute", 6], ["GetPasswordData", 6], ["AssumeRole", 4],
                                      ["LeaveOrganization", 1], ["RunInstances", 1]]
    assert det["top_source_ips"] == [["200.249.253.51", 8], ["255.18.064.253", 8], ["06.237.252.245", 1],
                                     ["252.5.222.230", 1]]
    assert [n for _, n in det["top_principals"]] == [6, 6, 2, 2, 1]
    assert det["top_principals"][2] == ["arn:aws:iam::321848314756:user/christophe", 2]


def test_table_format_and_window_option(corpus_dir, capsys):
    rc = main(["replay", "--stack", "replaytest", "--config-dir", str(corpus_dir), "--window", "45",
               str(corpus_dir / "logs")])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.startswith("407 events, 6 malformed; alert window 45 min")
    assert "access_denied" not in out  # disabled in the stack, not requested
    assert "cmk_disable_or_deletion: 4 matches" in out
    assert "2019-01-01 00:00 -> 2019-01-01 00:55" in out


def test_errors_are_one_line_exit_2(corpus_dir, tmp_path, capsys):
    assert main(["replay", "--stack", "replaytest", "--config-dir", str(corpus_dir), str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err.strip().endswith("no such file or folder")
    assert main(["replay", "--stack", "replaytest", "--config-dir", str(corpus_dir), "--detection", "nope",
                 str(tmp_path)]) == 2
    assert "unknown detection" in capsys.readouterr().err
    assert main(["replay", "--stack", "missing", "--config-dir", str(corpus_dir), str(tmp_path)]) == 2


def test_progress_bar_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progress(1000, lambda: 250, lambda: 12345, stream=stream, delay=0)
        bar()
        bar.close()
    assert "25.0%" in tty.getvalue() and "12,345 events" in tty.getvalue()
    assert tty.getvalue().endswith("\r\x1b[K")  # cleared when done
    assert pipe.getvalue() == ""


def test_progress_bar_is_drawn_during_a_long_replay(tmp_path, monkeypatch):
    from trailwatch.replay import engine, replay_paths

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(engine, "CHECK_EVERY", 10)
    monkeypatch.setattr(engine, "PROGRESS_DELAY", 0)
    monkeypatch.setattr(engine, "PROGRESS_INTERVAL", 0)
    path = write_lines(tmp_path / "a.jsonl", [record(second=i % 60) for i in range(100)])
    tty = Tty()
    replay_paths([path], {"beat": '{ $.eventVersion = "*" }'}, progress=tty)
    assert "replay [" in tty.getvalue() and "MiB" in tty.getvalue()
